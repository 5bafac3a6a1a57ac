// Test access to the real API server started by test/run.ts: a client and a fresh namespace per test.
import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { testEnv } from "./env.ts";

export function testKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testEnv().kubeconfig);
  return kc;
}

/** Creates a namespace for one test and deletes it when the test ends. */
export async function newNamespace(t: Pick<TestContext, "after">, prefix = "t"): Promise<string> {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  t.after(async () => {
    await core.deleteNamespace({ name }).catch((err: unknown) => {
      process.stderr.write(`warn: deleting namespace ${name} failed: ${String(err)}\n`);
    });
  });
  return name;
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
