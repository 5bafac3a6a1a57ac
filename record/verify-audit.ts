// Verifies the audit log's hash chain: `node record/verify-audit.ts --database-url postgres://…`
// Exit 0 and "intact: N rows" when every link holds; exit 1 and the first broken link (row id,
// expected vs found) otherwise; exit 2 when the database cannot be read.
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { verifyStoredChain, type ChainCheck } from "./audit.ts";

export function describeCheck(c: ChainCheck): string {
  return c.ok
    ? `intact: ${c.count} rows, head ${c.lastId ?? "none"} ${c.lastHash}`
    : `broken link at audit row ${c.id}: ${c.field} expected ${c.expected}, found ${c.found}`;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { "database-url": { type: "string" } } });
  const url = values["database-url"];
  if (!url) {
    process.stderr.write("usage: node record/verify-audit.ts --database-url postgres://…\n");
    return 2;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    // One snapshot for the whole walk: appends during verification do not confuse it.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const c = await verifyStoredChain(client);
    await client.query("COMMIT");
    process.stdout.write(describeCheck(c) + "\n");
    return c.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`cannot verify the audit log: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
