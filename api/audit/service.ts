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
