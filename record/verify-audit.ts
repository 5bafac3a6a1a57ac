// Verifies the audit log's hash chain:
//   node record/verify-audit.ts --database-url postgres://… \
//     [--anchors-configmap <namespace>/<name> [--kubeconfig <path>]] [--anchors-file <path>]
// Exit 0 and "intact: N rows" when every link holds (and every anchor matches its row); exit 1
// and the first broken link (row id, expected vs found) or the first anchor that no longer
// matches otherwise; exit 2 when the database or the anchors cannot be read.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { verifyStoredChain, type ChainCheck } from "./audit.ts";
import { checkAnchors, parseAnchors, readAnchorConfigMap, type Anchor, type AnchorCheck } from "./anchor.ts";

export function describeCheck(c: ChainCheck, a?: AnchorCheck): string {
  if (!c.ok) return `broken link at audit row ${c.id}: ${c.field} expected ${c.expected}, found ${c.found}`;
  if (a && !a.ok) return `anchor mismatch: ${a.message}`;
  const anchors = a ? `; ${a.checked} anchors match` : "";
  return `intact: ${c.count} rows, head ${c.lastId ?? "none"} ${c.lastHash}${anchors}`;
}

/**
 * Walks the chain in one snapshot (appends during verification do not confuse it) and, when
 * it holds, compares the anchors with their rows. `c` is a connection of its own (a pg.Client,
 * or a client taken from a pool): the snapshot is a transaction on it. The verify command and
 * `GET /audit/verify` both call this.
 */
export async function verifyRecord(
  c: Pick<pg.ClientBase, "query">,
  anchors: readonly Anchor[] | undefined,
): Promise<{ chain: ChainCheck; anchors: AnchorCheck | undefined }> {
  await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const chain = await verifyStoredChain(c);
    let a: AnchorCheck | undefined;
    if (chain.ok && anchors) {
      const r = await c.query<{ id: string; hash: string }>(
        "SELECT id::text, hash FROM audit_events WHERE id = ANY($1::bigint[])",
        [anchors.map((x) => x.id)],
      );
      a = checkAnchors(anchors, new Map(r.rows.map((x) => [x.id, x.hash])));
    }
    await c.query("COMMIT");
    return { chain, anchors: a };
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

const USAGE =
  "usage: node record/verify-audit.ts --database-url postgres://… [--anchors-configmap <namespace>/<name> [--kubeconfig <path>]] [--anchors-file <path>]\n";

async function loadAnchors(values: {
  "anchors-configmap"?: string | undefined;
  "anchors-file"?: string | undefined;
  kubeconfig?: string | undefined;
}): Promise<Anchor[] | undefined> {
  const out: Anchor[] = [];
  const ref = values["anchors-configmap"];
  if (ref !== undefined) {
    const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(ref);
    if (!m) throw new Error(`--anchors-configmap must be <namespace>/<name>, got "${ref}"`);
    const kc = new k8s.KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
    out.push(...(await readAnchorConfigMap(kc, m[1]!, m[2])));
  }
  if (values["anchors-file"] !== undefined)
    out.push(...parseAnchors(await readFile(values["anchors-file"], "utf8")));
  return ref === undefined && values["anchors-file"] === undefined ? undefined : out;
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "database-url": { type: "string" },
        "anchors-configmap": { type: "string" },
        "anchors-file": { type: "string" },
        kubeconfig: { type: "string" },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const url = values["database-url"];
  if (!url) {
    process.stderr.write(USAGE);
    return 2;
  }
  let anchors: Anchor[] | undefined;
  try {
    anchors = await loadAnchors(values);
  } catch (err) {
    process.stderr.write(`cannot read the audit anchors: ${(err as Error).message}\n`);
    return 2;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { chain: c, anchors: a } = await verifyRecord(client, anchors);
    process.stdout.write(describeCheck(c, a) + "\n");
    return c.ok && (a?.ok ?? true) ? 0 : 1;
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
