// The order history mirror against the real API server and a private Postgres that the test
// stops mid-run: orders move through their phases (status applied server-side, as the operator
// does) while the record is down; when it is back, every phase row, step run, approval and
// audit row is there, exactly once, and a second mirror (a replay) writes nothing new.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { pino } from "pino";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { createPool, migrate } from "../../record/db.ts";
import { startHistoryMirror } from "../../record/mirror.ts";
import { verifyStoredChain } from "../../record/audit.ts";
import { OrderResource, type OrderStatus } from "../../crds/generated/order.ts";
import { startRestartablePostgres } from "./private-postgres.ts";
import { newDatabase } from "../support/db.ts";

const base = { group: OrderResource.group, version: OrderResource.version, plural: OrderResource.plural };

async function createOrder(kc: k8s.KubeConfig, namespace: string, name: string): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...base,
    namespace,
    body: {
      apiVersion: OrderResource.apiVersion,
      kind: "Order",
      metadata: { name },
      spec: {
        assetType: "laptop",
        requester: { id: `e-${name}`, email: `${name}@example.com` },
      },
    },
  });
}

/** Server-side apply of the status, as the operator writes it. */
async function applyStatus(kc: k8s.KubeConfig, namespace: string, name: string, status: OrderStatus) {
  await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      ...base,
      namespace,
      name,
      fieldManager: "ipsolis-operator",
      force: true,
      body: { apiVersion: OrderResource.apiVersion, kind: "Order", metadata: { name, namespace }, status },
    },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
  );
}

async function addApproval(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  approver: string,
  decision: string,
) {
  await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObject(
    {
      ...base,
      namespace,
      name,
      body: [
        { op: "add", path: "/spec/approvals", value: [{ approver, decision, at: "2026-03-02T09:00:00Z" }] },
      ],
    },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
  );
}

const cond = (at: string) => [
  {
    type: "Ready",
    status: "False" as const,
    lastTransitionTime: at,
    reason: "InProgress",
    message: "working",
  },
];

