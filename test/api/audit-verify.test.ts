// GET /audit/verify (api/audit/service.ts verifyAudit) on the real wiring: what a scoped admin
// gets, one verification at a time (a second one while the first runs: 409), and a failed
// verification's connection destroyed instead of going back into the pool.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { appendAudit } from "../../record/audit.ts";
import { addAdmin, newApi, signInAs, type Api } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";
import { eventually } from "../support/kube.ts";

const verify = (api: Api, headers: Record<string, string>) =>
  api.app.inject({ method: "GET", url: "/audit/verify", headers });

test("a scoped admin verifies the whole chain: the same fields as a superadmin, only ids and hashes, no row's content", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  for (const name of ["mine", "other"]) {
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: root.headers,
      payload: { spec: assetTypeSpec() },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  await appendAudit(api.db, {
    actor: "admin:root",
    action: "order_created",
    target: "order:o-other",
    order: "o-other",
    source: "api",
    data: { assetType: "other", secretish: "other-team-detail" },
  });
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["mine"] },
  });
  assert.equal(g.statusCode, 200, g.body);
  const s = await signInAs(api, "sam");

  const scoped = await verify(api, s.headers);
  assert.equal(scoped.statusCode, 200, scoped.body);
  const body = scoped.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body).sort(), ["anchorsChecked", "count", "head", "intact", "message"]);
  const full = (await verify(api, root.headers)).json<Record<string, unknown>>();
  // The chain is one: the count and head cover other teams' rows too (a scoped admin's GET
  // /audit does not list them), but nothing of what those rows say.
  assert.deepEqual({ ...body, count: full.count }, full);
  assert.equal(body.intact, true);
  assert.doesNotMatch(scoped.body, /other-team-detail|o-other|assettype:other/);

  await api.db.query(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE audit_events SET data = '{"forged": true}' WHERE order_name = 'o-other';
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`);
  const broken = await verify(api, s.headers);
  assert.equal(broken.statusCode, 200, broken.body);
  const b = broken.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(b).sort(), ["brokenLink", "intact", "message"]);
  assert.deepEqual(Object.keys(b.brokenLink as object).sort(), ["expected", "field", "found", "id"]);
  assert.doesNotMatch(broken.body, /forged|o-other/);
});

test("one verification at a time: a second one while the first runs is refused with 409, the next one after it runs", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "olga", "auditor");
  const o = await signInAs(api, "olga");
  // Hold the first verification inside its snapshot: a table lock it waits behind.
  const blocker = await api.db.connect();
  await blocker.query("BEGIN; LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE");
  // Released in the body: the test's after hooks drop the database and end the pool first.
  try {
    const first = verify(api, o.headers);
    await eventually("the first verification waits on the table", async () => {
      const r = await api.db.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'relation' AND NOT granted AND relation = 'audit_events'::regclass",
      );
      return r.rowCount ? true : undefined;
    });
    const second = await verify(api, o.headers);
    assert.equal(second.statusCode, 409, second.body);
    assert.deepEqual(second.json(), {
      error: "an audit verification is already running (it reads every row): try again when it has finished",
      reason: "AuditVerificationRunning",
    });
    await blocker.query("COMMIT");
    const done = await first;
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json<{ intact: boolean }>().intact, true);
    const again = await verify(api, o.headers);
    assert.equal(again.statusCode, 200, again.body);
  } finally {
    await blocker.query("ROLLBACK").catch(() => undefined);
    blocker.release();
  }
});

test("a failed verification destroys its connection (never back into the pool) and frees the next one", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "olga", "auditor");
  const o = await signInAs(api, "olga");
  const removed: unknown[] = [];
  api.db.on("remove", (c) => removed.push(c));
  await api.db.query("ALTER TABLE audit_events RENAME TO audit_events_away");
  const failed = await verify(api, o.headers);
  await api.db.query("ALTER TABLE audit_events_away RENAME TO audit_events");
  assert.ok(failed.statusCode >= 500, failed.body);
  assert.doesNotMatch(failed.body, /audit_events/, "no internals");
  // pg-pool emits "remove" once the destroyed client's socket has ended, which can be after
  // the reply: wait for it, then make sure it was exactly the one connection.
  await eventually("the verifying connection destroyed", async () => removed.length > 0 || undefined, 5_000);
  assert.equal(removed.length, 1, "the verifying connection was destroyed");
  const ok = await verify(api, o.headers);
  assert.equal(ok.statusCode, 200, ok.body);
});
