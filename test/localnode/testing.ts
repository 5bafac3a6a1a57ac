// Shared by the tests that run Jobs on the local node: a namespace with a local node, a Job
// whose pod runs the runner, and waiting for the Job controller's verdict.
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { TestContext } from "node:test";
import type { RunPlanInput } from "../../operator/runner/plan.ts";
import { testEnv } from "../support/env.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { startLocalNode } from "./node.ts";

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * Runs a local node for namespace `ns` until the test ends (its log becomes a diagnostic) and
 * waits for the namespace's default ServiceAccount, without which the Job controller cannot
 * create pods.
 */
export async function runLocalNodeIn(t: TestContext, ns: string, logLines = 40): Promise<void> {
  const core = testKubeConfig().makeApiClient(k8s.CoreV1Api);
  const logs: string[] = [];
  const node = await startLocalNode({
    kubeconfig: testEnv().kubeconfig,
    namespace: ns,
    log: (l) => logs.push(l),
  });
  t.after(() => node.stop());
  t.after(() => t.diagnostic(`local node log:\n${logs.slice(-logLines).join("\n")}`));
  await eventually("default ServiceAccount", async () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: ns }).then(
      () => true,
      () => undefined,
    ),
  );
}

export async function setupLocalNode(t: TestContext) {
  const ns = await newNamespace(t);
  const kc = testKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  await runLocalNodeIn(t, ns);
  const dir = await mkdtemp(join(tmpdir(), "localnode-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { ns, core, batch, dir };
}

export function runnerJob(
  name: string,
  plan: RunPlanInput,
  extra: {
    env?: k8s.V1EnvVar[];
    volumes?: k8s.V1Volume[];
    mounts?: k8s.V1VolumeMount[];
    deadline?: number;
  } = {},
): k8s.V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...(extra.deadline ? { activeDeadlineSeconds: extra.deadline } : {}),
      template: {
        metadata: { labels: { "ipsolis.io/runner": "true" } },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          volumes: extra.volumes ?? [],
          containers: [
            {
              name: "runner",
              image: "registry.example.com/ipsolis/runner:test",
              env: [{ name: "IPSOLIS_PLAN", value: JSON.stringify(plan) }, ...(extra.env ?? [])],
              volumeMounts: extra.mounts ?? [],
            },
          ],
        },
      },
    },
  };
}

export async function jobCondition(
  batch: k8s.BatchV1Api,
  ns: string,
  name: string,
  type: "Complete" | "Failed",
) {
  return eventually(
    `Job ${name} ${type}`,
    async () => {
      const j = await batch.readNamespacedJob({ name, namespace: ns });
      return j.status?.conditions?.find((c) => c.type === type && c.status === "True");
    },
    30_000,
  );
}