test("Postgres outage mid-run: zero lost history or audit rows, and a replay writes nothing twice", async (t) => {
  await applyCrds();
  const kc = testKubeConfig();
  const ns = await newNamespace(t, "mirror");
  const pgsrv = await startRestartablePostgres();
  t.after(() => pgsrv.destroy());
  const admin = new pg.Client({ connectionString: pgsrv.adminUrl });
  await admin.connect();
  await admin.query("CREATE DATABASE record");
  await admin.end();
  const url = pgsrv.urlFor("record");
  await migrate(url);
  const db = createPool(url, { max: 4 });
  t.after(() => db.end());
  const log = pino({ level: "silent" });
  const mirror = await startHistoryMirror({ kc, namespace: ns, db, log });
  t.after(() => mirror.stop());

  for (const n of ["a", "b", "c"]) await createOrder(kc, ns, n);
  await applyStatus(kc, ns, "a", {
    phase: "Scheduled",
    attempt: 0,
    conditions: cond("2026-03-01T08:00:00Z"),
  });
  await applyStatus(kc, ns, "b", {
    phase: "Scheduled",
    attempt: 0,
    conditions: cond("2026-03-01T08:00:01Z"),
  });
  await applyStatus(kc, ns, "c", {
    phase: "PendingApproval",
    attempt: 0,
    conditions: cond("2026-03-01T08:00:02Z"),
  });
  await eventually("3 phase rows before the outage", async () => {
    const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM order_phases");
    return r.rows[0]?.n === 3 ? true : undefined;
  });

  // ---- outage ----
  await pgsrv.stop();
  await applyStatus(kc, ns, "a", {
    phase: "Processing",
    attempt: 1,
    jobName: "a-1",
    conditions: cond("2026-03-01T09:00:00Z"),
    steps: [{ name: "assign", state: "Running", attempts: 1, startedAt: "2026-03-01T09:00:01Z" }],
  });
  await applyStatus(kc, ns, "a", {
    phase: "Provisioned",
    attempt: 1,
    jobName: "a-1",
    provisionedAt: "2026-03-01T09:05:00Z",
    conditions: cond("2026-03-01T09:05:00Z"),
    steps: [
      {
        name: "assign",
        state: "Succeeded",
        attempts: 1,
        startedAt: "2026-03-01T09:00:01Z",
        finishedAt: "2026-03-01T09:04:59Z",
        exitCode: 0,
      },
    ],
  });
  await applyStatus(kc, ns, "b", {
    phase: "Processing",
    attempt: 1,
    jobName: "b-1",
    conditions: cond("2026-03-01T09:10:00Z"),
  });
  await applyStatus(kc, ns, "b", {
    phase: "Failed",
    attempt: 1,
    jobName: "b-1",
    message: "step assign failed",
    conditions: cond("2026-03-01T09:12:00Z"),
  });
  await addApproval(kc, ns, "c", "olga@example.com", "Declined");
  await applyStatus(kc, ns, "c", {
    phase: "Cancelled",
    attempt: 0,
    conditions: cond("2026-03-02T09:00:01Z"),
  });
  await createOrder(kc, ns, "d");
  await applyStatus(kc, ns, "d", {
    phase: "Scheduled",
    attempt: 0,
    conditions: cond("2026-03-02T10:00:00Z"),
  });
  // The mirror saw it all and is holding it: it tried to write and failed.
  await eventually("the mirror noticed the outage", async () =>
    mirror.stats().failures > 0 ? true : undefined,
  );
  assert.ok(mirror.stats().pending > 0);

  // ---- back ----
  await pgsrv.start();
  await mirror.whenIdle(60_000);
  assert.ok(mirror.stats().relists >= 1, "relisted from the API server after the outage");

  const phases = await db.query<{ name: string; phase: string; attempt: number; at: Date }>(
    `SELECT o.name, p.phase, p.attempt, p.at FROM order_phases p JOIN orders o ON o.uid = p.order_uid
      ORDER BY o.name, p.at`,
  );
  assert.deepEqual(
    phases.rows.map((r) => `${r.name}:${r.phase}:${r.attempt}`),
    [
      "a:Scheduled:0",
      "a:Processing:1",
      "a:Provisioned:1",
      "b:Scheduled:0",
      "b:Processing:1",
      "b:Failed:1",
      "c:PendingApproval:0",
      "c:Cancelled:0",
      "d:Scheduled:0",
    ],
  );
  assert.equal(
    phases.rows.find((r) => r.name === "a" && r.phase === "Provisioned")?.at.toISOString(),
    "2026-03-01T09:05:00.000Z",
  );
  const orders = await db.query<{ name: string; phase: string; provisioned_at: Date | null }>(
    "SELECT name, phase, provisioned_at FROM orders ORDER BY name",
  );
  assert.deepEqual(
    orders.rows.map((r) => [r.name, r.phase]),
    [
      ["a", "Provisioned"],
      ["b", "Failed"],
      ["c", "Cancelled"],
      ["d", "Scheduled"],
    ],
  );
  const steps = await db.query<{ step: string; state: string; exit_code: number }>(
    "SELECT step, state, exit_code FROM step_runs",
  );
  assert.deepEqual(steps.rows, [{ step: "assign", state: "Succeeded", exit_code: 0 }]);

  const audit = await db.query<{ actor: string; action: string; order_name: string }>(
    "SELECT actor, action, order_name FROM audit_events ORDER BY order_name, audit_events.id",
  );
  const actions = audit.rows.map((r) => `${r.order_name}:${r.action}:${r.actor}`);
  assert.deepEqual(actions, [
    "a:order_scheduled:system:operator",
    "a:order_processing:system:operator",
    "a:order_provisioned:system:operator",
    "b:order_scheduled:system:operator",
    "b:order_processing:system:operator",
    "b:order_failed:system:operator",
    "c:order_pending_approval:system:operator",
    ...(actions.indexOf("c:order_declined:user:olga@example.com") <
    actions.indexOf("c:order_cancelled:system:operator")
      ? ["c:order_declined:user:olga@example.com", "c:order_cancelled:system:operator"]
      : ["c:order_cancelled:system:operator", "c:order_declined:user:olga@example.com"]),
    "d:order_scheduled:system:operator",
  ]);
  const chain = await verifyStoredChain(db);
  assert.ok(chain.ok, JSON.stringify(chain));

  // ---- replay: a second mirror (an operator restart) lists everything again and adds nothing ----
  const before = await db.query<{ n: number }>(
    "SELECT (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM order_phases) AS n",
  );
  const again = await startHistoryMirror({ kc, namespace: ns, db, log });
  await again.whenIdle(30_000);
  await again.stop();
  const after = await db.query<{ n: number }>(
    "SELECT (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM order_phases) AS n",
  );
  assert.deepEqual(after.rows, before.rows);
});

test("an Order whose strings carry a NUL (valid JSON, refused by Postgres) is mirrored, not retried forever", async (t) => {
  await applyCrds();
  const kc = testKubeConfig();
  const ns = await newNamespace(t, "mirror-nul");
  const url = await newDatabase(t);
  await migrate(url);
  const db = createPool(url, { max: 4 });
  t.after(() => db.end());
  const mirror = await startHistoryMirror({ kc, namespace: ns, db, log: pino({ level: "silent" }) });
  t.after(() => mirror.stop());
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...base,
    namespace: ns,
    body: {
      apiVersion: OrderResource.apiVersion,
      kind: "Order",
      metadata: { name: "nul" },
      spec: {
        assetType: "laptop",
        requester: { id: "e-nul", email: "nul@example.com", displayName: "A\u0000B" },
        reason: "pasted\u0000binary",
      },
    },
  });
  await applyStatus(kc, ns, "nul", {
    phase: "Scheduled",
    attempt: 0,
    conditions: cond("2026-03-01T08:00:00Z"),
  });
  // The status write arrives as its own watch event: wait for it, not just for an idle mirror.
  const rows = await eventually("the mirrored Scheduled phase", async () => {
    await mirror.whenIdle(20_000);
    const r = await db.query<{ reason: string; phase: string }>(
      "SELECT spec->>'reason' AS reason, phase FROM orders WHERE namespace = $1 AND name = 'nul'",
      [ns],
    );
    return r.rows[0]?.phase === "Scheduled" ? r.rows : undefined;
  });
  assert.deepEqual(rows, [{ reason: "pasted\uFFFDbinary", phase: "Scheduled" }]);
  assert.equal(mirror.stats().failures, 0);
});
