// Leaver events and the deprovisions each queued (migration 0201). The rules live in
// api/leaver/decide.ts; this file only reads and writes rows.
import type { Queryable } from "../db.ts";
import { translatePgError } from "../db.ts";

export type LeaverState = "scheduled" | "processing" | "processed";

export type LeaverEvent = {
  id: string;
  leaverKey: string;
  employeeId: string | null;
  identifier: string;
  subjectIds: string[];
  subjectEmails: string[];
  displayName: string | null;
  source: string;
  actor: string;
  requestId: string | null;
  effectiveAt: Date;
  state: LeaverState;
  claimedAt: Date | null;
  processedAt: Date | null;
  deliveries: number;
  closedAt: Date | null;
  closedReason: string | null;
  createdAt: Date;
};

export type LeaverItem = {
  eventId: string;
  target: string;
  assetType: string;
  orderName: string;
  attempt: number;
  createError: string | null;
  queuedAt: Date;
};

type EventRow = {
  id: string;
  leaver_key: string;
  employee_id: string | null;
  identifier: string;
  subject_ids: string[];
  subject_emails: string[];
  display_name: string | null;
  source: string;
  actor: string;
  request_id: string | null;
  effective_at: Date;
  state: LeaverState;
  claimed_at: Date | null;
  processed_at: Date | null;
  deliveries: number;
  closed_at: Date | null;
  closed_reason: string | null;
  created_at: Date;
};

const EVENT_COLS =
  "id, leaver_key, employee_id, identifier, subject_ids, subject_emails, display_name, source, actor, request_id, effective_at, state, claimed_at, processed_at, deliveries, closed_at, closed_reason, created_at";

function toEvent(r: EventRow): LeaverEvent {
  return {
    id: r.id,
    leaverKey: r.leaver_key,
    employeeId: r.employee_id,
    identifier: r.identifier,
    subjectIds: r.subject_ids,
    subjectEmails: r.subject_emails,
    displayName: r.display_name,
    source: r.source,
    actor: r.actor,
    requestId: r.request_id,
    effectiveAt: r.effective_at,
    state: r.state,
    claimedAt: r.claimed_at,
    processedAt: r.processed_at,
    deliveries: r.deliveries,
    closedAt: r.closed_at,
    closedReason: r.closed_reason,
    createdAt: r.created_at,
  };
}

type ItemRow = {
  event_id: string;
  target: string;
  asset_type: string;
  order_name: string;
  attempt: number;
  create_error: string | null;
  queued_at: Date;
};

function toItem(r: ItemRow): LeaverItem {
  return {
    eventId: r.event_id,
    target: r.target,
    assetType: r.asset_type,
    orderName: r.order_name,
    attempt: r.attempt,
    createError: r.create_error,
    queuedAt: r.queued_at,
  };
}

const pgFail = (what: string) => (err: unknown) => {
  throw translatePgError(err, what);
};

export type NewLeaverEvent = {
  leaverKey: string;
  employeeId: string | null;
  identifier: string;
  subjectIds: string[];
  subjectEmails: string[];
  displayName: string | null;
  source: string;
  actor: string;
  requestId: string | null;
  effectiveAt: Date;
  now: Date;
};

/**
 * Records a leaver event, or returns the open one for the same person (a redelivery, or SCIM
 * and HR both reporting the leaver): `created` says which. Concurrent callers race on the
 * unique index; the loser reads the winner's row.
 */
export async function recordLeaverEvent(
  q: Queryable,
  e: NewLeaverEvent,
): Promise<{ event: LeaverEvent; created: boolean }> {
  for (let i = 0; i < 3; i++) {
    const ins = await q
      .query<EventRow>(
        `INSERT INTO leaver_events (leaver_key, employee_id, identifier, subject_ids, subject_emails, display_name,
                                    source, actor, request_id, effective_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (leaver_key) WHERE closed_at IS NULL DO NOTHING
         RETURNING ${EVENT_COLS}`,
        [
          e.leaverKey,
          e.employeeId,
          e.identifier,
          e.subjectIds,
          e.subjectEmails,
          e.displayName,
          e.source,
          e.actor,
          e.requestId,
          e.effectiveAt,
          e.now,
        ],
      )
      .catch(pgFail("recording a leaver event"));
    if (ins.rows[0]) return { event: toEvent(ins.rows[0]), created: true };
    const upd = await q
      .query<EventRow>(
        `UPDATE leaver_events SET deliveries = deliveries + 1
          WHERE leaver_key = $1 AND closed_at IS NULL RETURNING ${EVENT_COLS}`,
        [e.leaverKey],
      )
      .catch(pgFail("recording a leaver redelivery"));
    if (upd.rows[0]) return { event: toEvent(upd.rows[0]), created: false };
    // The open event closed between the two statements: try the insert again.
  }
  throw new Error("leaver event neither inserted nor found after 3 attempts");
}

export async function getLeaverEvent(q: Queryable, id: string): Promise<LeaverEvent | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await q
    .query<EventRow>(`SELECT ${EVENT_COLS} FROM leaver_events WHERE id = $1`, [id])
    .catch(pgFail("reading a leaver event"));
  return r.rows[0] ? toEvent(r.rows[0]) : undefined;
}

/** The open leaver events matching any of these lower-cased identifiers / e-mails. */
export async function openLeaverEventsFor(q: Queryable, keys: string[]): Promise<LeaverEvent[]> {
  const r = await q
    .query<EventRow>(
      `SELECT ${EVENT_COLS} FROM leaver_events
        WHERE closed_at IS NULL AND (subject_ids && $1 OR subject_emails && $1) ORDER BY created_at`,
      [keys.map((k) => k.toLowerCase())],
    )
    .catch(pgFail("reading open leaver events"));
  return r.rows.map(toEvent);
}

