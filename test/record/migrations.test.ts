// Migrations on a real Postgres: from empty, re-run as a no-op, two concurrent starts apply
// each file once, a failing file leaves nothing of itself behind, and an unreachable server is
// a clear UnavailableError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { newDatabase } from "../support/db.ts";
import { migrate } from "../../record/db.ts";
import { UnavailableError } from "../../record/errors.ts";
import { freePort } from "../cluster/control-plane.ts";

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), "../../record/migrations");

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

async function allFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS)).filter((f) => f.endsWith(".sql")).sort();
}

test("from empty every file is applied once; a re-run is a no-op", async (t) => {
  const url = await newDatabase(t);
  const files = await allFiles();
  const first = await migrate(url);
  assert.deepEqual(first.applied, files);
  assert.equal(first.alreadyApplied, 0);
  const tables = await query<{ t: string }>(
    url,
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'",
  );
  for (const want of [
    "audit_events",
    "step_output_lines",
    "orders",
    "order_phases",
    "step_runs",
    "cost_alerts",
  ]) {
    assert.ok(
      tables.some((r) => r.t === want),
      `table ${want} exists`,
    );
  }
  const again = await migrate(url);
  assert.deepEqual(again, { applied: [], alreadyApplied: files.length });
});

test("two concurrent migrate() calls apply each file exactly once", async (t) => {
  const url = await newDatabase(t);
  const files = await allFiles();
  const [a, b] = await Promise.all([migrate(url), migrate(url)]);
  assert.deepEqual([...a.applied, ...b.applied].sort(), files, "each file applied by exactly one of them");
  const rows = await query<{ name: string; n: number }>(
    url,
    "SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name ORDER BY name",
  );
  assert.deepEqual(
    rows.map((r) => [r.name, r.n]),
    files.map((f) => [f, 1]),
  );
});

test("two databases migrating at once both get the cluster-wide role", async (t) => {
  const [u1, u2] = await Promise.all([newDatabase(t), newDatabase(t)]);
  await Promise.all([migrate(u1), migrate(u2)]);
  const r = await query<{ n: number }>(
    u1,
    "SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'ipsolis_app'",
  );
  assert.equal(r[0]?.n, 1);
});

test("a failing migration leaves nothing of itself and names the file", async (t) => {
  const url = await newDatabase(t);
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-mig-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The record's own range (0001–0099) only: the test does not depend on other areas' files.
  await cp(MIGRATIONS, dir, { recursive: true, filter: (src) => !/\/0[1-9]\d\d_[^/]*$/.test(src) });
  await writeFile(
    join(dir, "0099_break_things.sql"),
    "CREATE TABLE half_applied (x int);\nINSERT INTO half_applied VALUES (1);\nSELECT 1 / 0;\n",
  );
  await assert.rejects(migrate(url, { dir }), (err: Error) => {
    assert.match(
      err.message,
      /migration 0099_break_things\.sql failed \(nothing of it was applied\): division by zero/,
    );
    return true;
  });
  const t1 = await query<{ n: number }>(
    url,
    "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'half_applied'",
  );
  assert.equal(t1[0]?.n, 0, "the failing file's table is gone");
  const applied = await query<{ name: string }>(url, "SELECT name FROM schema_migrations ORDER BY name");
  assert.ok(!applied.some((r) => r.name === "0099_break_things.sql"));
  // The files before it stay applied, and a fixed file applies on the next start.
  assert.ok(applied.some((r) => r.name === "0001_create_audit_events.sql"));
  await writeFile(join(dir, "0099_break_things.sql"), "CREATE TABLE half_applied (x int);\n");
  const fixed = await migrate(url, { dir });
  assert.deepEqual(fixed.applied, ["0099_break_things.sql"]);
});

test("an unreachable database is a clear UnavailableError", async () => {
  const port = await freePort();
  await assert.rejects(migrate(`postgres://postgres@127.0.0.1:${port}/nope`), (err: unknown) => {
    assert.ok(err instanceof UnavailableError);
    assert.equal(err.status, 503);
    assert.match(err.message, /cannot reach the database to migrate it: .*ECONNREFUSED/);
    return true;
  });
});
