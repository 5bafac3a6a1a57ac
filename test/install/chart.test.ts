// The chart as helm renders it (no cluster needed): the CRDs are the repository's (links, no
// copies to drift), every admission policy of manifests/admission is rendered and bound to the
// release namespace, every Deployment sets exactly settings its process reads (all required
// ones), the migration Job is a Helm and Argo CD hook, and every container is locked down.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import { chartDir, helmOk, root } from "./support.ts";

type Obj = {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};
type Container = {
  command?: string[];
  env?: { name: string }[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
};
const render = async (args: string[] = []) =>
  parseAllDocuments(await helmOk(["template", "ipsolis", chartDir, "--namespace", "ipsolis", ...args]))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
const podSpec = (o: Obj) =>
  (o.spec as { template: { spec: { containers: Container[]; securityContext?: Record<string, unknown> } } })
    .template.spec;

test("the chart's CRDs are links to every CRD in crds/ and render as kept templates", async () => {
  const want = (await readdir(join(root, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
  const dir = join(chartDir, "files", "crds");
  const have = (await readdir(dir)).sort();
  assert.deepEqual(have, want);
  for (const f of have) assert.equal(await realpath(join(dir, f)), await realpath(join(root, "crds", f)));
  const crds = (await render()).filter((o) => o.kind === "CustomResourceDefinition");
  assert.equal(crds.length, want.length);
  for (const c of crds) assert.equal(c.metadata.annotations?.["helm.sh/resource-policy"], "keep");
  const unkept = (await render(["--set", "crds.keep=false"])).filter(
    (o) => o.kind === "CustomResourceDefinition",
  );
  for (const c of unkept) assert.equal(c.metadata.annotations?.["helm.sh/resource-policy"], undefined);
  const none = (await render(["--set", "crds.enabled=false"])).filter(
    (o) => o.kind === "CustomResourceDefinition",
  );
  assert.equal(none.length, 0);
});

test("every admission policy file of manifests/admission is rendered, bound to the release namespace", async () => {
  const files = (await readdir(join(root, "manifests", "admission"))).filter((f) => f.endsWith(".yaml"));
  const policies = new Set<string>();
  for (const f of files) {
    for (const d of parseAllDocuments(await readFile(join(root, "manifests", "admission", f), "utf8"))) {
      const o = d.toJS() as Obj | null;
      if (o?.kind === "ValidatingAdmissionPolicy") policies.add(o.metadata.name);
    }
  }
  const out = await render();
  const rendered = out.filter((o) => o.kind === "ValidatingAdmissionPolicy").map((o) => o.metadata.name);
  assert.deepEqual(rendered.sort(), [...policies].map((p) => `${p}-ipsolis`).sort());
  for (const b of out.filter((o) => o.kind === "ValidatingAdmissionPolicyBinding")) {
    const spec = b.spec as { policyName: string; matchResources: { namespaceSelector: unknown } };
    assert.ok(rendered.includes(spec.policyName), `${b.metadata.name} binds a rendered policy`);
    assert.deepEqual(spec.matchResources.namespaceSelector, {
      matchLabels: { "kubernetes.io/metadata.name": "ipsolis" },
    });
  }
});

test("every Deployment, the approvals CronJob and the migration Job run known programs with exactly the settings they read", async () => {
  const { ApiEnv } = await import("../../api/config.ts");
  const { OperatorEnv } = await import("../../operator/main.ts");
  const shapes: Record<string, Record<string, z.ZodType>> = {
    "api/server.ts": ApiEnv.shape,
    "operator/main.ts": OperatorEnv.shape,
  };
  for (const args of [
    [],
    ["--set", "migrations.enabled=false,api.oidc.authority=https://login.example.com/t/v2.0"],
  ]) {
    const out = await render(args);
    const deps = out.filter((o) => o.kind === "Deployment");
    assert.equal(deps.length, 2);
    for (const d of deps) {
      const spec = podSpec(d);
      assert.deepEqual(spec.securityContext?.seccompProfile, { type: "RuntimeDefault" });
      assert.equal(spec.securityContext?.runAsNonRoot, true);
      for (const c of spec.containers) {
        const program = c.command?.at(-1) ?? "";
        const shape = shapes[program];
        assert.ok(shape, `${d.metadata.name} runs a known program (${program})`);
        const names = (c.env ?? []).map((e) => e.name);
        assert.deepEqual(
          names.filter((n) => !(n in shape)),
          [],
          `${d.metadata.name}: settings never read`,
        );
        const required = Object.keys(shape).filter((k) => !shape[k]!.safeParse(undefined).success);
        assert.deepEqual(
          required.filter((k) => !names.includes(k)),
          [],
          `${d.metadata.name}: required settings`,
        );
        for (const p of [c.readinessProbe, c.livenessProbe])
          assert.ok(["/healthz", "/readyz"].includes(p?.httpGet?.path ?? ""), `${d.metadata.name} probes`);
        assert.deepEqual(c.securityContext, {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
  }
  // The approval schedule: a CronJob of the tick, with only the settings the tick reads.
  const { TickEnv } = await import("../../api/notify/tick.ts");
  const notify = [
    "--set",
    "notifications.smtp.host=smtp.example.com,notifications.smtp.user=ipsolis,notifications.teams=true,notifications.webhookUrl=https://hooks.example.com/ipsolis,notifications.channels=email\\,teams",
  ];
  for (const args of [[], notify]) {
    const out = await render(args);
    const cron = out.find((o) => o.kind === "CronJob");
    assert.ok(cron, "the approvals CronJob is rendered");
    const cs = cron.spec as {
      schedule: string;
      concurrencyPolicy: string;
      jobTemplate: { spec: { template: { spec: { serviceAccountName: string; containers: Container[] } } } };
    };
    assert.equal(cs.concurrencyPolicy, "Forbid");
    assert.equal(cs.schedule, "*/5 * * * *");
    const pod = cs.jobTemplate.spec.template.spec;
    assert.equal(pod.serviceAccountName, "ipsolis-api", "expiry writes spec.approvals: the API's identity");
    const c = pod.containers[0]!;
    assert.deepEqual(c.command, ["node", "api/notify/tick.ts"]);
    const names = (c.env ?? []).map((e) => e.name);
    const shape = TickEnv.shape as Record<string, z.ZodType>;
    assert.deepEqual(
      names.filter((n) => !(n in shape)),
      [],
      "the tick: settings never read",
    );
    const required = Object.keys(shape).filter((k) => !shape[k]!.safeParse(undefined).success);
    assert.deepEqual(
      required.filter((k) => !names.includes(k)),
      [],
      "the tick: required settings",
    );
    // The API gets every notification setting, the tick only which channels exist.
    const apiEnv = podSpec(
      out.find((o) => o.kind === "Deployment" && o.metadata.name === "ipsolis-api")!,
    ).containers[0]!.env!.map((e) => e.name);
    if (args.length > 0) {
      for (const n of [
        "IPSOLIS_NOTIFY_CHANNELS",
        "IPSOLIS_SMTP_HOST",
        "IPSOLIS_SMTP_PORT",
        "IPSOLIS_SMTP_FROM",
        "IPSOLIS_SMTP_USER",
        "IPSOLIS_SMTP_PASSWORD",
        "IPSOLIS_TEAMS_WEBHOOK_URL",
        "IPSOLIS_NOTIFY_WEBHOOK_URL",
        "IPSOLIS_NOTIFY_WEBHOOK_SECRET",
      ])
        assert.ok(apiEnv.includes(n), `the API gets ${n}`);
      // The tick: the channel names only, never an address or a secret.
      const tickEnv = (c.env ?? []) as { name: string; value?: string }[];
      assert.deepEqual(
        tickEnv.filter(
          (e) => e.name.startsWith("IPSOLIS_NOTIFY") || e.name.includes("SMTP") || e.name.includes("TEAMS"),
        ),
        [{ name: "IPSOLIS_NOTIFY_CHANNELS", value: "email,teams" }],
      );
    } else {
      assert.ok(!apiEnv.some((n) => n.startsWith("IPSOLIS_SMTP_")), "no e-mail unless configured");
      assert.ok(!names.includes("IPSOLIS_NOTIFY_CHANNELS"), "no channel: the tick writes no messages");
    }
  }
  assert.equal(
    (await render(["--set", "approvals.schedule.enabled=false"])).find((o) => o.kind === "CronJob"),
    undefined,
  );
  const job = (await render()).find((o) => o.kind === "Job");
  assert.ok(job);
  assert.equal(job.metadata.annotations?.["helm.sh/hook"], "pre-install,pre-upgrade");
  assert.equal(job.metadata.annotations?.["argocd.argoproj.io/hook"], "PreSync");
  const c = podSpec(job).containers[0];
  assert.deepEqual(c?.command, ["node", "record/migrate.ts"]);
  assert.deepEqual(
    c?.env?.map((e) => e.name),
    ["IPSOLIS_MIGRATE_DATABASE_URL"],
  );
  assert.equal(
    (await render(["--set", "migrations.enabled=false"])).find((o) => o.kind === "Job"),
    undefined,
  );
});
