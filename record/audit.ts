// The audit log: every write path appends here (inside the same transaction as its change,
// where there is one). Rows are append-only and hash-chained in Postgres (migration 0001);
// verifyChain() recomputes the chain, redactSecrets() keeps secret values out of `data`.
import { createHash } from "node:crypto";
import { translatePgError, type Queryable } from "./db.ts";

export type AuditEntry = {
  /** `user:<email>`, `admin:<username>`, `token:<name>`, `admin:legacy_key`, `system:operator`, `system:api`, `runner:<job>`. */
  actor: string;
  /** snake_case, e.g. `order_approved`, `asset_type_updated`, `step_started`. */
  action: string;
  target?: string;
  order?: string;
  requestId?: string;
  /** `api`, `portal`, `scim`, `hr-webhook`, `servicenow`, `operator`, `kubectl`, `runner`, `schedule` (a CronJob's run, record/scheduled-runs.ts). */
  source: string;
  /** Already redacted with redactSecrets(). */
  data?: Record<string, unknown>;
};

const ACTION = /^[a-z][a-z0-9_]*$/;

/**
 * Postgres text and jsonb refuse U+0000 although JSON and JavaScript strings carry it (a script
 * printing binary, a pasted reason). Replaced by U+FFFD where strings enter the record, so a NUL
 * can never make an append fail (and a level-triggered writer retry it forever).
 */
export function withoutNul(s: string): string {
  return s.includes("\0") ? s.replaceAll("\0", "\uFFFD") : s;
}

/** withoutNul() over every string and key of a JSON-able value. */
export function jsonWithoutNul(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "string") return withoutNul(x);
    if (
      x !== null &&
      typeof x === "object" &&
      !Array.isArray(x) &&
      Object.keys(x).some((k) => k.includes("\0"))
    ) {
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [withoutNul(k), y]));
    }
    return x;
  });
}

/**
 * Appends one audit row. A single statement: atomic on its own with a pool, or part of the
 * caller's transaction with a client (then the chain head stays locked until it commits, so
 * keep such transactions short).
 */
export async function appendAudit(q: Queryable, e: AuditEntry): Promise<{ id: string; at: Date }> {
  // Bugs, not outcomes: the caller passes constants here.
  if (!ACTION.test(e.action)) throw new Error(`audit action must be snake_case: ${e.action}`);
  if (!e.actor || !e.source) throw new Error("audit entry needs an actor and a source");
  const r = await q
    .query<{ appended_id: string; appended_at: Date }>(
      "SELECT appended_id, appended_at FROM audit_append($1, $2, $3, $4, $5, $6, $7::jsonb)",
      [
        withoutNul(e.actor),
        e.action,
        e.target === undefined ? null : withoutNul(e.target),
        e.order === undefined ? null : withoutNul(e.order),
        e.requestId === undefined ? null : withoutNul(e.requestId),
        withoutNul(e.source),
        jsonWithoutNul(e.data ?? {}),
      ],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "appending an audit row");
    });
  const row = r.rows[0];
  if (!row) throw new Error("audit_append returned no row");
  return { id: String(row.appended_id), at: row.appended_at };
}

// ---- verification (pure) ----

/** A stored row as the verifier reads it: `dataText` is `data::text` (jsonb's canonical text). */
export type StoredAuditRow = {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  order: string | null;
  requestId: string | null;
  source: string;
  dataText: string;
  prevHash: string;
  hash: string;
};

export const GENESIS_HASH = "0".repeat(64);

function field(v: string | null): string {
  return v === null ? "~" : `${Buffer.byteLength(v, "utf8")}:${v}`;
}

/** Byte-for-byte the same as the SQL audit_canonical() of migration 0001. */
export function canonicalAuditRow(r: Omit<StoredAuditRow, "hash">): string {
  return [
    "ipsolis-audit-v1",
    field(r.id),
    field(r.at.toISOString()),
    field(r.actor),
    field(r.action),
    field(r.target),
    field(r.order),
    field(r.requestId),
    field(r.source),
    field(r.dataText),
    field(r.prevHash),
  ].join("|");
}

