// Approvals on the real API server: eligibility, separation of duties (409 quoting the audit
// row; the approval stays pending), declining always allowed, delegation windows, and
// one-click links (prefetch-safe, single use, expiring; misuse audited).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import {
  addAdmin,
  cookiesOf,
  csrfField,
  newApi,
  setOrderPhase,
  signInAs,
  type Api,
  type Browser,
} from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";
import { pino } from "pino";
import { startHistoryMirror } from "../../record/mirror.ts";
import { appendAudit, lockOrderDecisions } from "../../record/audit.ts";
import { withTransaction } from "../../record/db.ts";
import { resourcesOf } from "../../api/plugins/resources.ts";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import { eventually } from "../support/kube.ts";

before(async () => {
  await applyCrds();
});

type OrderOut = { name: string; approvals: { approver: string; decision: string; comment?: string }[] };

async function world(t: Parameters<typeof newApi>[0]) {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  await addAdmin(api, "zed", "approver", undefined, "zed@example.com");
  const root = await signInAs(api, "root");
  const ada = await signInAs(api, "ada");
  const bert = await signInAs(api, "bert");
  const zed = await signInAs(api, "zed");
  // ada creates the asset type: she may not approve its orders.
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["ada@example.com", "bert"], quorum: 1 },
      }),
    },
  });
  assert.equal(at.statusCode, 201, at.body);
  return { api, root, ada, bert, zed };
}

async function newOrder(api: Api, as: Browser): Promise<string> {
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: as.headers,
    payload: { assetType: "vpn", requester: { id: "emp", email: "emp@example.com" } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const name = r.json<OrderOut>().name;
  await setOrderPhase(api, name, "PendingApproval");
  return name;
}

const decide = (api: Api, b: Browser, name: string, verb: "approve" | "decline") =>
  api.app.inject({ method: "POST", url: `/orders/${name}/${verb}`, headers: b.headers, payload: {} });

test("separation of duties: the asset type's author gets 409 quoting the audit row; the order stays pending", async (t) => {
  const { api, root, ada, bert } = await world(t);
  const name = await newOrder(api, root);

  const sod = await decide(api, ada, name, "approve");
  assert.equal(sod.statusCode, 409, sod.body);
  const body = sod.json<{
    reason: string;
    error: string;
    auditRow: { id: string; action: string; actor: string; at: string };
  }>();
  assert.equal(body.reason, "SeparationOfDuties");
  const row = await api.db.query<{ id: string; at: Date }>(
    "SELECT id::text AS id, at FROM audit_events WHERE action = 'asset_type_created' AND target = 'assettype:vpn'",
  );
  assert.deepEqual(body.auditRow, {
    id: row.rows[0]!.id,
    action: "asset_type_created",
    actor: "admin:ada",
    at: row.rows[0]!.at.toISOString(),
  });
  assert.match(body.error, new RegExp(`audit row ${row.rows[0]!.id}: asset_type_created by admin:ada`));

  const still = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: root.headers });
  assert.deepEqual(still.json<OrderOut>().approvals, [], "nothing was recorded");

  // Someone else approves; deciding twice is refused.
  const ok = await decide(api, bert, name, "approve");
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(
    ok.json<OrderOut>().approvals.map((a) => [a.approver, a.decision]),
    [["bert", "Approved"]],
  );
  assert.equal((await decide(api, bert, name, "approve")).statusCode, 409);
});

