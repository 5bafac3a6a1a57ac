// Foundation acceptance: the test run's Postgres accepts a write and gives it back.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { newDatabase } from "../support/db.ts";

test("write and read a Postgres row in a fresh database", async (t) => {
  const url = await newDatabase(t);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
    );
    assert.equal(tables.rows[0]?.n, 0, "a fresh database has no tables");
    await c.query("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)");
    await c.query("INSERT INTO notes (body) VALUES ($1)", ["hello"]);
    const r = await c.query<{ body: string }>("SELECT body FROM notes");
    assert.deepEqual(
      r.rows.map((x) => x.body),
      ["hello"],
    );
    const v = await c.query<{ server_version_num: string }>("SHOW server_version_num");
    assert.ok(Number(v.rows[0]?.server_version_num) >= 150000);
  } finally {
    // Close before newDatabase's after-hook drops the database (DROP … WITH (FORCE)).
    await c.end();
  }
});
