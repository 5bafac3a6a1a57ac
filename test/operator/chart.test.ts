// The operator Role in the chart is the one manifests/operator/rbac.yaml ships (and rbac.test.ts
// proves sufficient); the manifests' Deployment sets the settings its process reads. The chart
// rendered by helm itself is tested in test/install/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { z } from "zod";

const root = join(import.meta.dirname, "..", "..");
const chart = join(root, "charts", "ipsolis");

test("the chart's operator Role grants exactly what manifests/operator/rbac.yaml grants", async () => {
  const plain = parseAllDocuments(await readFile(join(root, "manifests", "operator", "rbac.yaml"), "utf8"))
    .map((d) => d.toJS() as { kind: string; rules?: unknown })
    .find((d) => d.kind === "Role");
  // Strip the template lines (labels) so the rest parses as YAML.
  const text = (await readFile(join(chart, "templates", "operator.yaml"), "utf8"))
    .split("\n")
    .filter((l) => !l.includes("{{"))
    .join("\n");
  const templated = parseAllDocuments(text)
    .map((d) => d.toJS() as { kind: string; rules?: unknown })
    .find((d) => d.kind === "Role");
  assert.deepEqual(templated?.rules, plain?.rules);
});

/**
 * The Deployments of a chart template or manifest, parsed after the Helm expressions are
 * replaced by a placeholder (control lines dropped): enough to read env names and probes.
 */
async function deploymentsOf(file: string): Promise<Deployment[]> {
  const text = (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => !/^\s*\{\{-?\s*(if|end|else|include|toYaml)\b/.test(l) && !/^\s*\{\{-?\s*include/.test(l))
    .map((l) => l.replace(/\{\{.*?\}\}/g, "TEMPLATED"))
    .join("\n");
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Deployment | null)
    .filter((d): d is Deployment => d?.kind === "Deployment");
}

type Deployment = {
  kind: string;
  metadata: { name: string };
  spec: {
    template: {
      spec: {
        containers: {
          command?: string[];
          env?: { name: string }[];
          readinessProbe?: { httpGet?: { path: string } };
          livenessProbe?: { httpGet?: { path: string } };
        }[];
      };
    };
  };
};

test("every Deployment sets exactly the settings its process reads, all the required ones, and real probe paths", async () => {
  const { ApiEnv } = await import("../../api/config.ts");
  const { OperatorEnv } = await import("../../operator/main.ts");
  const schemas = {
    "api/server.ts": { shape: ApiEnv.shape as Record<string, z.ZodType>, probes: ["/healthz", "/readyz"] },
    "operator/main.ts": {
      shape: OperatorEnv.shape as Record<string, z.ZodType>,
      probes: ["/healthz", "/readyz"],
    },
  };
  // The chart's Deployments are checked on helm's own rendering: test/install/chart.test.ts.
  const files = [join(root, "manifests", "operator", "deployment.yaml")];
  let seen = 0;
  for (const file of files) {
    for (const d of await deploymentsOf(file)) {
      for (const c of d.spec.template.spec.containers) {
        const program = c.command?.at(-1) as keyof typeof schemas | undefined;
        const s = program ? schemas[program] : undefined;
        assert.ok(s, `${file}: ${d.metadata.name} runs a known program (${c.command?.join(" ")})`);
        seen++;
        const names = (c.env ?? []).map((e) => e.name);
        const unknown = names.filter((n) => !(n in s.shape));
        assert.deepEqual(unknown, [], `${file}: ${d.metadata.name} sets settings ${program} never reads`);
        const required = Object.keys(s.shape).filter((k) => !s.shape[k]!.safeParse(undefined).success);
        const missing = required.filter((k) => !names.includes(k));
        assert.deepEqual(missing, [], `${file}: ${d.metadata.name} lacks required settings`);
        for (const p of [c.readinessProbe, c.livenessProbe]) {
          if (p?.httpGet) assert.ok(s.probes.includes(p.httpGet.path), `${file}: probe ${p.httpGet.path}`);
        }
      }
    }
  }
  assert.equal(seen, 1, "the operator manifest's Deployment");
});

test("the API's probes answer: /healthz always, /readyz while Postgres does", async (t) => {
  const { newApi } = await import("../api/support.ts");
  const api = await newApi(t);
  for (const url of ["/healthz", "/readyz"]) {
    const r = await api.app.inject({ method: "GET", url });
    assert.deepEqual([r.statusCode, r.json()], [200, { status: "ok" }], url);
  }
});