test("separation of duties covers the runbooks the asset type runs: their editor gets 409 quoting the row", async (t) => {
  const { api, root, bert } = await world(t);
  await addAdmin(api, "rita", "admin", undefined, "rita@example.com");
  const rita = await signInAs(api, "rita");
  const rb = await api.app.inject({
    method: "PUT",
    url: "/runbooks/m365-deprovision",
    headers: rita.headers,
    payload: { spec: runbookSpec() },
  });
  assert.equal(rb.statusCode, 201, rb.body);
  // rita becomes an approver of the type (listed by e-mail); she changed its deprovision runbook.
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: root.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["rita@example.com", "bert"], quorum: 1 },
      }),
    },
  });
  assert.equal(at.statusCode, 200, at.body);
  const name = await newOrder(api, root);
  const sod = await decide(api, rita, name, "approve");
  assert.equal(sod.statusCode, 409, sod.body);
  const row = await api.db.query<{ id: string }>(
    "SELECT id::text AS id FROM audit_events WHERE action = 'runbook_created' AND target = 'runbook:m365-deprovision'",
  );
  const body = sod.json<{ reason: string; error: string; auditRow: { id: string; action: string } }>();
  assert.equal(body.reason, "SeparationOfDuties");
  assert.equal(body.auditRow.id, row.rows[0]!.id);
  assert.equal(body.auditRow.action, "runbook_created");
  assert.match(body.error, /you changed runbook m365-deprovision, which this asset type runs/);
  // A runbook the type does not run does not count; someone else approves.
  assert.equal((await decide(api, bert, name, "approve")).statusCode, 200);
});

test("declining is always allowed, also for the asset type's author", async (t) => {
  const { api, root, ada } = await world(t);
  const name = await newOrder(api, root);
  const r = await decide(api, ada, name, "decline");
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(
    r.json<OrderOut>().approvals.map((a) => [a.approver, a.decision]),
    [["ada@example.com", "Declined"]],
  );
  const audit = await api.db.query(
    "SELECT 1 FROM audit_events WHERE action = 'order_declined' AND actor = 'admin:ada'",
  );
  assert.equal(audit.rowCount, 1);
  const m = await api.app.metrics.registry.metrics();
  assert.match(m, /^ipsolis_api_approval_decisions_total\{decision="Declined",source="api"\} 1$/m);
});

test("only listed approvers decide; a deputy decides within the delegation window; delegations only for oneself", async (t) => {
  const { api, root, bert, zed } = await world(t);
  const name = await newOrder(api, root);
  const refused = await decide(api, zed, name, "approve");
  assert.equal(refused.statusCode, 403);
  assert.match(refused.body, /not an approver/);

  const notOwn = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: zed.headers,
    payload: {
      principal: "bert@example.com",
      deputy: "zed@example.com",
      startsAt: api.clock.now.toISOString(),
      endsAt: new Date(api.clock.now.getTime() + 86_400_000).toISOString(),
    },
  });
  assert.equal(notOwn.statusCode, 403);
  assert.match(notOwn.body, /your own approvals/);

  // bert (listed as "bert") delegates to zed for an hour, starting in an hour.
  const d = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: bert.headers,
    payload: {
      principal: "bert",
      deputy: "zed@example.com",
      startsAt: new Date(api.clock.now.getTime() + 3600_000).toISOString(),
      endsAt: new Date(api.clock.now.getTime() + 2 * 3600_000).toISOString(),
    },
  });
  assert.equal(d.statusCode, 201, d.body);
  // bert sees and may withdraw it though it names him by username and he has an e-mail.
  const mine = await api.app.inject({ method: "GET", url: "/delegations", headers: bert.headers });
  assert.deepEqual(
    mine.json<{ items: { id: string; principal: string }[] }>().items.map((x) => x.principal),
    ["bert"],
  );
  const spare = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: bert.headers,
    payload: {
      principal: "bert",
      deputy: "zed@example.com",
      startsAt: new Date(api.clock.now.getTime() + 5 * 3600_000).toISOString(),
      endsAt: new Date(api.clock.now.getTime() + 6 * 3600_000).toISOString(),
    },
  });
  assert.equal(spare.statusCode, 201, spare.body);
  const withdrawn = await api.app.inject({
    method: "DELETE",
    url: `/delegations/${spare.json<{ id: string }>().id}`,
    headers: bert.headers,
  });
  assert.equal(withdrawn.statusCode, 204, withdrawn.body);
  // Not yet in the window.
  assert.equal((await decide(api, zed, name, "approve")).statusCode, 403);
  api.clock.now = new Date(api.clock.now.getTime() + 3600_000 + 1000);
  const byDeputy = await decide(api, zed, name, "approve");
  assert.equal(byDeputy.statusCode, 200, byDeputy.body);
  const entry = byDeputy.json<OrderOut>().approvals[0]!;
  assert.equal(entry.approver, "bert", "the deputy's decision counts for the listed approver");
  assert.match(entry.comment ?? "", /deputy admin:zed/);
});