/** Closes an open event (re-activation, or cancellation before it took effect). */
export async function closeLeaverEvent(
  q: Queryable,
  id: string,
  reason: string,
  now: Date,
): Promise<boolean> {
  const r = await q
    .query(
      `UPDATE leaver_events SET closed_at = $2, closed_reason = $3 WHERE id = $1 AND closed_at IS NULL`,
      [id, now, reason],
    )
    .catch(pgFail("closing a leaver event"));
  return (r.rowCount ?? 0) > 0;
}

/**
 * Takes the fan-out lease on a due event: scheduled and effective, or processing under an
 * expired lease (its process died). Returns undefined when someone else holds it or it is
 * not due; that makes processing safe to call from the request path and the scheduler at once.
 */
export async function claimLeaverEvent(
  q: Queryable,
  id: string,
  now: Date,
  leaseMs: number,
): Promise<LeaverEvent | undefined> {
  const r = await q
    .query<EventRow>(
      `UPDATE leaver_events SET state = 'processing', claimed_at = $2
        WHERE id = $1 AND closed_at IS NULL AND effective_at <= $2
          AND (state = 'scheduled' OR (state = 'processing' AND claimed_at < $3))
        RETURNING ${EVENT_COLS}`,
      [id, now, new Date(now.getTime() - leaseMs)],
    )
    .catch(pgFail("claiming a leaver event"));
  return r.rows[0] ? toEvent(r.rows[0]) : undefined;
}

export async function markLeaverProcessed(q: Queryable, id: string, now: Date): Promise<void> {
  await q
    .query(
      `UPDATE leaver_events SET state = 'processed', processed_at = $2, claimed_at = NULL WHERE id = $1`,
      [id, now],
    )
    .catch(pgFail("finishing a leaver event"));
}

/** Ids of events the scheduler should process now (due, or with an expired lease). */
export async function dueLeaverEvents(
  q: Queryable,
  now: Date,
  leaseMs: number,
  limit = 50,
): Promise<string[]> {
  const r = await q
    .query<{ id: string }>(
      `SELECT id FROM leaver_events
        WHERE closed_at IS NULL AND effective_at <= $1
          AND (state = 'scheduled' OR (state = 'processing' AND claimed_at < $2))
        ORDER BY effective_at LIMIT $3`,
      [now, new Date(now.getTime() - leaseMs), limit],
    )
    .catch(pgFail("listing due leaver events"));
  return r.rows.map((x) => x.id);
}

/**
 * Records one queued deprovision. Returns false when the item already exists (a rerun after a
 * crash): the caller then skips its audit row, so each deprovision is audited once.
 */
export async function insertLeaverItem(
  q: Queryable,
  i: {
    eventId: string;
    target: string;
    assetType: string;
    orderName: string;
    createError: string | null;
    now: Date;
  },
): Promise<boolean> {
  const r = await q
    .query(
      `INSERT INTO leaver_items (event_id, target, asset_type, order_name, create_error, queued_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id, target) DO NOTHING`,
      [i.eventId, i.target, i.assetType, i.orderName, i.createError, i.now],
    )
    .catch(pgFail("recording a queued deprovision"));
  return (r.rowCount ?? 0) > 0;
}

export async function leaverItems(q: Queryable, eventId: string): Promise<LeaverItem[]> {
  const r = await q
    .query<ItemRow>(
      `SELECT event_id, target, asset_type, order_name, attempt, create_error, queued_at
         FROM leaver_items WHERE event_id = $1 ORDER BY target`,
      [eventId],
    )
    .catch(pgFail("reading queued deprovisions"));
  return r.rows.map(toItem);
}

/**
 * Moves an item to its next attempt (a new Deprovision Order name), only if it is still at
 * `fromAttempt`: two concurrent retries advance it once.
 */
export async function advanceLeaverItem(
  q: Queryable,
  i: { eventId: string; target: string; fromAttempt: number; orderName: string; createError: string | null },
): Promise<boolean> {
  const r = await q
    .query(
      `UPDATE leaver_items SET attempt = attempt + 1, order_name = $4, create_error = $5
        WHERE event_id = $1 AND target = $2 AND attempt = $3`,
      [i.eventId, i.target, i.fromAttempt, i.orderName, i.createError],
    )
    .catch(pgFail("advancing a deprovision retry"));
  return (r.rowCount ?? 0) > 0;
}

export async function setLeaverItemError(
  q: Queryable,
  i: { eventId: string; target: string; createError: string | null },
): Promise<void> {
  await q
    .query(`UPDATE leaver_items SET create_error = $3 WHERE event_id = $1 AND target = $2`, [
      i.eventId,
      i.target,
      i.createError,
    ])
    .catch(pgFail("updating a queued deprovision"));
}

/** Open events fanned out since `since`: the sweep catches assets that were still in flight. */
export async function recentlyProcessedLeaverEvents(
  q: Queryable,
  since: Date,
  limit = 200,
): Promise<LeaverEvent[]> {
  const r = await q
    .query<EventRow>(
      `SELECT ${EVENT_COLS} FROM leaver_events
        WHERE closed_at IS NULL AND state = 'processed' AND processed_at >= $1
        ORDER BY processed_at LIMIT $2`,
      [since, limit],
    )
    .catch(pgFail("listing recent leaver events"));
  return r.rows.map(toEvent);
}

/** Newest leaver events first (the admin list). */
export async function listLeaverEvents(q: Queryable, limit = 100): Promise<LeaverEvent[]> {
  const r = await q
    .query<EventRow>(`SELECT ${EVENT_COLS} FROM leaver_events ORDER BY created_at DESC, id LIMIT $1`, [limit])
    .catch(pgFail("listing leaver events"));
  return r.rows.map(toEvent);
}
