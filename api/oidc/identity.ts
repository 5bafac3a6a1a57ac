// Pure rules for employee sign-in over OpenID Connect (Entra ID in production): which claims
// identify the person, and which sign-ins are refused. No I/O; the clock comes in as `now`.

/** The claims we rely on, after the id token's signature, issuer, audience and expiry were verified. */
export type IdClaims = {
  sub?: unknown;
  oid?: unknown;
  tid?: unknown;
  email?: unknown;
  preferred_username?: unknown;
  upn?: unknown;
  name?: unknown;
  nonce?: unknown;
};

export type SignInIdentity = { keys: string[]; displayName: string | null; tenantId: string | null };

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;

/**
 * The identifiers to look the employee up by, most specific first: Entra's `oid` (SCIM
 * externalId when Entra provisions us), then the UPN (`preferred_username`/`upn`, which is the
 * SCIM userName), then `email`.
 */
export function identityFromClaims(c: IdClaims): SignInIdentity | { error: string } {
  const keys = [str(c.oid), str(c.preferred_username), str(c.upn), str(c.email)].filter(
    (x): x is string => x !== undefined,
  );
  if (keys.length === 0)
    return { error: "the identity provider sent no oid, preferred_username, upn or email claim" };
  return { keys: [...new Set(keys)], displayName: str(c.name) ?? null, tenantId: str(c.tid) ?? null };
}

export type PendingLogin = {
  state: string;
  nonce: string;
  verifier: string;
  createdAt: number;
  returnTo: string;
};

/** How long a started sign-in may take before its callback is refused. */
export const PENDING_LOGIN_TTL_MS = 10 * 60 * 1000;

/** Checks the callback against what the login step remembered (state, age). */
export function checkCallback(
  pending: PendingLogin | undefined,
  state: string | undefined,
  now: Date,
):
  { ok: true } | { ok: false; reason: "NoPendingLogin" | "StateMismatch" | "LoginExpired"; message: string } {
  if (!pending)
    return { ok: false, reason: "NoPendingLogin", message: "no sign-in is in progress in this browser" };
  if (!state || state !== pending.state) {
    return { ok: false, reason: "StateMismatch", message: "the sign-in state does not match this browser's" };
  }
  if (now.getTime() - pending.createdAt > PENDING_LOGIN_TTL_MS) {
    return { ok: false, reason: "LoginExpired", message: "the sign-in took too long; start again" };
  }
  return { ok: true };
}

/** Only local paths may be returned to after sign-in (no open redirect). */
export function safeReturnTo(v: unknown): string {
  return typeof v === "string" && /^\/(?!\/)[\w\-./?=&%]*$/.test(v) ? v : "/portal";
}
