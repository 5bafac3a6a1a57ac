// The Job built for an attempt: deterministic names (hashed past 63), the deadline budget, and
// no secret value anywhere in the spec.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeDeadlineFor,
  buildJob,
  DEADLINE_SLACK_SECONDS,
  refusedSecretRefs,
  assetTypesUsing,
  secretRefsOf,
} from "./job.ts";
import type { Order, Runbook } from "./model.ts";
import { assetLeaseName, childName, jobNameFor } from "./names.ts";

const rb: Runbook = {
  metadata: { name: "grant" },
  spec: {
    image: "runner:1",
    kerberos: { secretName: "kt", principal: "svc@EXAMPLE.COM" },
    steps: [
      {
        name: "a",
        script: "x",
        timeoutSeconds: 10,
        retries: 2,
        retryDelaySeconds: 3,
        parameters: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
      },
      { name: "b", scriptFrom: { configMapKeyRef: { name: "cm", key: "b.sh" } } },
    ],
  },
};
const order: Order = {
  metadata: { name: "o1", uid: "u-1" },
  spec: { assetType: "vpn", requester: { id: "jdoe", email: "j@example.com" }, attributes: { a: "1" } },
};

test("job names: <order>-<attempt>, hashed to a DNS label past 63 characters, stable", () => {
  assert.equal(jobNameFor("o1", 2), "o1-2");
  const long = "x".repeat(70);
  const n = jobNameFor(long, 12);
  assert.ok(n.length <= 63, n);
  assert.match(n, /^x+-[0-9a-f]{8}-12$/);
  assert.equal(jobNameFor(long, 12), n, "deterministic");
  assert.notEqual(jobNameFor(long + "y", 12), n);
  assert.notEqual(childName("a".repeat(62), "1"), childName("a".repeat(62) + "b", "1"));
  assert.match(assetLeaseName("vpn/jdoe"), /^ipsolis-asset-[0-9a-f]{16}$/);
});

test("deadline: Σ timeout × (retries+1) + delays + slack (default 300 s per step)", () => {
  assert.equal(activeDeadlineFor(rb), 10 * 3 + 3 * 2 + 300 + DEADLINE_SLACK_SECONDS);
});

test("the Job spec carries secret parameters only as secretKeyRefs", () => {
  const job = buildJob({ order, runbook: rb, attempt: 1, jobName: "o1-1", config: { namespace: "ns" } });
  const c = job.spec?.template.spec?.containers[0];
  const ref = c?.env?.find((e) => e.valueFrom?.secretKeyRef);
  assert.equal(ref?.valueFrom?.secretKeyRef?.name, "s");
  assert.equal(ref?.value, undefined);
  assert.ok(!JSON.stringify(job).includes('"value":"k"'));
  assert.equal(job.spec?.backoffLimit, 0);
  assert.equal(job.metadata?.ownerReferences?.[0]?.uid, "u-1");
  // The ConfigMap script is mounted and the plan points at it.
  const plan = JSON.parse(c?.env?.find((e) => e.name === "IPSOLIS_PLAN")?.value ?? "{}") as {
    steps: { scriptFile?: string }[];
  };
  const file = plan.steps[1]?.scriptFile ?? "";
  const mount = c?.volumeMounts?.find((m) => file.startsWith(m.mountPath + "/"));
  assert.ok(mount?.readOnly, `script ${file} is on a read-only mount`);
  // No ingest without a URL.
  assert.ok(!c?.env?.some((e) => e.name === "IPSOLIS_INGEST_TOKEN"));
});

test("a runbook may reference only Secrets labelled ipsolis.io/runbook-secret=true", () => {
  assert.deepEqual(secretRefsOf(rb), ["kt", "s"]);
  const ok = { "ipsolis.io/runbook-secret": "true" };
  const cases: {
    name: string;
    labels: Record<string, Record<string, string> | null>;
    want: RegExp | undefined;
  }[] = [
    { name: "both labelled", labels: { kt: ok, s: ok }, want: undefined },
    {
      name: "keytab unlabelled",
      labels: { kt: {}, s: ok },
      want: /Secret kt that is missing or not labelled/,
    },
    {
      name: "label false",
      labels: { kt: ok, s: { "ipsolis.io/runbook-secret": "false" } },
      want: /Secret s that/,
    },
    { name: "one missing", labels: { kt: ok, s: null }, want: /Secret s that is missing/ },
    { name: "both refused", labels: { kt: {}, s: null }, want: /Secrets kt, s that are/ },
  ];
  for (const c of cases) {
    const got = refusedSecretRefs(rb, (n) => {
      const l = c.labels[n];
      return l === null || l === undefined ? l : { labels: l };
    });
    if (c.want) assert.match(got ?? "", c.want, c.name);
    else assert.equal(got, undefined, c.name);
  }
});

test("a Secret kept to some asset types serves only runs for them", () => {
  const labels = { "ipsolis.io/runbook-secret": "true" };
  const kept = (types: string) => ({
    labels,
    annotations: { "ipsolis.io/runbook-secret-asset-types": types },
  });
  const meta = (s: ReturnType<typeof kept>) => (n: string) => (n === "s" ? s : { labels });
  assert.equal(
    refusedSecretRefs(rb, meta(kept("vpn, m365")), ["vpn"]),
    undefined,
    "an Order of a listed type",
  );
  assert.match(
    refusedSecretRefs(rb, meta(kept("m365")), ["vpn"]) ?? "",
    /Secret s is kept to asset type m365 \(ipsolis\.io\/runbook-secret-asset-types\) and runbook .* runs for vpn; no Job is started/,
  );
  assert.match(
    refusedSecretRefs(rb, meta(kept("vpn")), ["vpn", "lab"]) ?? "",
    /runs for lab/,
    "a scheduled runbook one other type uses too",
  );
  assert.match(refusedSecretRefs(rb, meta(kept("vpn")), []) ?? "", /runs for no asset type/);
  // Unlabelled comes first, the scope sentence after.
  assert.match(
    refusedSecretRefs(rb, (n) => (n === "kt" ? {} : kept("m365")), ["vpn"]) ?? "",
    /Secret kt that is missing.*; Secret s is kept/,
  );
  assert.deepEqual(
    assetTypesUsing("acct-grant", [
      { metadata: { name: "b" }, spec: { runbooks: { provision: "acct-grant" } } },
      { metadata: { name: "a" }, spec: { runbooks: { provision: "x", deprovision: "acct-grant" } } },
      { metadata: { name: "c" }, spec: { runbooks: { provision: "y" } } },
    ]),
    ["a", "b"],
  );
});

test("the pod has a private memory directory for the runner's credentials", () => {
  const job = buildJob({ order, runbook: rb, attempt: 1, jobName: "o1-1", config: { namespace: "ns" } });
  const spec = job.spec?.template.spec;
  assert.deepEqual(spec?.volumes?.find((v) => v.name === "runner")?.emptyDir?.medium, "Memory");
  const c = spec?.containers[0];
  const dir = c?.volumeMounts?.find((m) => m.name === "runner")?.mountPath;
  assert.equal(c?.env?.find((e) => e.name === "IPSOLIS_RUNNER_DIR")?.value, dir);
});