export function hashAuditRow(r: Omit<StoredAuditRow, "hash">): string {
  return createHash("sha256").update(canonicalAuditRow(r), "utf8").digest("hex");
}

export type ChainCheck =
  | { ok: true; count: number; lastId: string | null; lastHash: string }
  | {
      ok: false;
      /** The first row whose link is broken. */
      id: string;
      field: "prev_hash" | "hash" | "id" | "head";
      expected: string;
      found: string;
      message: string;
    };

/**
 * Verifies rows given in id order. `from` continues a previous page (the last checked row's id
 * and hash); `head` (audit_chain_head) catches deletion of the newest rows.
 */
export function verifyChain(
  rows: readonly StoredAuditRow[],
  opts: {
    from?: { id: string | null; hash: string };
    head?: { lastId: string; lastHash: string };
  } = {},
): ChainCheck {
  let prevId = opts.from?.id ?? null;
  let prevHash = opts.from?.hash ?? GENESIS_HASH;
  const broken = (
    id: string,
    f: "prev_hash" | "hash" | "id" | "head",
    expected: string,
    found: string,
  ): ChainCheck => ({
    ok: false,
    id,
    field: f,
    expected,
    found,
    message: `audit row ${id}: ${f} is ${found}, expected ${expected}`,
  });
  for (const r of rows) {
    const wantId = String(prevId === null ? 1n : BigInt(prevId) + 1n);
    if (r.id !== wantId) return broken(r.id, "id", wantId, r.id);
    if (r.prevHash !== prevHash) return broken(r.id, "prev_hash", prevHash, r.prevHash);
    const recomputed = hashAuditRow(r);
    if (r.hash !== recomputed) return broken(r.id, "hash", recomputed, r.hash);
    prevId = r.id;
    prevHash = r.hash;
  }
  if (opts.head) {
    const lastId = prevId ?? "0";
    if (opts.head.lastId !== lastId || opts.head.lastHash !== prevHash) {
      return broken(
        opts.head.lastId,
        "head",
        `${opts.head.lastId}/${opts.head.lastHash}`,
        `${lastId}/${prevHash}`,
      );
    }
  }
  return { ok: true, count: rows.length, lastId: prevId, lastHash: prevHash };
}

/** Reads the whole chain page by page and verifies it (the verification command's core). */
export async function verifyStoredChain(q: Queryable, pageSize = 5000): Promise<ChainCheck> {
  let from: { id: string | null; hash: string } = { id: null, hash: GENESIS_HASH };
  let count = 0;
  for (;;) {
    const r = await q.query<{
      id: string;
      at: Date;
      actor: string;
      action: string;
      target: string | null;
      order_name: string | null;
      request_id: string | null;
      source: string;
      data_text: string;
      prev_hash: string;
      hash: string;
    }>(
      `SELECT id::text, at, actor, action, target, order_name, request_id, source, data::text AS data_text,
              prev_hash, hash
         FROM audit_events WHERE audit_events.id > $1::bigint ORDER BY audit_events.id LIMIT $2`,
      [from.id ?? "0", pageSize],
    );
    const rows: StoredAuditRow[] = r.rows.map((x) => ({
      id: x.id,
      at: x.at,
      actor: x.actor,
      action: x.action,
      target: x.target,
      order: x.order_name,
      requestId: x.request_id,
      source: x.source,
      dataText: x.data_text,
      prevHash: x.prev_hash,
      hash: x.hash,
    }));
    if (rows.length === 0) break;
    const c = verifyChain(rows, { from });
    if (!c.ok) return c;
    count += c.count;
    from = { id: c.lastId, hash: c.lastHash };
  }
  const head = await q.query<{ last_id: string; last_hash: string }>(
    "SELECT last_id::text, last_hash FROM audit_chain_head",
  );
  const h = head.rows[0];
  const tail = verifyChain([], {
    from,
    ...(h ? { head: { lastId: h.last_id, lastHash: h.last_hash } } : {}),
  });
  return tail.ok ? { ...tail, count } : tail;
}

// ---- redaction (pure) ----

export const REDACTED = "[redacted]";

