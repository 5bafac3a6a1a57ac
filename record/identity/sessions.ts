// Server-side browser sessions. The cookie carries 256 random bits; the table keeps only their
// sha256, so a database read does not yield usable cookies.
import { createHash, randomBytes } from "node:crypto";
import type { Queryable } from "../db.ts";
import type { StoredRole } from "./roles.ts";

export type SessionIdentity =
  | { kind: "admin"; userId: string; username: string; email: string | null; role: StoredRole }
  | { kind: "employee"; email: string; employeeId: string; displayName: string | null };

function hashId(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}

export async function createSession(
  q: Queryable,
  who: { userId: string } | { employeeEmail: string; employeeId: string; displayName?: string | null },
  expiresAt: Date,
): Promise<string> {
  const id = randomBytes(32).toString("base64url");
  if ("userId" in who) {
    await q.query("INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)", [
      hashId(id),
      who.userId,
      expiresAt,
    ]);
  } else {
    await q.query(
      `INSERT INTO sessions (id_hash, employee_email, employee_id, employee_name, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [hashId(id), who.employeeEmail, who.employeeId, who.displayName ?? null, expiresAt],
    );
  }
  return id;
}

/** The identity behind a live session cookie; disabled accounts have no live sessions. */
export async function readSession(q: Queryable, id: string, now: Date): Promise<SessionIdentity | undefined> {
  const r = await q.query<{
    user_id: string | null;
    username: string | null;
    email: string | null;
    role: StoredRole | null;
    disabled: boolean | null;
    employee_email: string | null;
    employee_id: string | null;
    employee_name: string | null;
  }>(
    `SELECT s.user_id, u.username, u.email, u.role, u.disabled, s.employee_email, s.employee_id, s.employee_name
       FROM sessions s LEFT JOIN users u ON u.id = s.user_id
      WHERE s.id_hash = $1 AND s.expires_at > $2`,
    [hashId(id), now],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  if (row.user_id !== null) {
    if (row.disabled || !row.username || !row.role) return undefined;
    return {
      kind: "admin",
      userId: String(row.user_id),
      username: row.username,
      email: row.email,
      role: row.role,
    };
  }
  if (!row.employee_email || !row.employee_id) return undefined;
  return {
    kind: "employee",
    email: row.employee_email,
    employeeId: row.employee_id,
    displayName: row.employee_name,
  };
}

export async function deleteSession(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM sessions WHERE id_hash = $1", [hashId(id)]);
}

/** Ends every session of a user (password change, disable, role change). */
export async function deleteUserSessions(q: Queryable, userId: string, exceptId?: string): Promise<void> {
  await q.query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", [
    userId,
    exceptId ? hashId(exceptId) : "",
  ]);
}

/**
 * Ends every portal session of an employee (a leaver): matched by the lower-cased e-mail
 * addresses and identifiers of the leaver event. Returns how many ended.
 */
export async function deleteEmployeeSessions(
  q: Queryable,
  who: { ids: readonly string[]; emails: readonly string[] },
): Promise<number> {
  const r = await q.query(
    `DELETE FROM sessions
      WHERE user_id IS NULL
        AND (lower(employee_email) = ANY($1::text[]) OR lower(employee_id) = ANY($2::text[]))`,
    [who.emails.map((e) => e.toLowerCase()), who.ids.map((i) => i.toLowerCase())],
  );
  return r.rowCount ?? 0;
}
