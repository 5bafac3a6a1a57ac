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

/** Who stands at the end of a token's chain of creators (tokens minted by tokens). */
export type TokenCreator =
  | { kind: "account"; id: string; username: string; role: AdminRole }
  /** `admin:legacy_key`: alive only while the legacy key is configured (the auth plugin checks). */
  | { kind: "legacy" }
  /** `system:<name>`: issued by the product itself (e.g. a bootstrap), bound to its own role only. */
  | { kind: "system"; actor: string };

export type TokenLookup =
  | {
      ok: true;
      token: ApiToken;
      /** The token, then the token that minted it, and so on up to the first one a person minted. */
      chain: ApiToken[];
      creator: TokenCreator;
    }
  | {
      ok: false;
      reason: "Unknown" | "Expired" | "Revoked" | "CreatorGone" | "CreatorDisabled";
      message: string;
    };

/** Hops followed from a token to the person who minted the first one; a longer chain is refused. */
const MAX_CHAIN = 8;

function deadToken(t: ApiToken, now: Date, of?: ApiToken): TokenLookup | undefined {
  const via = of ? ` (it minted API token "${of.name}")` : "";
  if (t.revokedAt) {
    return { ok: false, reason: "Revoked", message: `API token "${t.name}" was revoked${via}` };
  }
  if (t.expiresAt && t.expiresAt.getTime() <= now.getTime()) {
    return {
      ok: false,
      reason: "Expired",
      message: `API token "${t.name}" expired at ${t.expiresAt.toISOString()}${via}`,
    };
  }
  return undefined;
}

/**
 * Finds the token a request presents, walks its chain of creators and records its use. A token
 * is dead when it, or any token above it, is revoked or expired, and when the account at the
 * top of the chain is deleted or disabled: a token never outlives its creator's authority.
 */
export async function authenticateToken(q: Queryable, plaintext: string, now: Date): Promise<TokenLookup> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1`, [
    hashToken(plaintext),
  ]);
  const row = r.rows[0];
  if (!row) return { ok: false, reason: "Unknown", message: "invalid API token" };
  const token = toToken(row);
  const chain = [token];
  const dead = deadToken(token, now);
  if (dead) return dead;
  let by = token.createdBy;
  while (by.startsWith("token:")) {
    const name = by.slice("token:".length);
    const parent = chain.length < MAX_CHAIN ? await getApiTokenByName(q, name) : undefined;
    if (!parent) {
      return {
        ok: false,
        reason: "CreatorGone",
        message: `API token "${token.name}" was minted by token "${name}", which is not on record`,
      };
    }
    const gone = deadToken(parent, now, chain.at(-1));
    if (gone) return gone;
    chain.push(parent);
    by = parent.createdBy;
  }
  let creator: TokenCreator;
  if (by === "admin:legacy_key") creator = { kind: "legacy" };
  else if (by.startsWith("system:")) creator = { kind: "system", actor: by };
  else {
    const username = by.startsWith("admin:") ? by.slice("admin:".length) : undefined;
    const u = username === undefined ? undefined : await accountByUsername(q, username);
    if (!u) {
      return {
        ok: false,
        reason: "CreatorGone",
        message: `API token "${token.name}" is no longer valid: the account that created it (${by}) was deleted`,
      };
    }
    if (u.disabled) {
      return {
        ok: false,
        reason: "CreatorDisabled",
        message: `API token "${token.name}" is suspended: the account that created it (${by}) is disabled`,
      };
    }
    creator = { kind: "account", id: u.id, username: u.username, role: u.role };
  }
  await q.query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", [row.id, now]);
  return { ok: true, token: { ...token, lastUsedAt: now }, chain, creator };
}

async function accountByUsername(
  q: Queryable,
  username: string,
): Promise<{ id: string; username: string; role: AdminRole; disabled: boolean } | undefined> {
  const r = await q.query<{ id: string; username: string; role: AdminRole; disabled: boolean }>(
    "SELECT id::text AS id, username, role, disabled FROM users WHERE username = $1",
    [username],
  );
  return r.rows[0];
}

export async function getApiTokenByName(q: Queryable, name: string): Promise<ApiToken | undefined> {
  const r = await q.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE name = $1`, [name]);
  return r.rows[0] ? toToken(r.rows[0]) : undefined;
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

/**
 * Revokes a token and every token minted from it, at any depth (idempotent: the first revocation
 * time stays). Returns the token and the names of the descendants this call revoked.
 */
export async function revokeApiToken(
  q: Queryable,
  id: string,
  now: Date,
): Promise<(ApiToken & { cascaded: string[] }) | undefined> {
  if (!/^\d+$/.test(id)) return undefined;
  const r = await q.query<Row>(
    `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, now],
  );
  if (!r.rows[0]) return undefined;
  const t = toToken(r.rows[0]);
  const d = await q.query<{ name: string }>(
    `WITH RECURSIVE below(name, depth) AS (
         SELECT name, 1 FROM api_tokens WHERE created_by = 'token:' || $1
       UNION
         SELECT c.name, b.depth + 1 FROM api_tokens c JOIN below b ON c.created_by = 'token:' || b.name
          WHERE b.depth < 32
     )
     UPDATE api_tokens SET revoked_at = $2
      WHERE name IN (SELECT name FROM below) AND revoked_at IS NULL
     RETURNING name`,
    [t.name, now],
  );
  return { ...t, cascaded: d.rows.map((x) => x.name).sort() };
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

/**
 * Revokes every live token an actor created (`admin:<username>`), with every token minted from
 * them: a disabled or deleted account's tokens die with it, and a later account of the same name
 * does not inherit them. Returns the revoked names.
 */
export async function revokeTokensOf(q: Queryable, actor: string, now: Date): Promise<string[]> {
  const r = await q.query<{ name: string }>(
    `WITH RECURSIVE below(name, depth) AS (
         SELECT name, 1 FROM api_tokens WHERE created_by = $1
       UNION
         SELECT c.name, b.depth + 1 FROM api_tokens c JOIN below b ON c.created_by = 'token:' || b.name
          WHERE b.depth < 32
     )
     UPDATE api_tokens SET revoked_at = $2
      WHERE name IN (SELECT name FROM below) AND revoked_at IS NULL
     RETURNING name`,
    [actor, now],
  );
  return r.rows.map((x) => x.name).sort();
}
