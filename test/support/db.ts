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
 * Creates an empty database and returns its URL and a function that drops it (forcibly: close
 * the clients and pools on it first). For callers that must order the drop after their own
 * teardown; most tests want newDatabase.
 */
export async function createDatabase(prefix = "t"): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const drop = async (): Promise<void> => {
    const d = new pg.Client({ connectionString: adminUrl() });
    await d.connect();
    try {
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await d.end();
    }
  };
  return { url: adminUrl(name), drop };
}

/**
 * Creates an empty database for one test, drops it when the test ends (forcibly: close your
 * clients and pools before the test returns), and returns its URL.
 */
export async function newDatabase(t: Pick<TestContext, "after">, prefix = "t"): Promise<string> {
  const { url, drop } = await createDatabase(prefix);
  t.after(drop);
  return url;
}
