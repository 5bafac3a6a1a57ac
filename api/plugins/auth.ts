// Authentication and the permission check for every route. Each route declares
// `config: { permission }` (api/policy/permissions.ts); this plugin resolves `req.principal`
// from an API token (`Authorization: Bearer ips_…`), a Kubernetes bearer token mapped to an
// admin account (any other bearer token: the cluster reviews it, api/plugins/kube-identity.ts),
// the legacy `X-Admin-Key`, or a session cookie, and refuses what the principal's role ∩ scopes do not allow. It fails closed: a
// matched route that declares no permission answers 500 and logs why.
//
// Webhook routes may also declare `config.hmac` (e.g. "hr"): a request carrying
// `X-Hub-Signature-256` then skips token auth and reaches the route with `req.principal`
// undefined, and the route verifies the HMAC itself. Without that header, bearer-token auth
// applies as usual with the route's permission.
import { createHash, timingSafeEqual } from "node:crypto";
import fp from "fastify-plugin";
import { isSignedWebhook } from "../leaver/webhook.ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { chainExpiry, isAllowed, tokenRights, type Permission, type Role } from "../policy/permissions.ts";
import { authenticateToken, TOKEN_PREFIX } from "../../record/identity/tokens.ts";
import { accountOfKubeUser } from "../../record/identity/kube-identities.ts";
import type { TokenReviewer } from "./kube-identity.ts";
import { readSession } from "../../record/identity/sessions.ts";
import { ForbiddenError, UnauthenticatedError, UnavailableError } from "../../record/errors.ts";

export type Principal = {
  /** Audit actor string: `admin:<username>`, `user:<email>`, `token:<name>`, `admin:legacy_key`. */
  actor: string;
  /** `kube`: a Kubernetes identity acting as its mapped admin account (bearer, so no CSRF). */
  kind: "session" | "token" | "legacy" | "kube";
  role: Role;
  /** Token scopes; null for sessions and the legacy key (the role alone decides). */
  scopes: string[] | null;
  username?: string;
  email?: string;
  tokenName?: string;
  /** Admin account id (sessions of admin accounts only). */
  userId?: string;
  /**
   * The admin account that acts: the session's account, or the account at the top of a token's
   * chain of creators (its ACL grants and its "self" apply to the token).
   */
  accountId?: string;
  /** Tokens: the earliest expiry along the token's chain (what a token it mints may not outlive). */
  expiresAt?: Date;
  /** The Kubernetes username behind a `kube` principal (what TokenReview answered). */
  kubeUsername?: string;
  /** Employee id (SCIM userName) of a portal session. */
  employeeId?: string;
  displayName?: string;
};

export const SESSION_COOKIE = "ipsolis_session";
export const LEGACY_ACTOR = "admin:legacy_key";

export type AuthOptions = {
  /** Legacy shared admin key; undefined disables `X-Admin-Key`. */
  adminKey?: string | undefined;
  /** Reviews bearer tokens that are not ours (Kubernetes identities); undefined turns that off. */
  reviewKubeToken?: TokenReviewer | undefined;
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Constant-time comparison of the presented key with the configured one (equal-length digests). */
function isLegacyKey(presented: string, configured: string): boolean {
  return timingSafeEqual(digest(presented), digest(configured));
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

type Resolved = { principal: Principal } | { error: UnauthenticatedError | UnavailableError } | undefined;

async function resolvePrincipal(
  req: FastifyRequest,
  opts: AuthOptions,
  permission?: Permission,
): Promise<Resolved> {
  const { db, now } = req.server.deps;
  const authz = header(req, "authorization");
  if (authz !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    if (!m?.[1])
      return { error: new UnauthenticatedError("malformed Authorization header (want: Bearer <token>)") };
    if (!m[1].startsWith(TOKEN_PREFIX) && opts.reviewKubeToken !== undefined) {
      // Public routes never ask the cluster: anyone may call them, with any header.
      if (permission === "public") return undefined;
      return kubePrincipal(req, m[1], opts.reviewKubeToken);
    }
    const found = await authenticateToken(db, m[1], now());
    if (!found.ok)
      return { error: new UnauthenticatedError(found.message, { reason: `Token${found.reason}` }) };
    const t = found.token;
    const c = found.creator;
    // The legacy key is a creator like an account: without it configured, its tokens are dead.
    if (c.kind === "legacy" && opts.adminKey === undefined) {
      return {
        error: new UnauthenticatedError(
          `API token "${t.name}" is no longer valid: it was created with the legacy admin key, which is switched off`,
          { reason: "TokenCreatorGone" },
        ),
      };
    }
    const rights = tokenRights(
      found.chain,
      c.kind === "account" ? c.role : c.kind === "legacy" ? "superadmin" : undefined,
    );
    const expiresAt = chainExpiry(found.chain);
    return {
      principal: {
        actor: `token:${t.name}`,
        kind: "token",
        role: rights.role,
        scopes: rights.scopes,
        tokenName: t.name,
        ...(c.kind === "account" ? { accountId: c.id } : {}),
        ...(expiresAt ? { expiresAt } : {}),
      },
    };
  }
  const key = header(req, "x-admin-key");
  if (key !== undefined) {
    if (opts.adminKey === undefined || !isLegacyKey(key, opts.adminKey)) {
      return { error: new UnauthenticatedError("invalid admin key") };
    }
    return {
      principal: {
        actor: LEGACY_ACTOR,
        kind: "legacy",
        role: "superadmin",
        scopes: null,
        username: "legacy_key",
      },
    };
  }
  const sid = req.cookies[SESSION_COOKIE];
  if (sid) {
    const s = await readSession(db, sid, now());
    if (!s) return { error: new UnauthenticatedError("session expired or signed out: please sign in again") };
    if (s.kind === "admin") {
      return {
        principal: {
          actor: `admin:${s.username}`,
          kind: "session",
          role: s.role,
          scopes: null,
          username: s.username,
          userId: s.userId,
          accountId: s.userId,
          ...(s.email ? { email: s.email } : {}),
        },
      };
    }
    return {
      principal: {
        actor: `user:${s.email}`,
        kind: "session",
        role: "employee",
        scopes: null,
        email: s.email,
        employeeId: s.employeeId,
        ...(s.displayName ? { displayName: s.displayName } : {}),
      },
    };
  }
  return undefined;
}

/**
 * A Kubernetes identity: the cluster says who holds the token, the record says which admin
 * account that person acts as. The account's current role and state decide on every request
 * (demoted or disabled takes effect at once; only the cluster's answer is cached briefly).
 */
async function kubePrincipal(req: FastifyRequest, token: string, review: TokenReviewer): Promise<Resolved> {
  const r = await review(token);
  if (!r.ok) {
    return {
      error:
        r.reason === "KubeReviewBusy"
          ? new UnavailableError(r.message, { reason: r.reason })
          : new UnauthenticatedError(r.message, { reason: r.reason }),
    };
  }
  const a = await accountOfKubeUser(req.server.deps.db, r.username);
  if (!a) {
    return {
      error: new UnauthenticatedError(
        `Kubernetes user "${r.username}" acts as no ipsolis admin account (a superadmin maps it: PUT /admin/users/<id>/kube-identities)`,
        { reason: "KubeIdentityUnmapped" },
      ),
    };
  }
  if (a.disabled) {
    return {
      error: new UnauthenticatedError(
        `Kubernetes user "${r.username}" acts as admin account ${a.username}, which is disabled`,
        { reason: "AccountDisabled" },
      ),
    };
  }
  return {
    principal: {
      actor: `admin:${a.username}`,
      kind: "kube",
      role: a.role,
      scopes: null,
      username: a.username,
      accountId: a.id,
      kubeUsername: r.username,
      ...(a.email ? { email: a.email } : {}),
    },
  };
}

/**
 * What a CSRF token is bound to: the session cookie (a hash of it is inside the token). Before
 * sign-in it is "-" (the library needs a non-empty value; no session id is "-"), so the sign-in
 * form's token works only until a session exists.
 */
export function csrfUserInfo(req: FastifyRequest): string {
  return req.cookies[SESSION_COOKIE] || "-";
}

/** A CSRF token for this request's session, for a form's `_csrf` field or `x-csrf-token`. */
export function csrfToken(req: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: csrfUserInfo(req) });
}

