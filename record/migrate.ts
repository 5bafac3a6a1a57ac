// The schema's two sides for a deployment where the processes run as the least-privileged
// role: `node record/migrate.ts` applies the migrations with the schema owner's URL (the Helm
// chart's pre-install/pre-upgrade Job, Argo CD PreSync), and `requireCurrentSchema` lets the
// API and the operator refuse to start, with a message that says what to do, when the database
// is behind the code they run. Importing this module starts nothing.
//
//   node record/migrate.ts [--database-url URL] [--check]
//     URL defaults to $IPSOLIS_MIGRATE_DATABASE_URL, then $IPSOLIS_DATABASE_URL.
//     exit 0: applied (or, with --check, current); 1: a migration failed (or --check: behind);
//     2: bad usage or the database cannot be reached.
import pg from "pg";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { migrate } from "./db.ts";
import { UnavailableError } from "./errors.ts";

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

/** How a process handles the schema at start: apply the migrations, or only check them. */
export type MigrationMode = "apply" | "check";

export type SchemaStatus = {
  /** Migration files of this code the database has not applied, in order. */
  pending: string[];
  /** Migrations the database has applied that this code does not know (a newer version ran). */
  unknown: string[];
};

/** Thrown when the database is behind the code: the message names the migrations and the fix. */
export class SchemaBehindError extends Error {
  override name = "SchemaBehindError";
  readonly pending: string[];
  constructor(pending: string[]) {
    super(
      `the database schema is behind this version of ipsolis: ${pending.length} migration(s) not applied ` +
        `(${pending.slice(0, 5).join(", ")}${pending.length > 5 ? ", …" : ""}). ` +
        "Run the migrations as the schema owner first: `node record/migrate.ts` with " +
        "IPSOLIS_MIGRATE_DATABASE_URL set to the owner's URL (the Helm chart's ipsolis-migrate Job " +
        "does this before every install and upgrade; see docs/install.md).",
    );
    this.pending = pending;
  }
}

export async function migrationFiles(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
}

/** Reads which migrations the database has applied; needs only SELECT on schema_migrations. */
export async function schemaStatus(url: string, opts: { dir?: string } = {}): Promise<SchemaStatus> {
  const files = await migrationFiles(opts.dir);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new UnavailableError(`cannot reach the database to check its schema: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const exists = await client.query<{ t: string | null }>(
      "SELECT to_regclass('schema_migrations')::text AS t",
    );
    const done = new Set(
      exists.rows[0]?.t
        ? (await client.query<{ name: string }>("SELECT name FROM schema_migrations")).rows.map((r) => r.name)
        : [],
    );
    return {
      pending: files.filter((f) => !done.has(f)),
      unknown: [...done].filter((f) => !files.includes(f)).sort(),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Resolves when every migration of this code is applied; throws SchemaBehindError if not. */
export async function requireCurrentSchema(url: string, opts: { dir?: string } = {}): Promise<SchemaStatus> {
  const s = await schemaStatus(url, opts);
  if (s.pending.length > 0) throw new SchemaBehindError(s.pending);
  return s;
}

/**
 * What a process does with the schema at start: `apply` migrates (with the owner's URL when one
 * is given), `check` only verifies that the schema is current.
 */
export async function prepareSchema(opts: {
  mode: MigrationMode;
  url: string;
  migrateUrl?: string | undefined;
}): Promise<{ applied: string[]; unknown: string[] }> {
  if (opts.mode === "check") {
    const s = await requireCurrentSchema(opts.url);
    return { applied: [], unknown: s.unknown };
  }
  const r = await migrate(opts.migrateUrl ?? opts.url);
  return { applied: r.applied, unknown: [] };
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { "database-url": { type: "string" }, check: { type: "boolean" }, help: { type: "boolean" } },
    }).values;
  } catch (err) {
    process.stderr.write(`migrate: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write("usage: node record/migrate.ts [--database-url URL] [--check]\n");
    return 0;
  }
  const url = args["database-url"] ?? env.IPSOLIS_MIGRATE_DATABASE_URL ?? env.IPSOLIS_DATABASE_URL;
  if (!url) {
    process.stderr.write(
      "migrate: no database: pass --database-url or set IPSOLIS_MIGRATE_DATABASE_URL (the schema owner's URL)\n",
    );
    return 2;
  }
  const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
  try {
    if (args.check) {
      const s = await schemaStatus(url);
      say({ msg: s.pending.length ? "schema behind" : "schema current", ...s });
      return s.pending.length ? 1 : 0;
    }
    const r = await migrate(url);
    say({ msg: "migrations applied", applied: r.applied, alreadyApplied: r.alreadyApplied });
    return 0;
  } catch (err) {
    process.stderr.write(`migrate: ${(err as Error).message}\n`);
    return err instanceof UnavailableError ? 2 : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
