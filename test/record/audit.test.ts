// The audit log on a real Postgres: appends chain linearly (also concurrently), the
// application role cannot change or delete rows, and a superuser's manual UPDATE is caught by
// the verifier (library and command) naming the row.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { newDatabase } from "../support/db.ts";
import { createPool, migrate } from "../../record/db.ts";
import { appendAudit, verifyStoredChain, redactSecrets, auditDiff } from "../../record/audit.ts";

const run = promisify(execFile);

async function setup(t: Parameters<typeof newDatabase>[0]) {
  const url = await newDatabase(t);
  await migrate(url);
  const db = createPool(url);
  t.after(() => db.end());
  return { url, db };
}

test("appends chain linearly, also 200 concurrent ones, and verify says intact", async (t) => {
  const { db, url } = await setup(t);
  const first = await appendAudit(db, {
    actor: "user:anna@example.com",
    action: "order_created",
    target: "order:laptop-1",
    order: "laptop-1",
    requestId: "req-1",
    source: "portal",
    data: {
      note: 'quotes " and \\ backslash, newline\n, ümlaut, emoji 🎉',
      n: 1.5,
      nested: { z: 1, a: [true, null] },
    },
  });
  assert.equal(first.id, "1");
  assert.ok(first.at instanceof Date);
  await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      appendAudit(db, {
        actor: "system:operator",
        action: "order_processing",
        order: `o-${i}`,
        source: "operator",
      }),
    ),
  );
  const check = await verifyStoredChain(db);
  assert.ok(check.ok, JSON.stringify(check));
  assert.equal(check.count, 201);
  const ids = await db.query<{ id: string }>("SELECT id::text FROM audit_events ORDER BY audit_events.id");
  assert.deepEqual(
    ids.rows.map((r) => Number(r.id)),
    Array.from({ length: 201 }, (_, i) => i + 1),
  );
  const { stdout } = await run("node", ["record/verify-audit.ts", "--database-url", url]);
  assert.match(stdout, /intact: 201 rows/);
});

test("an audit row joins the caller's transaction: rolled back with it", async (t) => {
  const { db } = await setup(t);
  const c = await db.connect();
  try {
    await c.query("BEGIN");
    await appendAudit(c, { actor: "system:api", action: "asset_type_updated", source: "api" });
    await c.query("ROLLBACK");
  } finally {
    c.release();
  }
  const n = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events");
  assert.equal(n.rows[0]?.n, 0);
  const again = await appendAudit(db, { actor: "system:api", action: "asset_type_updated", source: "api" });
  assert.equal(again.id, "1", "the rolled-back append left no gap in the chain");
});

test("the application role can append and read, but not UPDATE, DELETE or TRUNCATE", async (t) => {
  const { db, url } = await setup(t);
  await appendAudit(db, { actor: "system:api", action: "token_created", source: "api" });
  const login = `app_${randomBytes(4).toString("hex")}`;
  // The test server trusts local connections: a LOGIN role in ipsolis_app is the deployment shape.
  const owner = `own_${randomBytes(4).toString("hex")}`;
  await db.query(`CREATE ROLE ${login} LOGIN IN ROLE ipsolis_app; CREATE ROLE ${owner} LOGIN`);
  try {
    await checkRoles(url, login, owner, db);
  } finally {
    await db.query(`DROP OWNED BY ${owner}; DROP ROLE ${owner}; DROP ROLE ${login}`);
  }
});

async function checkRoles(url: string, login: string, owner: string, db: pg.Pool) {
  const u = new URL(url);
  u.username = login;
  const app = new pg.Client({ connectionString: u.toString() });
  await app.connect();
  try {
    const appended = await appendAudit(app, { actor: "system:api", action: "token_revoked", source: "api" });
    assert.equal(appended.id, "2");
    const read = await app.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events");
    assert.equal(read.rows[0]?.n, 2);
    for (const sql of [
      "UPDATE audit_events SET actor = 'x' WHERE id = 1",
      "DELETE FROM audit_events WHERE id = 1",
      "TRUNCATE audit_events",
      "UPDATE audit_chain_head SET last_id = 0",
      "INSERT INTO audit_events (id, at, actor, action, source, prev_hash, hash) VALUES (99, now(), 'a', 'b', 'c', 'd', 'e')",
    ]) {
      await assert.rejects(app.query(sql), /permission denied/, sql);
    }
  } finally {
    await app.end();
  }
  // Even the owner (a non-superuser migrating role) is stopped by the trigger.
  await db.query(`GRANT SELECT, UPDATE, DELETE, TRUNCATE ON audit_events TO ${owner}`);
  u.username = owner;
  const o = new pg.Client({ connectionString: u.toString() });
  await o.connect();
  try {
    await assert.rejects(
      o.query("UPDATE audit_events SET actor = 'x' WHERE id = 1"),
      /append-only: UPDATE refused/,
    );
    await assert.rejects(o.query("DELETE FROM audit_events WHERE id = 1"), /append-only: DELETE refused/);
    await assert.rejects(o.query("TRUNCATE audit_events"), /append-only: TRUNCATE refused/);
  } finally {
    await o.end();
  }
}

