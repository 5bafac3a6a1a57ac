// Cost on the real wiring: the report from mirrored orders and AssetTypes in the API server
// (hand-computed figures across a month and a time-zone boundary, JSON and CSV, restricted to
// cost:read), and the threshold check: one alert per cost centre per day (run twice), with an
// audit row, a Kubernetes Event and a signed webhook received by a real local HTTP server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { pino } from "pino";
import { applyCrds } from "../support/crds.ts";
import { newApi, addToken, bearer, type Api } from "../api/support.ts";
import { AssetTypeResource } from "../../crds/generated/assettype.ts";
import { runCostCheck, startCostScheduler } from "../../record/cost-check.ts";
import { signWebhook, webhookChannel } from "../../record/notify.ts";

async function assetType(a: Api, name: string, amountPerMonth: string, costCenter: string) {
  await a.kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: AssetTypeResource.group,
    version: AssetTypeResource.version,
    namespace: a.namespace,
    plural: AssetTypeResource.plural,
    body: {
      apiVersion: AssetTypeResource.apiVersion,
      kind: "AssetType",
      metadata: { name },
      spec: {
        displayName: name,
        category: "hardware",
        assignment: { model: "AssignedPersonal" },
        approval: { policy: "None" },
        cost: { amountPerMonth, currency: "EUR", costCenter },
        runbooks: { provision: "noop" },
      },
    },
  });
}

/** Seeds the mirrored orders table (the mirror itself is tested in mirror.test.ts). */
async function heldOrder(a: Api, name: string, type: string, user: string, from: string, to: string | null) {
  await a.db.query(
    `INSERT INTO orders (uid, namespace, name, asset_type, action, requester_id, requester_email, phase,
                         provisioned_at, revoked_at)
     VALUES ($1, $2, $3, $4, 'Provision', $5, $5, $6, $7, $8)`,
    [`uid-${name}`, a.namespace, name, type, user, to ? "Revoked" : "Provisioned", from, to],
  );
}

test("cost report: hand-computed across a month and a time-zone boundary, JSON and CSV, cost:read only", async (t) => {
  await applyCrds();
  const a = await newApi(t, { now: new Date("2026-06-01T00:00:00Z") });
  await assetType(a, "laptop", "28.00", "CC-100");
  await assetType(a, "seat", "10.00", "CC-200");
  // 31 Jan 23:30 UTC = 1 Feb 00:30 Berlin → 2 Mar 12:00 UTC: Feb 27.98, Mar 1.39 (see record/cost.test.ts).
  await heldOrder(
    a,
    "laptop-anna",
    "laptop",
    "anna@example.com",
    "2026-01-31T23:30:00Z",
    "2026-03-02T12:00:00Z",
  );
  // Whole February in Berlin: 10.00; then all of March (31 days held of 31): 10.00.
  await heldOrder(a, "seat-bob", "seat", "bob@example.com", "2026-01-31T23:00:00Z", "2026-03-31T22:00:00Z");
  await heldOrder(a, "seat-gone", "deleted-type", "bob@example.com", "2026-02-01T00:00:00Z", null);

  const auditor = await addToken(a, "auditor", ["cost:read"]);
  const r = await a.app.inject({
    method: "GET",
    url: "/cost?from=2026-01&to=2026-03&groupBy=costCenter,month",
    headers: bearer(auditor),
  });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json<{ rows: unknown[]; unpriced: string[]; from: string; to: string }>();
  assert.equal(body.from, "2025-12-31T23:00:00.000Z");
  assert.equal(body.to, "2026-03-31T22:00:00.000Z");
  assert.deepEqual(body.rows, [
    { costCenter: "CC-100", month: "2026-02", currency: "EUR", amount: "27.98", orders: 1 },
    { costCenter: "CC-100", month: "2026-03", currency: "EUR", amount: "1.39", orders: 1 },
    { costCenter: "CC-200", month: "2026-02", currency: "EUR", amount: "10.00", orders: 1 },
    { costCenter: "CC-200", month: "2026-03", currency: "EUR", amount: "10.00", orders: 1 },
  ]);
  assert.deepEqual(body.unpriced, ["seat-gone"]);

  const byUser = await a.app.inject({
    method: "GET",
    url: "/cost?from=2026-01&to=2026-03&groupBy=user,assetType&format=csv",
    headers: bearer(auditor),
  });
  assert.equal(byUser.statusCode, 200);
  assert.match(byUser.headers["content-type"] as string, /text\/csv/);
  assert.equal(
    byUser.body,
    "user,assetType,currency,amount,orders\r\n" +
      "anna@example.com,laptop,EUR,29.37,1\r\n" +
      "bob@example.com,seat,EUR,20.00,1\r\n",
  );

  const bad = await a.app.inject({
    method: "GET",
    url: "/cost?groupBy=colour",
    headers: bearer(auditor),
  });
  assert.equal(bad.statusCode, 400);
  const helpdesk = await addToken(a, "helpdesk", ["orders:read"]);
  const denied = await a.app.inject({ method: "GET", url: "/cost", headers: bearer(helpdesk) });
  assert.equal(denied.statusCode, 403);
  const anonymous = await a.app.inject({ method: "GET", url: "/cost" });
  assert.equal(anonymous.statusCode, 401);
});