function verifyCsrf(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  return new Promise((resolve, reject) => {
    req.server.csrfProtection(req, reply, (err?: Error) => {
      if (err) reject(new ForbiddenError("missing or invalid CSRF token", { cause: err, reason: "Csrf" }));
      else resolve();
    });
  });
}

/** The principal of a route that requires one (the plugin already refused anonymous calls). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new UnauthenticatedError("authentication required");
  return req.principal;
}

export const authPlugin = fp<AuthOptions>(
  async (app, opts) => {
    app.decorateRequest("principal", undefined);

    app.addHook("onRequest", async (req) => {
      // Unmatched URLs fall through to the 404 handler.
      if (req.routeOptions.url === undefined) return;
      const config = req.routeOptions.config as { permission?: Permission; hmac?: string };
      const permission = config.permission;
      if (permission === undefined) {
        req.log.error({ route: req.routeOptions.url }, "route declares no permission");
        throw new Error(`route ${req.method} ${req.routeOptions.url} declares no permission`);
      }
      if (permission === "ingest") return;
      if (config.hmac !== undefined && isSignedWebhook(req)) return;

      const resolved = await resolvePrincipal(req, opts, permission);
      if (permission === "public") {
        // Public pages may still show who is signed in; bad credentials simply count as none.
        if (resolved && "principal" in resolved) req.principal = resolved.principal;
        return;
      }
      if (resolved === undefined) throw new UnauthenticatedError("authentication required");
      if ("error" in resolved) throw resolved.error;
      const p = resolved.principal;
      if (!isAllowed(p, permission)) {
        const why =
          p.scopes !== null && isAllowed({ role: p.role, scopes: null }, permission)
            ? `the token's scopes do not include ${permission}`
            : `role ${p.role} lacks permission ${permission}`;
        throw new ForbiddenError(`forbidden: ${why}`, { reason: "Forbidden" });
      }
      req.principal = p;
    });

    // Cookie-authenticated writes need the CSRF token (forms: `_csrf`; scripts: `x-csrf-token`);
    // so do form routes that say `csrf: true` (the sign-in and first-run forms). Checked after
    // body parsing, because a form carries the token in its body.
    app.addHook("preValidation", async (req, reply) => {
      if (SAFE_METHODS.has(req.method) || req.routeOptions.url === undefined) return;
      const config = req.routeOptions.config as { csrf?: boolean };
      if (req.principal?.kind === "session" || config.csrf === true) await verifyCsrf(req, reply);
    });
  },
  { name: "ipsolis-auth", dependencies: ["@fastify/cookie", "@fastify/csrf-protection"] },
);

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** The permission this route needs (api/policy/permissions.ts); every route declares one. */
    permission?: Permission;
    /** Webhook routes: the HMAC the route verifies itself when `X-Hub-Signature-256` is sent. */
    hmac?: string;
    /** Forms without a session yet (sign-in, first run) that still need the CSRF token. */
    csrf?: boolean;
  }
}