/**
 * Returns a deep copy of `data` with secrets replaced by "[redacted]":
 * - the value of every property named in `secretKeys` (e.g. secret-typed AssetType attributes),
 * - the `value` of every `{ name, value }` pair whose name is in `secretKeys` (Runbook step
 *   parameters),
 * - every occurrence of a known secret value (`secretValues`) inside any string (step output).
 */
export function redactSecrets<T>(
  data: T,
  secretKeys: Iterable<string>,
  secretValues: Iterable<string> = [],
): T {
  const keys = new Set(secretKeys);
  // Longest first, so a secret containing another one is masked whole.
  const values = [...new Set(secretValues)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return maskSecretValues(v, values);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object" && !(v instanceof Date)) {
      const o = v as Record<string, unknown>;
      const isSecretPair = typeof o.name === "string" && keys.has(o.name);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) {
        if (keys.has(k) || (isSecretPair && k === "value")) out[k] = x === undefined ? x : REDACTED;
        else out[k] = walk(x);
      }
      return out;
    }
    return v;
  };
  return walk(data) as T;
}

/** Replaces every occurrence of each secret value in `text` by "[redacted]". */
export function maskSecretValues(text: string, secretValues: Iterable<string>): string {
  let out = text;
  const values = [...secretValues].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  for (const s of values) out = out.split(s).join(REDACTED);
  return out;
}

/** Secret names of an AssetType spec (attributes with `secret: true`). */
export function secretKeysOfAssetType(spec: { attributes?: { name: string; secret?: boolean }[] }): string[] {
  return (spec.attributes ?? []).filter((a) => a.secret === true).map((a) => a.name);
}

/** Secret names of a Runbook spec: parameters whose value comes from a Secret. */
export function secretKeysOfRunbook(spec: {
  steps?: { parameters?: { name: string; valueFrom?: { secretKeyRef?: unknown } }[] }[];
}): string[] {
  return (spec.steps ?? []).flatMap((s) =>
    (s.parameters ?? []).filter((p) => p.valueFrom?.secretKeyRef !== undefined).map((p) => p.name),
  );
}

/** `{ before, after }` for a configuration change's audit row, with secrets redacted on both sides. */
export function auditDiff(
  before: unknown,
  after: unknown,
  secretKeys: Iterable<string>,
): { before: unknown; after: unknown } {
  const keys = [...secretKeys];
  return { before: redactSecrets(before ?? null, keys), after: redactSecrets(after ?? null, keys) };
}

// ---- approval decisions: one audit row each ----

/** Advisory-lock class of "recording an order's approval decisions" (the key is the order). */
const DECISION_LOCK_CLASS = 0x1950_116;

/**
 * Serialises recording an order's approval decisions, for the rest of the transaction. The API
 * takes it before it appends a decision to the Order and holds it until its audit row commits;
 * the history mirror takes it before it looks for that row. So the mirror, which sees the
 * decision only after the API wrote it, never misses the API's row and writes one only when the
 * API's is truly missing (its transaction failed after the Order changed).
 */
export async function lockOrderDecisions(q: Queryable, order: string): Promise<void> {
  await q
    .query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [DECISION_LOCK_CLASS, withoutNul(order)])
    .catch((err: unknown) => {
      throw translatePgError(err, "locking an order's decisions");
    });
}

/**
 * Whether a decision (approver + time, as on the Order) already has its audit row from the API.
 * Rows the API wrote before it recorded `at` match by approver alone (an approver decides once
 * per order), so the first start of a mirror over older decisions writes no second row.
 */
export async function decisionRecorded(
  q: Queryable,
  d: { order: string; action: "order_approved" | "order_declined"; approver: string; at: string },
): Promise<boolean> {
  const r = await q.query(
    `SELECT 1 FROM audit_events
      WHERE order_name = $1 AND action = $2 AND source <> 'operator'
        AND data->>'approver' = $3 AND (data->>'at' = $4 OR NOT data ? 'at')
      LIMIT 1`,
    [withoutNul(d.order), d.action, withoutNul(d.approver), d.at],
  );
  return (r.rowCount ?? 0) > 0;
}
