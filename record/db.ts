// Postgres access shared by the API and the operator: one pool per process, and the
// migrations in record/migrations applied once under an advisory lock at start-up.
import pg from "pg";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UnavailableError } from "./errors.ts";

export type Db = pg.Pool;
/** Anything that can run a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");
/** Arbitrary but fixed: every ipsolis process takes this advisory lock to migrate. */
const MIGRATION_LOCK_KEY = 0x1950_115;

/** SQLSTATE classes that mean "the server is not there (yet)", not "your SQL is wrong". */
function isUnreachable(err: unknown): boolean {
  const e = err as { code?: string };
  return (
    ["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "57P03", "53300"].includes(
      e.code ?? "",
    ) ||
    (e.code?.startsWith("08") ?? false)
  );
}

/** Translates a pg failure where it enters: unreachable → UnavailableError (503). */
export function translatePgError(err: unknown, what: string): unknown {
  if (isUnreachable(err)) {
    return new UnavailableError(`database unavailable while ${what}`, { cause: err });
  }
  return err;
}

export function createPool(url: string, opts: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? "ipsolis",
    connectionTimeoutMillis: 5000,
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await db.connect().catch((err: unknown) => {
    throw translatePgError(err, "opening a transaction");
  });
  try {
    await c.query("BEGIN");
    const r = await fn(c);
    await c.query("COMMIT");
    return r;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export type MigrationResult = { applied: string[]; alreadyApplied: number };

/**
 * Applies every migration file not yet recorded, in file-name order, each in its own
 * transaction, all under one advisory lock: two processes starting together apply each file
 * once, and a failing file leaves nothing of itself behind.
 */
export async function migrate(url: string, opts: { dir?: string } = {}): Promise<MigrationResult> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new UnavailableError(`cannot reach the database to migrate it: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await client.query<{ name: string }>("SELECT name FROM schema_migrations")).rows.map((r) => r.name),
    );
    const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
    const applied: string[] = [];
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = await readFile(join(dir, f), "utf8");
      try {
        await client.query("BEGIN");
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (name) VALUES ($1)", [f]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw new Error(`migration ${f} failed (nothing of it was applied): ${(err as Error).message}`, {
          cause: err,
        });
      }
      applied.push(f);
    }
    // The least-privileged role reads which migrations ran (record/migrate.ts schemaStatus), so
    // the API and the operator can refuse to start on a schema that is behind.
    await client.query(
      `DO $$ BEGIN
         IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipsolis_app') THEN
           GRANT SELECT ON schema_migrations TO ipsolis_app;
         END IF;
       END $$`,
    );
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query("SELECT pg_advisory_unlock_all()").catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