test("tamper detection: a superuser's manual UPDATE is reported with the row id, exit code 1", async (t) => {
  const { db, url } = await setup(t);
  for (let i = 0; i < 5; i++) {
    await appendAudit(db, {
      actor: "system:operator",
      action: "order_scheduled",
      order: `o-${i}`,
      source: "operator",
    });
  }
  await db.query(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE audit_events SET data = '{"forged": true}' WHERE id = 3;
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`);
  const check = await verifyStoredChain(db, 2);
  assert.equal(check.ok, false);
  assert.ok(!check.ok);
  assert.equal(check.id, "3");
  assert.equal(check.field, "hash");
  assert.notEqual(check.expected, check.found);
  const r = await run("node", ["record/verify-audit.ts", "--database-url", url]).then(
    () => ({ code: 0, stdout: "" }),
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal(r.code, 1);
  assert.match(r.stdout, /broken link at audit row 3: hash/);
  assert.match(r.stdout, /expected [0-9a-f]{64}/);
});

test("deleting the newest row (as superuser) is caught by the chain head", async (t) => {
  const { db } = await setup(t);
  for (let i = 0; i < 3; i++)
    await appendAudit(db, { actor: "system:api", action: "x_happened", source: "api" });
  await db.query(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
    DELETE FROM audit_events WHERE id = 3;
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`);
  const check = await verifyStoredChain(db);
  assert.ok(!check.ok);
  assert.equal(check.field, "head");
});

test("a secret parameter is redacted in a stored config diff and in stored step output", async (t) => {
  const { db } = await setup(t);
  const before = {
    steps: [
      {
        name: "set",
        parameters: [
          { name: "password", value: "hunter2" },
          { name: "user", value: "anna" },
        ],
      },
    ],
  };
  const after = {
    steps: [
      {
        name: "set",
        parameters: [
          { name: "password", value: "s3cr3t!" },
          { name: "user", value: "bob" },
        ],
      },
    ],
  };
  await appendAudit(db, {
    actor: "admin:root",
    action: "runbook_updated",
    target: "Runbook/reset",
    source: "api",
    data: auditDiff(before, after, ["password"]),
  });
  await appendAudit(db, {
    actor: "runner:reset-1",
    action: "step_output",
    source: "runner",
    data: redactSecrets({ text: "logging in with s3cr3t! as bob" }, [], ["s3cr3t!"]),
  });
  const all = await db.query<{ t: string }>("SELECT string_agg(data::text, ' ') AS t FROM audit_events");
  const text = all.rows[0]?.t ?? "";
  assert.ok(!text.includes("hunter2") && !text.includes("s3cr3t!"), text);
  assert.match(text, /"\[redacted\]"/);
  assert.match(text, /"bob"/);
});

test("NUL characters (valid JSON, refused by Postgres text/jsonb) never make an append fail", async (t) => {
  const { db } = await setup(t);
  await appendAudit(db, {
    actor: "user:a\u0000b@example.com",
    action: "order_created",
    target: "order:x\u0000",
    source: "portal",
    data: { reason: "needs\u0000it", ["k\u0000"]: ["\u0000"] },
  });
  const r = await db.query<{ actor: string; data: unknown }>("SELECT actor, data FROM audit_events");
  assert.equal(r.rows[0]?.actor, "user:a\uFFFDb@example.com");
  assert.deepEqual(r.rows[0]?.data, { reason: "needs\uFFFDit", ["k\uFFFD"]: ["\uFFFD"] });
  const check = await verifyStoredChain(db);
  assert.ok(check.ok, JSON.stringify(check));
});
