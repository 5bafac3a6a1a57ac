// A fresh Postgres database per test on the server started by test/run.ts.
import pg from "pg";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { testEnv } from "./env.ts";

export function adminUrl(database = "postgres"): string {
  const u = new URL(testEnv().pgAdminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates an empty database for one test, drops it when the test ends (forcibly: close your
 * clients and pools before the test returns), and returns its URL.
 */
export async function newDatabase(t: Pick<TestContext, "after">, prefix = "t"): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  t.after(async () => {
    const d = new pg.Client({ connectionString: adminUrl() });
    await d.connect();
    try {
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await d.end();
    }
  });
  return adminUrl(name);
}
