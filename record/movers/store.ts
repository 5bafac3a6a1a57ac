// Mover events (migration 0204): a change of the employee-record fields that asset attributes
// follow, waiting to be turned into Modify Orders. The rules are in api/policy/mover.ts; this
// file only reads and writes rows.
import type { Queryable } from "../db.ts";
import { translatePgError } from "../db.ts";

export type MoverChanges = Record<string, { from: string; to: string }>;

export type MoverEvent = {
  id: string;
  employeeId: string;
  changes: MoverChanges;
  version: number;
  source: string;
  actor: string;
  requestId: string | null;
  state: "pending" | "processed";
  claimedAt: Date | null;
  nextAt: Date;
  attempts: number;
  lastError: string | null;
  result: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
  processedAt: Date | null;
};

type Row = {
  id: string;
  employee_id: string;
  changes: MoverChanges;
  version: number;
  source: string;
  actor: string;
  request_id: string | null;
  state: "pending" | "processed";
  claimed_at: Date | null;
  next_at: Date;
  attempts: number;
  last_error: string | null;
  result: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  processed_at: Date | null;
};

const COLS =
  "id, employee_id, changes, version, source, actor, request_id, state, claimed_at, next_at, attempts, last_error, result, created_at, updated_at, processed_at";

function toEvent(r: Row): MoverEvent {
  return {
    id: r.id,
    employeeId: r.employee_id,
    changes: r.changes,
    version: r.version,
    source: r.source,
    actor: r.actor,
    requestId: r.request_id,
    state: r.state,
    claimedAt: r.claimed_at,
    nextAt: r.next_at,
    attempts: r.attempts,
    lastError: r.last_error,
    result: r.result,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    processedAt: r.processed_at,
  };
}

async function query(q: Queryable, what: string, sql: string, params: unknown[]): Promise<MoverEvent[]> {
  const r = await q.query<Row>(sql, params).catch((err: unknown) => {
    throw translatePgError(err, what);
  });
  return r.rows.map(toEvent);
}

/** The person's pending event, locked for the caller's transaction (the SCIM write holds the employee row). */
export async function pendingMoverFor(q: Queryable, employeeId: string): Promise<MoverEvent | undefined> {
  return (
    await query(
      q,
      "reading a pending mover",
      `SELECT ${COLS} FROM mover_events WHERE employee_id = $1 AND state = 'pending' FOR UPDATE`,
      [employeeId],
    )
  )[0];
}

export async function insertMover(
  q: Queryable,
  e: {
    employeeId: string;
    changes: MoverChanges;
    source: string;
    actor: string;
    requestId?: string | undefined;
    now: Date;
  },
): Promise<MoverEvent> {
  return (
    await query(
      q,
      "recording a mover",
      `INSERT INTO mover_events (employee_id, changes, source, actor, request_id, next_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING ${COLS}`,
      [e.employeeId, JSON.stringify(e.changes), e.source, e.actor, e.requestId ?? null, e.now],
    )
  )[0]!;
}

/** A newer change merged into a pending event: version + 1, due now again. */
export async function updateMoverChanges(
  q: Queryable,
  id: string,
  changes: MoverChanges,
  now: Date,
): Promise<MoverEvent> {
  return (
    await query(
      q,
      "merging a mover",
      `UPDATE mover_events SET changes = $2, version = version + 1, next_at = $3, updated_at = $3
        WHERE id = $1 RETURNING ${COLS}`,
      [id, JSON.stringify(changes), now],
    )
  )[0]!;
}

export async function getMover(q: Queryable, id: string): Promise<MoverEvent | undefined> {
  return (await query(q, "reading a mover", `SELECT ${COLS} FROM mover_events WHERE id = $1`, [id]))[0];
}

/** Pending events that are due and not held by a live lease. */
export async function dueMovers(q: Queryable, now: Date, leaseMs: number): Promise<string[]> {
  const r = await q
    .query<{ id: string }>(
      `SELECT id FROM mover_events
        WHERE state = 'pending' AND next_at <= $1
          AND (claimed_at IS NULL OR claimed_at < $1::timestamptz - make_interval(secs => $2::double precision / 1000))
        ORDER BY next_at LIMIT 100`,
      [now, leaseMs],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "listing due movers");
    });
  return r.rows.map((x) => x.id);
}

/** Takes the lease: the event if this process may work on it now, else undefined. */
export async function claimMover(
  q: Queryable,
  id: string,
  now: Date,
  leaseMs: number,
): Promise<MoverEvent | undefined> {
  return (
    await query(
      q,
      "claiming a mover",
      `UPDATE mover_events SET claimed_at = $2, attempts = attempts + 1
        WHERE id = $1 AND state = 'pending'
          AND (claimed_at IS NULL OR claimed_at < $2::timestamptz - make_interval(secs => $3::double precision / 1000))
        RETURNING ${COLS}`,
      [id, now, leaseMs],
    )
  )[0];
}

/**
 * Ends a run: processed when nothing waits and no newer change arrived meanwhile (`version`
 * still the one read); else pending again, due at `nextAt` (now when a change arrived).
 * Returns whether the event is processed (false also when the lease was lost: another run
 * took the event over, and its finish counts).
 */
export async function finishMover(
  q: Queryable,
  id: string,
  version: number,
  /** The lease this run took (claimMover): a run whose lease was taken over changes nothing. */
  claimedAt: Date,
  r: { done: boolean; result: Record<string, unknown>; nextAt: Date; error?: string | undefined; now: Date },
): Promise<boolean> {
  const res = await q
    .query<{ state: string }>(
      `UPDATE mover_events
          SET claimed_at = NULL, result = $3::jsonb, last_error = $4::text, updated_at = $6::timestamptz,
              state = CASE WHEN $5::boolean AND version = $2::integer THEN 'processed' ELSE 'pending' END,
              processed_at = CASE WHEN $5::boolean AND version = $2::integer THEN $6::timestamptz ELSE NULL END,
              next_at = CASE WHEN version = $2::integer THEN $7::timestamptz ELSE $6::timestamptz END
        WHERE id = $1 AND state = 'pending' AND claimed_at = $8::timestamptz RETURNING state`,
      [id, version, JSON.stringify(r.result), r.error ?? null, r.done, r.now, r.nextAt, claimedAt],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "finishing a mover");
    });
  return res.rows[0]?.state === "processed";
}

/** A person's mover events, newest first (the console and the SCIM tests read them). */
export async function moversOf(q: Queryable, employeeId: string, limit = 20): Promise<MoverEvent[]> {
  return query(
    q,
    "listing movers",
    `SELECT ${COLS} FROM mover_events WHERE employee_id = $1 ORDER BY created_at DESC LIMIT $2`,
    [employeeId, limit],
  );
}

/** The newest mover events (all people), with the person's userName, for GET /movers. */
export async function listMovers(
  q: Queryable,
  limit: number,
): Promise<(MoverEvent & { userName: string | null })[]> {
  const r = await q
    .query<Row & { user_name: string | null }>(
      `SELECT ${COLS.split(", ")
        .map((c) => `m.${c}`)
        .join(", ")}, e.user_name
         FROM mover_events m LEFT JOIN employees e ON e.id = m.employee_id
        ORDER BY m.created_at DESC LIMIT $1`,
      [limit],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "listing movers");
    });
  return r.rows.map((x) => ({ ...toEvent(x), userName: x.user_name }));
}
