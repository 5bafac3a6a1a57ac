// Admin accounts: username, e-mail, role, password hash, disabled flag, lockout counters.
import type { Queryable } from "../db.ts";
import { ConflictError } from "../errors.ts";
import type { StoredRole } from "./roles.ts";

export type User = {
  id: string;
  username: string;
  email: string | null;
  role: StoredRole;
  disabled: boolean;
  createdAt: Date;
};
export type UserWithHash = User & { passwordHash: string };

type Row = {
  id: string;
  username: string;
  email: string | null;
  role: StoredRole;
  disabled: boolean;
  created_at: Date;
  password_hash: string;
};
const COLUMNS = "id, username, email, role, disabled, created_at, password_hash";

function toUser(r: Row): UserWithHash {
  return {
    id: String(r.id),
    username: r.username,
    email: r.email,
    role: r.role,
    disabled: r.disabled,
    createdAt: r.created_at,
    passwordHash: r.password_hash,
  };
}

/** Without the hash: what may leave this module towards a response or a log. */
export function publicUser(u: UserWithHash | User): User {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    role: u.role,
    disabled: u.disabled,
    createdAt: u.createdAt,
  };
}

export async function hasAnyAdmin(q: Queryable): Promise<boolean> {
  const r = await q.query("SELECT 1 FROM users LIMIT 1");
  return r.rowCount !== null && r.rowCount > 0;
}

