// The audit service: what one caller may read of the record (a scoped admin only the rows of
// their asset types, issue #15), one page or every row as CSV. The JSON route (api/routes/audit)
// and the console's audit page call these functions, so the page and the API show the same rows.
import type { FastifyRequest } from "fastify";
import type { Readable } from "node:stream";
import {
  auditCsvStream,
  decodeCursor,
  queryAudit,
  type AuditFilter,
  type AuditRow,
} from "../../record/audit-query.ts";
import { verifyStoredChain, type ChainCheck } from "../../record/audit.ts";
import { readAnchorConfigMap, type Anchor } from "../../record/anchor.ts";
import { translatePgError } from "../../record/db.ts";
import { ConflictError } from "../../record/errors.ts";
import { describeCheck, verifyRecord } from "../../record/verify-audit.ts";
import { aclReachFor } from "../plugins/acl.ts";

const CSV_PAGE = 1000;
/** Upper bound of one CSV export; narrow the time range for more. */
const CSV_MAX_ROWS = 1_000_000;

export type AuditSearch = Omit<AuditFilter, "scope">;

async function scoped(req: FastifyRequest, f: AuditSearch): Promise<AuditFilter> {
  return { ...f, scope: await aclReachFor(req) };
}

/** One page, newest first, and the cursor of the next (null at the end). */
export async function searchAudit(
  req: FastifyRequest,
  f: AuditSearch,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: AuditRow[]; next: string | null }> {
  return queryAudit(req.server.deps.db, await scoped(req, f), page);
}

/**
 * Every matching row as CSV, pulled page by page as the client reads (back-pressure). A bad
 * cursor is a 400 before the first byte, not a stream broken after the header.
 */
export async function auditCsv(req: FastifyRequest, f: AuditSearch, cursor?: string): Promise<Readable> {
  if (cursor) decodeCursor(cursor);
  const out = auditCsvStream(req.server.deps.db, await scoped(req, f), {
    cursor,
    pageSize: CSV_PAGE,
    maxRows: CSV_MAX_ROWS,
  });
  out.once("error", (err) => req.log.error({ err }, "audit CSV export failed midway"));
  return out;
}

export type ChainStatus = {
  check: ChainCheck;
  lastAnchor: Anchor | undefined;
};

/** The chain's verification (every row, as the verify command does) and the last anchor. */
export async function chainStatus(req: FastifyRequest): Promise<ChainStatus> {
  const deps = req.server.deps;
  const check = await verifyStoredChain(deps.db);
  const anchors = await readAnchorConfigMap(deps.kc, deps.namespace).catch((err: unknown) => {
    if ((err as { code?: number }).code === 404) return [];
    throw err;
  });
  return { check, lastAnchor: anchors.at(-1) };
}

/** What `GET /audit/verify` answers: the verify command's check, as JSON. */
export type AuditVerification = {
  intact: boolean;
  /** The verify command's sentence: "intact: N rows, head …", or the first broken link. */
  message: string;
  count?: number;
  head?: { id: string | null; hash: string };
  anchorsChecked?: number;
  lastAnchor?: Anchor;
  brokenLink?: { id: string; field: string; expected: string; found: string };
  anchorMismatch?: { id: string; at: string; anchored: string; found: string | null };
};

/**
 * The session advisory lock one verification holds (one bigint key; record/db.ts and
 * record/audit.ts use other keys). Exported for the test that plays another replica.
 */
export const VERIFY_LOCK_KEY = 0x1950_117;

/**
 * Verifies the whole chain as `node record/verify-audit.ts --anchors-configmap` does (one
 * snapshot on a connection of its own; the anchors the operator keeps in this namespace).
 *
 * One verification at a time, across every API replica (a session advisory lock): a walk of
 * every row is expensive, so a second one while the first runs is refused with 409
 * `AuditVerificationRunning` at once rather than queued. A connection that failed is destroyed,
 * never put back into the pool (it may still be inside the snapshot's transaction or hold the
 * lock); that also releases the lock.
 */
export async function verifyAudit(req: FastifyRequest): Promise<AuditVerification> {
  const deps = req.server.deps;
  const anchors = await readAnchorConfigMap(deps.kc, deps.namespace).catch((err: unknown) => {
    if ((err as { code?: number }).code === 404) return [];
    throw err;
  });
  const c = await deps.db.connect().catch((err: unknown) => {
    throw translatePgError(err, "verifying the audit log");
  });
  let r: Awaited<ReturnType<typeof verifyRecord>>;
  try {
    const lock = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [VERIFY_LOCK_KEY]);
    if (!lock.rows[0]?.ok) {
      c.release();
      throw new ConflictError(
        "an audit verification is already running (it reads every row): try again when it has finished",
        { reason: "AuditVerificationRunning" },
      );
    }
    r = await verifyRecord(c, anchors);
    await c.query("SELECT pg_advisory_unlock($1)", [VERIFY_LOCK_KEY]);
  } catch (err) {
    if (err instanceof ConflictError) throw err;
    c.release(err instanceof Error ? err : new Error(String(err)));
    throw translatePgError(err, "verifying the audit log");
  }
  c.release();
  const { chain, anchors: a } = r;
  const message = describeCheck(chain, a);
  if (!chain.ok) {
    const { id, field, expected, found } = chain;
    return { intact: false, message, brokenLink: { id, field, expected, found } };
  }
  if (a && !a.ok) {
    return {
      intact: false,
      message,
      anchorMismatch: { id: a.anchor.id, at: a.anchor.at, anchored: a.anchor.hash, found: a.found },
    };
  }
  return {
    intact: true,
    message,
    count: chain.count,
    head: { id: chain.lastId, hash: chain.lastHash },
    anchorsChecked: a?.ok ? a.checked : 0,
    ...(anchors.length > 0 ? { lastAnchor: anchors.at(-1) } : {}),
  };
}
