// Named API tokens: a bound role, scopes, expiry, revocation and last-used time. Only the
// sha256 of the plaintext is stored (the token has 256 bits of entropy, so a slow hash adds
// nothing); the plaintext is shown once. The `ips_` prefix lets secret scanners find leaks.
import { createHash, randomBytes } from "node:crypto";
import type { Queryable } from "../db.ts";
import { ConflictError } from "../errors.ts";
import type { StoredRole as AdminRole } from "./roles.ts";

export const TOKEN_PREFIX = "ips_";

export type ApiToken = {
  id: string;
  name: string;
  role: AdminRole;
  scopes: string[];
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdBy: string;
  createdAt: Date;
};

type Row = {
  id: string;
  name: string;
  role: AdminRole;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_by: string;
  created_at: Date;
};

const COLUMNS = "id, name, role, scopes, expires_at, revoked_at, last_used_at, created_by, created_at";

function toToken(r: Row): ApiToken {
  return {
    id: String(r.id),
    name: r.name,
    role: r.role,
    scopes: r.scopes,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Stores a new token and returns its plaintext, which is never retrievable again. Callers check
 * the mint guard (api/policy/permissions.ts `checkMint`) and audit the creation.
 */
export async function createApiToken(
  q: Queryable,
  t: { name: string; role: AdminRole; scopes: string[]; expiresAt?: Date | null; createdBy: string },
): Promise<{ id: string; token: string }> {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  try {
    const r = await q.query<{ id: string }>(
      `INSERT INTO api_tokens (name, token_hash, role, scopes, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [t.name, hashToken(token), t.role, t.scopes, t.expiresAt ?? null, t.createdBy],
    );
    return { id: String(r.rows[0]!.id), token };
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw new ConflictError(`a token named "${t.name}" already exists`, { cause: err, reason: "Exists" });
    }
    throw err;
  }
}

export type TokenLookup =
  { ok: true; token: ApiToken } | { ok: false; reason: "Unknown" | "Expired" | "Revoked"; message: string };

/** Finds the token a request presents and records its use. */
export async function authenticateToken(q: Queryable, plaintext: string, now: Date): Promise<TokenLookup> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1`, [
    hashToken(plaintext),
  ]);
  const row = r.rows[0];
  if (!row) return { ok: false, reason: "Unknown", message: "invalid API token" };
  const token = toToken(row);
  if (token.revokedAt) {
    return { ok: false, reason: "Revoked", message: `API token "${token.name}" was revoked` };
  }
  if (token.expiresAt && token.expiresAt.getTime() <= now.getTime()) {
    return {
      ok: false,
      reason: "Expired",
      message: `API token "${token.name}" expired at ${token.expiresAt.toISOString()}`,
    };
  }
  await q.query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", [row.id, now]);
  return { ok: true, token: { ...token, lastUsedAt: now } };
}

export async function listApiTokens(q: Queryable): Promise<ApiToken[]> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM api_tokens ORDER BY id`);
  return r.rows.map(toToken);
}

export async function getApiToken(q: Queryable, id: string): Promise<ApiToken | undefined> {
  if (!/^\d+$/.test(id)) return undefined;
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1`, [id]);
  return r.rows[0] ? toToken(r.rows[0]) : undefined;
}

/** Revokes a token (idempotent: the first revocation time stays). */
export async function revokeApiToken(q: Queryable, id: string, now: Date): Promise<ApiToken | undefined> {
  if (!/^\d+$/.test(id)) return undefined;
  const r = await q.query<Row>(
    `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, now],
  );
  return r.rows[0] ? toToken(r.rows[0]) : undefined;
}

/**
 * The person behind an audit actor: for `token:<name>`, the account that created the token
 * (following tokens minted by tokens, a few hops at most); any other actor is itself. Token
 * names are unique forever (`api_tokens.name` is UNIQUE and revocation keeps the row; nothing
 * deletes tokens), so a name resolves to the same creator at any later time. Undefined for a
 * token name that is not on record.
 */
export async function personBehindActor(q: Queryable, actor: string): Promise<string | undefined> {
  let who = actor;
  for (let hop = 0; hop < 5 && who.startsWith("token:"); hop++) {
    const r = await q.query<{ created_by: string }>("SELECT created_by FROM api_tokens WHERE name = $1", [
      who.slice("token:".length),
    ]);
    if (!r.rows[0]) return undefined;
    who = r.rows[0].created_by;
  }
  return who.startsWith("token:") ? undefined : who;
}
