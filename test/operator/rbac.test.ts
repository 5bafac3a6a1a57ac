// The shipped manifests against the real API server: the operator runs with exactly the Role
// in manifests/operator/rbac.yaml (a ServiceAccount token, no admin), and the Deployment passes
// a server-side dry run.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { createLogger } from "../../record/log.ts";
import { OperatorEnv, startOperator } from "../../operator/main.ts";
import { ANCHOR_CONFIGMAP } from "../../record/anchor.ts";
import { newDatabase } from "../support/db.ts";
import {
  assetType,
  bashStep,
  create,
  get,
  jobsOf,
  order,
  phaseIs,
  runbook,
  simpleCatalog,
  waitOrder,
} from "./support.ts";

const dir = join(import.meta.dirname, "..", "..", "manifests", "operator");

before(async () => {
  await applyCrds();
});

async function docs(file: string): Promise<k8s.KubernetesObject[]> {
  return parseAllDocuments(await readFile(join(dir, file), "utf8"))
    .map((d) => d.toJS() as k8s.KubernetesObject | null)
    .filter((d): d is k8s.KubernetesObject => d !== null);
}

async function apply(ns: string, objs: k8s.KubernetesObject[], dryRun?: string) {
  const client = k8s.KubernetesObjectApi.makeApiClient(testKubeConfig());
  for (const o of objs) {
    await client.patch(
      { ...o, metadata: { ...o.metadata, namespace: ns } },
      undefined,
      dryRun,
      "ipsolis-test",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
  }
}

test("the operator works with only the Role of manifests/operator/rbac.yaml", async (t) => {
  const ns = await newNamespace(t);
  await apply(ns, await docs("rbac.yaml"));
  const admin = testKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    name: "ipsolis-operator",
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: "operator", token: tr.status?.token }],
    contexts: [{ name: "c", cluster: "c", user: "operator", namespace: ns }],
    currentContext: "c",
  });
  const op = await startOperator(
    {
      ...OperatorEnv.parse({ IPSOLIS_NAMESPACE: ns }),
      // The record's parts too (history mirror, cost check, audit anchors) under the same Role.
      IPSOLIS_DATABASE_URL: await newDatabase(t),
      IPSOLIS_AUDIT_ANCHOR_SECONDS: 3600,
      IPSOLIS_OPERATOR_PORT: 0,
      IPSOLIS_OPERATOR_HOST: "127.0.0.1",
      IPSOLIS_OPERATOR_CONCURRENCY: 4,
      IPSOLIS_LEADER_ELECTION: true,
      IPSOLIS_LEADER_LEASE_SECONDS: 4,
      IPSOLIS_LEADER_RENEW_MS: 300,
      IPSOLIS_RESYNC_SECONDS: 600,
      IPSOLIS_INGEST_URL: "http://127.0.0.1:9/ingest",
      IPSOLIS_INGEST_SECRET: "rbac-test-ingest-secret-0123456789abcdef",
      IPSOLIS_RUNNER_SERVICE_ACCOUNT: "ipsolis-runner",
      LOG_LEVEL: "warn",
    },
    { kubeConfig: kc, log: createLogger({ level: "warn", name: "operator-rbac" }) },
  );
  t.after(() => op.stop());
  await eventually("leader", async () => (op.isLeader() ? true : undefined));

  await simpleCatalog(ns);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const [job] = await jobsOf(ns, "o1");
  assert.equal(job?.spec?.template.spec?.serviceAccountName, "ipsolis-runner");

  await create(ns, "runbooks", runbook("nightly", [bashStep("s", "true")], { schedule: { cron: "@daily" } }));
  await eventually("cronjob", () =>
    admin
      .makeApiClient(k8s.BatchV1Api)
      .readNamespacedCronJob({ namespace: ns, name: "nightly-schedule" })
      .catch(() => undefined),
  );
  // AssetType status is written too (Ready: its runbooks exist), under the same Role.
  const readyOf = async (name: string) =>
    (
      await get<{ status?: { conditions?: { type: string; status: string; reason: string }[] } }>(
        ns,
        "assettypes",
        name,
      )
    ).status?.conditions?.find((c) => c.type === "Ready");
  await eventually("vpn Ready", async () => ((await readyOf("vpn"))?.status === "True" ? true : undefined));
  await create(ns, "assettypes", assetType("later", { runbooks: { provision: "later-grant" } }));
  await eventually("later not Ready", async () =>
    (await readyOf("later"))?.reason === "RunbookNotFound" ? true : undefined,
  );
  await create(ns, "runbooks", runbook("later-grant", [bashStep("g", "true")]));
  await eventually("later Ready once its runbook exists", async () =>
    (await readyOf("later"))?.reason === "RunbooksFound" ? true : undefined,
  );

  // A Runbook is Ready only when what its steps read exists: its Secret (labelled for runbook
  // use) and the ConfigMap key of a scriptFrom. Made later, each turns it Ready on its own (the
  // operator looks again; nothing needs to touch the Runbook).
  const rbReady = async () =>
    (
      await get<{
        status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
      }>(ns, "runbooks", "m365-sync")
    ).status?.conditions?.find((c) => c.type === "Ready");
  await create(
    ns,
    "runbooks",
    runbook("m365-sync", [
      {
        name: "sync",
        shell: "bash",
        scriptFrom: { configMapKeyRef: { name: "m365-scripts", key: "sync.sh" } },
        parameters: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "m365", key: "token" } } }],
      },
    ]),
  );
  const notReady = await eventually("m365-sync not Ready", async () => {
    const c = await rbReady();
    return c?.reason === "SecretNotFound" ? c : undefined;
  });
  assert.equal(notReady.status, "False");
  assert.match(notReady.message, /Secret m365 that is missing or not labelled/);
  assert.match(notReady.message, /ConfigMap key m365-scripts\/sync\.sh that does not exist/);
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: "m365", labels: { "ipsolis.io/runbook-secret": "true" } },
      stringData: { token: "t" },
    },
  });
  await eventually(
    "the script is still missing",
    async () => ((await rbReady())?.reason === "ScriptNotFound" ? true : undefined),
    60_000,
  );
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: "m365-scripts" }, data: { "sync.sh": "echo synced" } },
  });
  await eventually(
    "m365-sync Ready",
    async () => ((await rbReady())?.status === "True" ? true : undefined),
    60_000,
  );

  // The Role grants no list or watch of Secrets (get only: the labels of referenced ones).
  const review = await admin.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${ns}:ipsolis-operator`,
        resourceAttributes: { namespace: ns, verb: "list", resource: "secrets" },
      },
    },
  });
  assert.equal(review.status?.allowed, false);
  // The cost alert is a core v1 Event on the Namespace (record/cost-check.ts).
  const events = await admin.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${ns}:ipsolis-operator`,
        resourceAttributes: { namespace: ns, verb: "create", resource: "events", group: "" },
      },
    },
  });
  assert.equal(events.status?.allowed, true);

  // The history mirror recorded the order; the audit anchor lands in its ConfigMap.
  const record = op.record!;
  await record.migrated;
  await eventually("o1 mirrored", async () => {
    const r = await record.db.query<{ phase: string }>("SELECT phase FROM orders WHERE name = 'o1'");
    return r.rows[0]?.phase === "Processing" ? true : undefined;
  });
  const anchor = await record.anchors!.tick();
  assert.ok(anchor, "an anchor was written");
  const cm = await core.readNamespacedConfigMap({ namespace: ns, name: ANCHOR_CONFIGMAP });
  assert.match(cm.data?.["anchors.jsonl"] ?? "", new RegExp(`"id":"${anchor.id}","hash":"${anchor.hash}"`));
});

test("the operator Deployment passes a server-side dry run", async (t) => {
  const ns = await newNamespace(t);
  await apply(ns, await docs("rbac.yaml"));
  await apply(ns, await docs("deployment.yaml"), "All");
});