test("approval links: GET only shows (prefetch-safe), POST acts once, reuse and expiry refused and audited", async (t) => {
  const { api, root } = await world(t);
  const name = await newOrder(api, root);
  const minted = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approval-links`,
    headers: root.headers,
    payload: { approver: "bert", expiresInHours: 24 },
  });
  assert.equal(minted.statusCode, 201, minted.body);
  const path = new URL(minted.json<{ url: string }>().url).pathname;

  // A mail scanner prefetches the link twice: nothing is decided.
  for (let i = 0; i < 2; i++) {
    const g = await api.app.inject({ method: "GET", url: path });
    assert.equal(g.statusCode, 200);
    assert.match(g.body, /Approve or decline/);
  }
  const order = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: root.headers });
  assert.deepEqual(order.json<OrderOut>().approvals, []);

  const page = await api.app.inject({ method: "GET", url: path });
  const jar = cookiesOf(page.headers["set-cookie"]);
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  const form = (csrf: string) => `decision=Approved&comment=ok&_csrf=${encodeURIComponent(csrf)}`;
  const post = (payload: string, c = cookie) =>
    api.app.inject({
      method: "POST",
      url: path,
      headers: { cookie: c, "content-type": "application/x-www-form-urlencoded" },
      payload,
    });

  assert.equal((await post("decision=Approved")).statusCode, 403, "no CSRF token, no action");
  const acted = await post(form(csrfField(page.body)));
  assert.equal(acted.statusCode, 200, acted.body);
  assert.match(acted.body, /approved/);
  const after = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: root.headers });
  assert.deepEqual(
    after.json<OrderOut>().approvals.map((a) => [a.approver, a.decision]),
    [["bert", "Approved"]],
  );

  const reused = await post(form(csrfField(page.body)));
  assert.equal(reused.statusCode, 409);
  assert.match(reused.body, /already been used/);
  const reuseAudit = await api.db.query(
    "SELECT actor FROM audit_events WHERE action = 'approval_link_reused'",
  );
  assert.deepEqual(reuseAudit.rows, [{ actor: "admin:bert" }]);

  // Expired: a fresh link, two days later.
  const name2 = await newOrder(api, root);
  const m2 = await api.app.inject({
    method: "POST",
    url: `/orders/${name2}/approval-links`,
    headers: root.headers,
    payload: { approver: "bert", expiresInHours: 24 },
  });
  const path2 = new URL(m2.json<{ url: string }>().url).pathname;
  const page2 = await api.app.inject({ method: "GET", url: path2 });
  const cookie2 = Object.entries(cookiesOf(page2.headers["set-cookie"]))
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  api.clock.now = new Date(api.clock.now.getTime() + 48 * 3600_000);
  const expired = await api.app.inject({
    method: "POST",
    url: path2,
    headers: { cookie: cookie2, "content-type": "application/x-www-form-urlencoded" },
    payload: form(csrfField(page2.body)),
  });
  assert.equal(expired.statusCode, 410);
  assert.match(expired.body, /expired/);
  const expAudit = await api.db.query(
    "SELECT order_name FROM audit_events WHERE action = 'approval_link_expired'",
  );
  assert.ok(expAudit.rows.some((r: { order_name: string }) => r.order_name === name2));

  // Tampered: the signature no longer matches.
  const tampered = await api.app.inject({
    method: "GET",
    url: path2.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
  });
  assert.equal(tampered.statusCode, 400);
});

test("one audit row per decision: the history mirror running beside the API writes none of its own", async (t) => {
  const { api, root, bert } = await world(t);
  const mirror = await startHistoryMirror({
    kc: api.kc,
    namespace: api.namespace,
    db: api.db,
    log: pino({ level: "silent" }),
  });
  t.after(() => mirror.stop());
  const approved = await newOrder(api, root);
  const declined = await newOrder(api, root);
  assert.equal((await decide(api, bert, approved, "approve")).statusCode, 200);
  assert.equal((await decide(api, bert, declined, "decline")).statusCode, 200);
  await eventually("the mirror has both decisions", async () => {
    await mirror.whenIdle();
    const r = await api.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM order_approvals a JOIN orders o ON o.uid = a.order_uid WHERE o.name = ANY($1)",
      [[approved, declined]],
    );
    return r.rows[0]?.n === 2 ? true : undefined;
  });
  const rows = await api.db.query<{ order_name: string; action: string; actor: string; source: string }>(
    `SELECT order_name, action, actor, source FROM audit_events
      WHERE action IN ('order_approved', 'order_declined') ORDER BY id`,
  );
  assert.deepEqual(
    rows.rows.map((r) => [r.order_name, r.action, r.actor, r.source]),
    [
      [approved, "order_approved", "admin:bert", "api"],
      [declined, "order_declined", "admin:bert", "api"],
    ],
  );
});

/** An Order pending bert's approval, and a mirror running beside the API. */
async function mirrored(t: Parameters<typeof newApi>[0]) {
  const { api, root } = await world(t);
  const mirror = await startHistoryMirror({
    kc: api.kc,
    namespace: api.namespace,
    db: api.db,
    log: pino({ level: "silent" }),
  });
  t.after(() => mirror.stop());
  const name = await newOrder(api, root);
  /** Appends bert's approval to the Order as the API does; returns its `at`. */
  const approve = async () => {
    const at = new Date().toISOString();
    const o = await resourcesOf(api.app.deps).get<OrderSpec, OrderStatus>("Order", name);
    await resourcesOf(api.app.deps).mergePatch<OrderSpec, OrderStatus>(
      "Order",
      name,
      { spec: { approvals: [{ approver: "bert", decision: "Approved", at }] } },
      o!.metadata.resourceVersion,
    );
    return at;
  };
  const rows = async () =>
    (
      await api.db.query<{ actor: string; source: string }>(
        "SELECT actor, source FROM audit_events WHERE action = 'order_approved' AND order_name = $1 ORDER BY id",
        [name],
      )
    ).rows.map((r) => `${r.actor} ${r.source}`);
  const settled = () =>
    eventually("the mirror has the decision", async () => {
      await mirror.whenIdle();
      const q = await api.db.query(
        "SELECT 1 FROM order_approvals a JOIN orders o ON o.uid = a.order_uid WHERE o.name = $1",
        [name],
      );
      return q.rowCount ? true : undefined;
    });
  return { api, name, approve, rows, settled };
}

test("the decision lock: while the API holds it across a slow patch-then-audit, the mirror waits and writes no row", async (t) => {
  const { api, name, approve, rows, settled } = await mirrored(t);
  await withTransaction(api.db, async (c) => {
    await lockOrderDecisions(c, name);
    const at = await approve();
    // The mirror sees the decision now; the API's row is not committed yet. Without the lock it
    // would write its stand-in meanwhile.
    await new Promise((r) => setTimeout(r, 700));
    await appendAudit(c, {
      actor: "admin:bert",
      action: "order_approved",
      target: `order:${name}`,
      order: name,
      source: "api",
      data: { approver: "bert", decision: "Approved", at },
    });
  });
  await settled();
  assert.deepEqual(await rows(), ["admin:bert api"]);
});

test("a decision recorded before rows carried `at` gets no second row when the mirror first starts", async (t) => {
  const { api, name, approve, rows, settled } = await mirrored(t);
  // What the API wrote before this version: no `at` in the row.
  await withTransaction(api.db, async (c) => {
    await lockOrderDecisions(c, name);
    await approve();
    await appendAudit(c, {
      actor: "admin:bert",
      action: "order_approved",
      target: `order:${name}`,
      order: name,
      source: "api",
      data: { approver: "bert", viaDeputy: false },
    });
  });
  await settled();
  assert.deepEqual(await rows(), ["admin:bert api"]);
});
