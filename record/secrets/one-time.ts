// One-time secrets (migration 0404): rows only; sealing and the rules are in
// api/orders/one-time-secrets.ts. `take` is the one read of a value: it returns the sealed
// bytes and wipes them in the same statement, so two concurrent reveals cannot both succeed.
import type { Queryable } from "../db.ts";

export type OneTimeSecret = {
  id: string;
  orderName: string;
  attribute: string;
  assetType: string;
  subject: string;
  subjectName: string | null;
  recipient: string;
  /** Whether the value is still there (not revealed, expired or wiped). */
  live: boolean;
  createdAt: Date;
  expiresAt: Date;
  revealedAt: Date | null;
  wipedReason: string | null;
};

type Row = {
  id: string;
  order_name: string;
  attribute: string;
  asset_type: string;
  subject: string;
  subject_name: string | null;
  recipient: string;
  live: boolean;
  created_at: Date;
  expires_at: Date;
  revealed_at: Date | null;
  wiped_reason: string | null;
};

const COLUMNS = `id, order_name, attribute, asset_type, subject, subject_name, recipient,
  sealed IS NOT NULL AS live, created_at, expires_at, revealed_at, wiped_reason`;

function fromRow(r: Row): OneTimeSecret {
  return {
    id: r.id,
    orderName: r.order_name,
    attribute: r.attribute,
    assetType: r.asset_type,
    subject: r.subject,
    subjectName: r.subject_name,
    recipient: r.recipient,
    live: r.live,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revealedAt: r.revealed_at,
    wipedReason: r.wiped_reason,
  };
}

export async function insertOneTimeSecret(
  q: Queryable,
  s: Omit<OneTimeSecret, "live" | "revealedAt" | "wipedReason"> & { sealed: Buffer },
): Promise<void> {
  await q.query(
    `INSERT INTO one_time_secrets
       (id, order_name, attribute, asset_type, subject, subject_name, recipient, sealed, created_at, expires_at)
     VALUES ($1, $2, $3, $4, lower($5), $6, lower($7), $8, $9, $10)`,
    [
      s.id,
      s.orderName,
      s.attribute,
      s.assetType,
      s.subject,
      s.subjectName,
      s.recipient,
      s.sealed,
      s.createdAt,
      s.expiresAt,
    ],
  );
}

export async function getOneTimeSecret(q: Queryable, id: string): Promise<OneTimeSecret | undefined> {
  const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM one_time_secrets WHERE id = $1`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/** The newest first, for one recipient. */
export async function oneTimeSecretsFor(
  q: Queryable,
  recipient: string,
  limit = 50,
): Promise<OneTimeSecret[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM one_time_secrets WHERE recipient = lower($1) ORDER BY created_at DESC LIMIT $2`,
    [recipient, limit],
  );
  return rows.map(fromRow);
}

/** The sealed value, wiped in the same statement (revealed now); undefined when it is gone. */
export async function takeOneTimeSecret(q: Queryable, id: string, now: Date): Promise<Buffer | undefined> {
  const { rows } = await q.query<{ sealed: Buffer }>(
    `UPDATE one_time_secrets t SET sealed = NULL, revealed_at = $2
       FROM (SELECT id, sealed FROM one_time_secrets WHERE id = $1 AND sealed IS NOT NULL FOR UPDATE) old
      WHERE t.id = old.id
      RETURNING old.sealed`,
    [id, now],
  );
  return rows[0]?.sealed;
}

/** Wipes a value that can no longer be revealed (Expired, OrderFailed, RecipientChanged); true when it was there. */
export async function wipeOneTimeSecret(q: Queryable, id: string, reason: string): Promise<boolean> {
  const r = await q.query(
    `UPDATE one_time_secrets SET sealed = NULL, wiped_reason = $2 WHERE id = $1 AND sealed IS NOT NULL`,
    [id, reason],
  );
  return (r.rowCount ?? 0) > 0;
}

/** A value taken but unreadable (sealed under an earlier key): not revealed, wiped KeyChanged. */
export async function markUnreadableOneTimeSecret(q: Queryable, id: string): Promise<void> {
  await q.query(
    `UPDATE one_time_secrets SET sealed = NULL, revealed_at = NULL, wiped_reason = 'KeyChanged' WHERE id = $1`,
    [id],
  );
}

/**
 * A page of the values still there, oldest first, after `after` (the sweep's work list, read
 * in pages so none is left out however many there are).
 */
export async function liveOneTimeSecrets(
  q: Queryable,
  after?: { createdAt: Date; id: string },
  limit = 500,
): Promise<OneTimeSecret[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM one_time_secrets
      WHERE sealed IS NOT NULL AND ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2))
      ORDER BY created_at, id LIMIT $3`,
    [after?.createdAt ?? null, after?.id ?? null, limit],
  );
  return rows.map(fromRow);
}

/** For the portal's navigation: how many were ever sent to this person, and how many are still there. */
export async function countOneTimeSecrets(
  q: Queryable,
  recipient: string,
  now: Date,
): Promise<{ all: number; live: number }> {
  const { rows } = await q.query<{ all: string; live: string }>(
    `SELECT count(*) AS all, count(*) FILTER (WHERE sealed IS NOT NULL AND expires_at > $2) AS live
       FROM one_time_secrets WHERE recipient = lower($1)`,
    [recipient, now],
  );
  return { all: Number(rows[0]?.all ?? 0), live: Number(rows[0]?.live ?? 0) };
}