export async function createUser(
  q: Queryable,
  u: { username: string; email?: string | null; role: StoredRole; passwordHash: string },
): Promise<User> {
  try {
    const r = await q.query<Row>(
      `INSERT INTO users (username, email, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [u.username, u.email ?? null, u.role, u.passwordHash],
    );
    return publicUser(toUser(r.rows[0]!));
  } catch (err) {
    throw (
      emailTaken(err, u.email) ??
      ((err as { code?: string }).code === "23505"
        ? new ConflictError(`user "${u.username}" already exists`, { cause: err, reason: "Exists" })
        : err)
    );
  }
}

/** The 409 of a second account with an e-mail already taken (any letter case; migration 0120). */
function emailTaken(err: unknown, email: string | null | undefined): ConflictError | undefined {
  const e = err as { code?: string; constraint?: string };
  if (e.code !== "23505" || e.constraint !== "users_email_lower_key") return undefined;
  return new ConflictError(`another admin account already has the e-mail address ${email ?? ""}`, {
    cause: err,
    reason: "EmailTaken",
  });
}

export async function getUserByUsername(q: Queryable, username: string): Promise<UserWithHash | undefined> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]);
  return r.rows[0] ? toUser(r.rows[0]) : undefined;
}

export async function getUser(
  q: Queryable,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<UserWithHash | undefined> {
  if (!/^\d+$/.test(id)) return undefined;
  const r = await q.query<Row>(
    `SELECT ${COLUMNS} FROM users WHERE id = $1${opts.forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return r.rows[0] ? toUser(r.rows[0]) : undefined;
}

export async function listUsers(q: Queryable): Promise<User[]> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM users ORDER BY id`);
  return r.rows.map((x) => publicUser(toUser(x)));
}

/**
 * Active superadmins, locked for the transaction: two concurrent demotions of the last two
 * superadmins serialise here, so the guard cannot be raced.
 */
export async function countActiveSuperadmins(q: Queryable): Promise<number> {
  const r = await q.query<{ id: string }>(
    "SELECT id FROM users WHERE role = 'superadmin' AND NOT disabled FOR UPDATE",
  );
  return r.rows.length;
}

export async function updateUser(
  q: Queryable,
  id: string,
  patch: { email?: string | null; role?: StoredRole; disabled?: boolean; passwordHash?: string },
): Promise<User> {
  const sets: string[] = [];
  const vals: unknown[] = [id];
  const add = (col: string, v: unknown) => {
    vals.push(v);
    sets.push(`${col} = $${vals.length}`);
  };
  if (patch.email !== undefined) add("email", patch.email);
  if (patch.role !== undefined) add("role", patch.role);
  if (patch.disabled !== undefined) add("disabled", patch.disabled);
  if (patch.passwordHash !== undefined) add("password_hash", patch.passwordHash);
  sets.push("updated_at = now()");
  const r = await q
    .query<Row>(`UPDATE users SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`, vals)
    .catch((err: unknown) => {
      throw emailTaken(err, patch.email) ?? err;
    });
  return publicUser(toUser(r.rows[0]!));
}

export async function deleteUser(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM users WHERE id = $1", [id]);
}

/**
 * Claims one sign-in attempt for a username (known or not) before its password is checked, in
 * one statement: `failures` counts attempts started since the last lock or success, so N
 * concurrent guesses cannot all pass a "not locked yet" check and get verified (the check and
 * the count used to be two statements around a slow hash). Refused (`locked`) while a lock is
 * in force or once `threshold` attempts are already counted; an expired lock starts a new count.
 */
export async function claimLoginAttempt(
  q: Queryable,
  username: string,
  opts: { threshold: number; now: Date },
): Promise<{ locked: boolean }> {
  const r = await q.query<{ failures: number; locked_until: Date | null }>(
    `INSERT INTO login_failures AS f (username, failures, locked_until, updated_at)
     VALUES ($1, 1, NULL, $2)
     ON CONFLICT (username) DO UPDATE SET
       failures = CASE WHEN f.locked_until > $2 THEN f.failures
                       WHEN f.locked_until IS NOT NULL THEN 1
                       ELSE f.failures + 1 END,
       locked_until = CASE WHEN f.locked_until > $2 THEN f.locked_until END,
       updated_at = $2
     RETURNING failures, locked_until`,
    [username.toLowerCase(), opts.now],
  );
  const row = r.rows[0]!;
  const inForce = row.locked_until !== null && row.locked_until.getTime() > opts.now.getTime();
  return { locked: inForce || row.failures > opts.threshold };
}

/**
 * After a failed attempt claimed with `claimLoginAttempt`: at the threshold the name is locked
 * until `lockUntil` and the count starts again. Returns the lock when this failure set one
 * (exactly one of several concurrent failures does).
 */
export async function recordFailedLogin(
  q: Queryable,
  username: string,
  opts: { threshold: number; lockUntil: Date; now: Date },
): Promise<Date | undefined> {
  const r = await q.query<{ locked_until: Date }>(
    `UPDATE login_failures SET failures = 0, locked_until = $3, updated_at = $4
      WHERE username = $1 AND failures >= $2 AND (locked_until IS NULL OR locked_until <= $4)
      RETURNING locked_until`,
    [username.toLowerCase(), opts.threshold, opts.lockUntil, opts.now],
  );
  return r.rows[0]?.locked_until;
}

export async function resetFailedLogins(q: Queryable, username: string): Promise<void> {
  await q.query("DELETE FROM login_failures WHERE username = $1", [username.toLowerCase()]);
}

// Per-asset-type ACL grants (admin role only; see api/policy/acl.ts).
export async function listGrants(q: Queryable, userId: string): Promise<string[]> {
  const r = await q.query<{ asset_type: string }>(
    "SELECT asset_type FROM asset_type_grants WHERE user_id = $1 ORDER BY asset_type",
    [userId],
  );
  return r.rows.map((x) => x.asset_type);
}

export async function addGrant(q: Queryable, userId: string, assetType: string): Promise<void> {
  await q.query(
    "INSERT INTO asset_type_grants (user_id, asset_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    [userId, assetType],
  );
}

export async function removeGrant(q: Queryable, userId: string, assetType: string): Promise<void> {
  await q.query("DELETE FROM asset_type_grants WHERE user_id = $1 AND asset_type = $2", [userId, assetType]);
}