test("threshold check: alerts once per day per cost centre (run twice), with audit row, Event and signed webhook", async (t) => {
  await applyCrds();
  // 15 Feb 00:00 Berlin: half of February gone.
  const now = new Date("2026-02-14T23:00:00Z");
  const a = await newApi(t, { now });
  await assetType(a, "laptop", "28.00", "CC-100");
  await assetType(a, "seat", "10.00", "CC-200");
  await heldOrder(a, "l1", "laptop", "anna@example.com", "2026-01-31T23:00:00Z", null);
  await heldOrder(a, "s1", "seat", "bob@example.com", "2026-01-31T23:00:00Z", null);

  const admin = await addToken(a, "admin", ["settings:write"]);
  for (const [cc, amount] of [
    ["CC-100", "20.00"], // month-to-date 14.00, projected 28.00 → exceeded
    ["CC-200", "50.00"], // 5.00 / 10.00 → fine
  ] as const) {
    const put = await a.app.inject({
      method: "PUT",
      url: `/cost/thresholds/${cc}`,
      headers: bearer(admin),
      payload: { amount, currency: "EUR" },
    });
    assert.equal(put.statusCode, 200, put.body);
  }

  const secret = "webhook-secret-0123456789abcdef";
  const received: { body: string; ok: boolean }[] = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const ts = String(req.headers["x-ipsolis-timestamp"]);
      received.push({ body, ok: req.headers["x-ipsolis-signature"] === signWebhook(secret, ts, body) });
      res.writeHead(204).end();
    });
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hooks/cost`;

  const deps = {
    db: a.db,
    kc: a.kc,
    namespace: a.namespace,
    log: pino({ level: "silent" }),
    channels: [webhookChannel({ url, secret, now: () => now })],
    now: () => now,
  };
  const first = await runCostCheck(deps);
  assert.deepEqual(first.raised, ["CC-100"]);
  assert.deepEqual(first.notified, ["CC-100"]);
  assert.deepEqual(
    first.findings.map((f) => [f.costCenter, f.monthToDate, f.projected, f.exceeded]),
    [
      ["CC-100", "14.00", "28.00", true],
      ["CC-200", "5.00", "10.00", false],
    ],
  );
  const second = await runCostCheck({ ...deps, now: () => new Date(now.getTime() + 3 * 3600_000) });
  assert.deepEqual([second.raised, second.notified], [[], []], "the same day raises nothing again");

  assert.equal(received.length, 1);
  assert.ok(received[0]!.ok, "HMAC signature verifies");
  const msg = JSON.parse(received[0]!.body) as { kind: string; data: { costCenter: string; day: string } };
  assert.equal(msg.kind, "cost_threshold_exceeded");
  assert.deepEqual([msg.data.costCenter, msg.data.day], ["CC-100", "2026-02-15"]);

  const audit = await a.db.query<{ action: string; actor: string; target: string }>(
    "SELECT action, actor, target FROM audit_events WHERE action LIKE 'cost_%' ORDER BY audit_events.id",
  );
  assert.deepEqual(
    audit.rows.map((r) => [r.action, r.actor, r.target]),
    [
      ["cost_threshold_set", "token:t-admin-settings:write", "costcenter:CC-100"],
      ["cost_threshold_set", "token:t-admin-settings:write", "costcenter:CC-200"],
      ["cost_threshold_exceeded", "system:operator", "costcenter:CC-100"],
    ],
  );
  const events = await a.kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: a.namespace });
  const cost = events.items.filter((e) => e.reason === "CostThresholdExceeded");
  assert.equal(cost.length, 1);
  assert.equal(cost[0]?.type, "Warning");
  assert.equal(cost[0]?.involvedObject.kind, "Namespace");
  assert.match(
    cost[0]?.message ?? "",
    /CC-100: month-to-date 14\.00 EUR, projected 28\.00 EUR, threshold 20\.00 EUR/,
  );

  // The next day alerts again.
  const nextDay = await runCostCheck({ ...deps, now: () => new Date(now.getTime() + 24 * 3600_000) });
  assert.deepEqual(nextDay.raised, ["CC-100"]);
  assert.equal(received.length, 2);
});

test("the scheduler defaults to 06:00 Europe/Berlin", () => {
  const s = startCostScheduler({
    db: undefined as never,
    kc: undefined as never,
    namespace: "x",
    log: pino({ level: "silent" }),
    channels: [],
    now: () => new Date(),
  });
  try {
    const next = s.nextRun();
    assert.ok(next);
    const berlin = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(next);
    assert.equal(berlin, "06:00");
  } finally {
    s.stop();
  }
});

test("two replicas running the check at once raise and notify each alert once", async (t) => {
  await applyCrds();
  const now = new Date("2026-02-14T23:00:00Z");
  const a = await newApi(t, { now });
  await assetType(a, "laptop", "28.00", "CC-100");
  await heldOrder(a, "l1", "laptop", "anna@example.com", "2026-01-31T23:00:00Z", null);
  const admin = await addToken(a, "admin", ["settings:write"]);
  const put = await a.app.inject({
    method: "PUT",
    url: "/cost/thresholds/CC-100",
    headers: bearer(admin),
    payload: { amount: "20.00", currency: "EUR" },
  });
  assert.equal(put.statusCode, 200, put.body);

  const received: string[] = [];
  // A receiver that takes its time, as real chat/ticket webhooks do.
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      received.push(body);
      setTimeout(() => res.writeHead(204).end(), 300);
    });
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hooks/cost`;
  const secret = "webhook-secret-0123456789abcdef";
  const replica = () => ({
    db: a.db,
    kc: a.kc,
    namespace: a.namespace,
    log: pino({ level: "silent" }),
    channels: [webhookChannel({ url, secret, now: () => now })],
    now: () => now,
  });
  const [r1, r2] = await Promise.all([runCostCheck(replica()), runCostCheck(replica())]);
  assert.deepEqual([...r1.raised, ...r2.raised], ["CC-100"]);
  assert.deepEqual([...r1.notified, ...r2.notified], ["CC-100"]);
  assert.equal(received.length, 1, "one notification, not one per replica");
});
