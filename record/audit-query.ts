// Reading the audit log: filters, an opaque cursor on (at, id), newest first; and CSV export.
import { Readable } from "node:stream";
import { InputError } from "./errors.ts";
import { translatePgError, type Queryable } from "./db.ts";

export type AuditFilter = {
  actor?: string | undefined;
  order?: string | undefined;
  target?: string | undefined;
  action?: string | undefined;
  /** Inclusive. */
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  /**
   * A scoped admin's view: only rows about these asset types (their `assettype:` rows, the rows
   * of their runbooks, and the rows of orders for them). Undefined: every row.
   */
  scope?: { assetTypes: readonly string[]; runbooks: readonly string[] } | undefined;
};

export type AuditRow = {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  order: string | null;
  requestId: string | null;
  source: string;
  data: Record<string, unknown>;
  hash: string;
};

type Cursor = { at: string; id: string };

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url");
}

export function decodeCursor(s: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as unknown;
    // Exactly what encodeCursor writes: an ISO instant (Date.parse alone accepts "1" or "March 7",
    // which Postgres refuses) and an id within bigint. A tampered cursor is a 400, never a 500.
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === "string" &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v[0]) &&
      !Number.isNaN(Date.parse(v[0])) &&
      typeof v[1] === "string" &&
      /^\d{1,19}$/.test(v[1]) &&
      BigInt(v[1]) <= 9_223_372_036_854_775_807n
    ) {
      return { at: v[0], id: v[1] };
    }
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  throw new InputError("invalid cursor", { reason: "InvalidCursor" });
}

/** One page, newest first; `next` is the cursor of the following page, or null at the end. */
export async function queryAudit(
  q: Queryable,
  f: AuditFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: AuditRow[]; next: string | null }> {
  const c = page.cursor ? decodeCursor(page.cursor) : undefined;
  const r = await q
    .query<{
      id: string;
      at: Date;
      actor: string;
      action: string;
      target: string | null;
      order_name: string | null;
      request_id: string | null;
      source: string;
      data: Record<string, unknown>;
      hash: string;
    }>(
      `SELECT audit_events.id::text AS id, at, actor, action, target, order_name, request_id, source, data, hash
         FROM audit_events
        WHERE ($1::text IS NULL OR actor = $1)
          AND ($2::text IS NULL OR order_name = $2)
          AND ($3::text IS NULL OR target = $3)
          AND ($4::text IS NULL OR action = $4)
          AND ($5::timestamptz IS NULL OR at >= $5)
          AND ($6::timestamptz IS NULL OR at < $6)
          AND ($7::timestamptz IS NULL OR (at, audit_events.id) < ($7, $8::bigint))
          AND ($10::text[] IS NULL OR target = ANY($11::text[])
               OR (order_name IS NOT NULL AND (
                    EXISTS (SELECT 1 FROM audit_events c
                             WHERE c.order_name = audit_events.order_name AND c.action = 'order_created'
                               AND c.data->>'assetType' = ANY($10::text[]))
                    OR EXISTS (SELECT 1 FROM orders o
                                WHERE o.name = audit_events.order_name AND o.asset_type = ANY($10::text[])))))
        ORDER BY at DESC, audit_events.id DESC
        LIMIT $9`,
      [
        f.actor ?? null,
        f.order ?? null,
        f.target ?? null,
        f.action ?? null,
        f.from ?? null,
        f.to ?? null,
        c?.at ?? null,
        c?.id ?? null,
        page.limit + 1,
        f.scope ? [...f.scope.assetTypes] : null,
        f.scope
          ? [
              ...f.scope.assetTypes.map((t) => `assettype:${t}`),
              ...f.scope.runbooks.map((r) => `runbook:${r}`),
            ]
          : null,
      ],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading the audit log");
    });
  const rows = r.rows.slice(0, page.limit);
  const items = rows.map((x) => ({
    id: x.id,
    at: x.at.toISOString(),
    actor: x.actor,
    action: x.action,
    target: x.target,
    order: x.order_name,
    requestId: x.request_id,
    source: x.source,
    data: x.data,
    hash: x.hash,
  }));
  const last = items.at(-1);
  return {
    items,
    next: r.rows.length > page.limit && last ? encodeCursor({ at: last.at, id: last.id }) : null,
  };
}

/**
 * One CSV field (RFC 4180 quoting). Cells that a spreadsheet would run as a formula (=, +, -,
 * @, tab, CR) get a leading apostrophe: an auditor opening the export must not execute
 * attacker-chosen text from a target or comment (CSV injection).
 */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return values.map(csvField).join(",") + "\r\n";
}

export const AUDIT_CSV_HEADER = [
  "id",
  "at",
  "actor",
  "action",
  "target",
  "order",
  "request_id",
  "source",
  "data",
  "hash",
];

export function auditCsvLine(r: AuditRow): string {
  return csvLine([r.id, r.at, r.actor, r.action, r.target, r.order, r.requestId, r.source, r.data, r.hash]);
}

/**
 * The CSV export as a stream pulled page by page (keyset pagination keeps each page cheap). Pulled,
 * not pushed: the next page is read only when the client has taken the previous one, and a client
 * that goes away stops the export (a pushed loop buffered up to `maxRows` rows in memory).
 */
export function auditCsvStream(
  q: Queryable,
  f: AuditFilter,
  opts: { cursor?: string | undefined; pageSize?: number; maxRows?: number } = {},
): Readable {
  const pageSize = opts.pageSize ?? 1000;
  const maxRows = opts.maxRows ?? 1_000_000;
  async function* pages(): AsyncGenerator<string> {
    yield csvLine(AUDIT_CSV_HEADER);
    let cursor = opts.cursor;
    let n = 0;
    for (;;) {
      const page = await queryAudit(q, f, { limit: Math.min(pageSize, maxRows - n), cursor });
      yield page.items.map(auditCsvLine).join("");
      n += page.items.length;
      if (!page.next || n >= maxRows) return;
      cursor = page.next;
    }
  }
  return Readable.from(pages(), { objectMode: false, highWaterMark: 64 * 1024 });
}
