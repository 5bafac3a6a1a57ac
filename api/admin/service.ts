// The admin service: admin accounts (with the last-superadmin guard and the self-change rules),
// per-asset-type ACL grants, API tokens (mint guard, shown once, revocation with its cascade),
// security settings (issue #5). Every change is one transaction with its audit row. The JSON
// routes (api/routes/admin) and the console pages call these functions.
import type { FastifyRequest } from "fastify";
import { withTransaction } from "../../record/db.ts";
import { appendAudit } from "../../record/audit.ts";
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnprocessableError,
} from "../../record/errors.ts";
import { hashPassword } from "../../record/identity/passwords.ts";
import {
  countActiveSuperadmins,
  createUser,
  deleteUser,
  getUser,
  listGrants,
  listUsers,
  publicUser,
  resetFailedLogins,
  updateUser,
} from "../../record/identity/users.ts";
import { deleteUserSessions } from "../../record/identity/sessions.ts";
import { listKubeIdentities, replaceKubeIdentities } from "../../record/identity/kube-identities.ts";
import {
  createApiToken,
  listApiTokens,
  revokeApiToken,
  revokeTokensOf,
  type ApiToken,
} from "../../record/identity/tokens.ts";
import {
  getSecuritySettings,
  putSecuritySettings,
  type SecuritySettings,
} from "../../record/identity/settings.ts";
import { checkNewPassword, checkSelfChange, checkSuperadminGuard } from "../policy/accounts.ts";
import { resourcesOf } from "../plugins/resources.ts";
import { checkMint, type AdminRole } from "../policy/permissions.ts";
import { principalOf } from "../plugins/auth.ts";

export type NewAdminUser = {
  username: string;
  email?: string | undefined;
  role: AdminRole;
  password: string;
};
export type AdminUserChange = {
  email?: string | null | undefined;
  role?: AdminRole | undefined;
  disabled?: boolean | undefined;
};
export type NewToken = { name: string; role: AdminRole; scopes: string[]; expiresAt?: Date | undefined };
export type MintedToken = { id: string; token: string; name: string; expiresAt: string | null };

export async function listAdminUsers(req: FastifyRequest) {
  return listUsers(req.server.deps.db);
}

export async function createAdminUser(req: FastifyRequest, body: NewAdminUser) {
  const p = principalOf(req);
  const { db } = req.server.deps;
  const settings = await getSecuritySettings(db);
  const check = checkNewPassword({ next: body.password, minLength: settings.passwordMinLength });
  if (!check.ok) throw new InputError(check.message, { reason: check.reason });
  const passwordHash = await hashPassword(body.password);
  const user = await withTransaction(db, async (c) => {
    const u = await createUser(c, { ...body, passwordHash });
    await appendAudit(c, {
      actor: p.actor,
      action: "admin_user_created",
      target: `user:${u.username}`,
      requestId: req.id,
      source: "api",
      data: { role: u.role, email: u.email },
    });
    return u;
  });
  return user;
}

export async function updateAdminUser(req: FastifyRequest, id: string, body: AdminUserChange) {
  const p = principalOf(req);
  const user = await withTransaction(req.server.deps.db, async (c) => {
    const active = await countActiveSuperadmins(c);
    const before = await getUser(c, id, { forUpdate: true });
    if (!before) throw new NotFoundError(`user ${id} not found`);
    const own = checkSelfChange(p.accountId, before, { kind: "update", ...body });
    if (!own.ok) throw new ConflictError(own.message, { reason: own.reason });
    const guard = checkSuperadminGuard(before, { kind: "update", ...body }, active);
    if (!guard.ok) throw new ConflictError(guard.message, { reason: guard.reason });
    const after = await updateUser(c, before.id, body);
    if (body.disabled === true || (body.role && body.role !== before.role)) {
      await deleteUserSessions(c, before.id);
    }
    // A disabled account's tokens die (re-enabling does not revive them); a demoted one's
    // act with the new role from their next use on (api/plugins/auth.ts).
    const revoked =
      body.disabled === true && !before.disabled
        ? await revokeTokensOf(c, `admin:${before.username}`, req.server.deps.now())
        : [];
    await appendAudit(c, {
      actor: p.actor,
      action: "admin_user_updated",
      target: `user:${before.username}`,
      requestId: req.id,
      source: "api",
      data: {
        before: publicUser(before),
        after,
        ...(revoked.length > 0 ? { tokensRevoked: revoked } : {}),
      },
    });
    return after;
  });
  return user;
}

export async function deleteAdminUser(req: FastifyRequest, id: string): Promise<void> {
  const p = principalOf(req);
  await withTransaction(req.server.deps.db, async (c) => {
    const active = await countActiveSuperadmins(c);
    const before = await getUser(c, id, { forUpdate: true });
    if (!before) throw new NotFoundError(`user ${id} not found`);
    const own = checkSelfChange(p.accountId, before, { kind: "delete" });
    if (!own.ok) throw new ConflictError(own.message, { reason: own.reason });
    const guard = checkSuperadminGuard(before, { kind: "delete" }, active);
    if (!guard.ok) throw new ConflictError(guard.message, { reason: guard.reason });
    await deleteUser(c, before.id);
    const revoked = await revokeTokensOf(c, `admin:${before.username}`, req.server.deps.now());
    await appendAudit(c, {
      actor: p.actor,
      action: "admin_user_deleted",
      target: `user:${before.username}`,
      requestId: req.id,
      source: "api",
      data: { before: publicUser(before), ...(revoked.length > 0 ? { tokensRevoked: revoked } : {}) },
    });
  });
}

export async function grantsOf(req: FastifyRequest, id: string): Promise<string[]> {
  const u = await getUser(req.server.deps.db, id);
  if (!u) throw new NotFoundError(`user ${id} not found`);
  return listGrants(req.server.deps.db, u.id);
}

export async function setGrants(
  req: FastifyRequest,
  id: string,
  body: { assetTypes: string[] },
): Promise<{ assetTypes: string[] }> {
  const p = principalOf(req);
  return withTransaction(req.server.deps.db, async (c) => {
    const u = await getUser(c, id, { forUpdate: true });
    if (!u) throw new NotFoundError(`user ${id} not found`);
    const before = await listGrants(c, u.id);
    const wanted = [...new Set(body.assetTypes)].sort();
    // A grant names an existing asset type (a typo would silently scope the admin to
    // nothing useful); one kept from before may name a type deleted since.
    const added = wanted.filter((t) => !before.includes(t));
    if (added.length > 0) {
      const known = new Set(
        (await resourcesOf(req.server.deps).list("AssetType")).map((o) => o.metadata.name),
      );
      const unknown = added.filter((t) => !known.has(t));
      if (unknown.length > 0) {
        throw new UnprocessableError(
          `no such asset type: ${unknown.join(", ")} (a grant names an existing asset type)`,
          { reason: "UnknownAssetType", details: { unknown } },
        );
      }
    }
    await c.query("DELETE FROM asset_type_grants WHERE user_id = $1", [u.id]);
    for (const t of wanted) {
      await c.query("INSERT INTO asset_type_grants (user_id, asset_type) VALUES ($1, $2)", [u.id, t]);
    }
    await appendAudit(c, {
      actor: p.actor,
      action: "acl_grants_updated",
      target: `user:${u.username}`,
      requestId: req.id,
      source: "api",
      data: { before, after: wanted },
    });
    return { assetTypes: wanted };
  });
}

/** The Kubernetes usernames that act as an account (kubectl ipsolis with a kubeconfig). */
export async function kubeIdentitiesOf(req: FastifyRequest, id: string): Promise<string[]> {
  const u = await getUser(req.server.deps.db, id);
  if (!u) throw new NotFoundError(`user ${id} not found`);
  return listKubeIdentities(req.server.deps.db, u.id);
}

/**
 * Sets the Kubernetes usernames that act as an account. A Kubernetes user then signs in to the
 * API with any token the cluster accepts for it, with the account's role at the time of each
 * request; one already acting as another account is refused (409).
 */
export async function setKubeIdentities(
  req: FastifyRequest,
  id: string,
  body: { usernames: string[] },
): Promise<{ usernames: string[] }> {
  const p = principalOf(req);
  return withTransaction(req.server.deps.db, async (c) => {
    const u = await getUser(c, id, { forUpdate: true });
    if (!u) throw new NotFoundError(`user ${id} not found`);
    const before = await listKubeIdentities(c, u.id);
    const wanted = [...new Set(body.usernames)].sort();
    await replaceKubeIdentities(c, u.id, wanted);
    await appendAudit(c, {
      actor: p.actor,
      action: "kube_identities_updated",
      target: `user:${u.username}`,
      requestId: req.id,
      source: "api",
      data: { before, after: wanted },
    });
    return { usernames: wanted };
  });
}

export async function listTokens(req: FastifyRequest): Promise<ApiToken[]> {
  return listApiTokens(req.server.deps.db);
}

export async function mintToken(req: FastifyRequest, body: NewToken): Promise<MintedToken> {
  const p = principalOf(req);
  const mint = checkMint(p, body);
  if (!mint.ok) throw new ForbiddenError(mint.message, { reason: mint.reason });
  if (body.expiresAt && body.expiresAt.getTime() <= req.server.deps.now().getTime()) {
    throw new InputError("expiresAt must be in the future", { reason: "Expired" });
  }
  // A token minted by a token cannot outlive it: no expiry given inherits the minting
  // token's; a later one is refused.
  if (p.expiresAt && body.expiresAt && body.expiresAt > p.expiresAt) {
    throw new InputError(
      `expiresAt must not be after the expiry of the token you mint with (${p.expiresAt.toISOString()})`,
      { reason: "OutlivesParent" },
    );
  }
  const expiresAt = body.expiresAt ?? p.expiresAt ?? null;
  const made = await withTransaction(req.server.deps.db, async (c) => {
    const t = await createApiToken(c, { ...body, expiresAt, createdBy: p.actor });
    await appendAudit(c, {
      actor: p.actor,
      action: "api_token_created",
      target: `token:${body.name}`,
      requestId: req.id,
      source: "api",
      data: {
        role: body.role,
        scopes: body.scopes,
        expiresAt: expiresAt?.toISOString() ?? null,
      },
    });
    return t;
  });
  // The plaintext leaves the server once, here.
  return { id: made.id, token: made.token, name: body.name, expiresAt: expiresAt?.toISOString() ?? null };
}

export async function revokeToken(req: FastifyRequest, id: string) {
  const p = principalOf(req);
  return withTransaction(req.server.deps.db, async (c) => {
    const t = await revokeApiToken(c, id, req.server.deps.now());
    if (!t) throw new NotFoundError(`token ${id} not found`);
    await appendAudit(c, {
      actor: p.actor,
      action: "api_token_revoked",
      target: `token:${t.name}`,
      requestId: req.id,
      source: "api",
      // Tokens minted from this one die with it.
      ...(t.cascaded.length > 0 ? { data: { cascaded: t.cascaded } } : {}),
    });
    const { cascaded, ...token } = t;
    return { token, cascaded };
  });
}

export async function securitySettingsOf(req: FastifyRequest): Promise<SecuritySettings> {
  return getSecuritySettings(req.server.deps.db);
}

export async function changeSecuritySettings(
  req: FastifyRequest,
  body: Partial<SecuritySettings>,
): Promise<SecuritySettings> {
  const p = principalOf(req);
  return withTransaction(req.server.deps.db, async (c) => {
    const { before, after } = await putSecuritySettings(c, body);
    await appendAudit(c, {
      actor: p.actor,
      action: "settings_updated",
      target: "settings:security",
      requestId: req.id,
      source: "api",
      data: { before, after },
    });
    return after;
  });
}

/** Lifts a sign-in lockout (failed attempts forgotten), audited. */
export async function unlockAdminUser(req: FastifyRequest, id: string): Promise<void> {
  const p = principalOf(req);
  await withTransaction(req.server.deps.db, async (c) => {
    const u = await getUser(c, id, { forUpdate: true });
    if (!u) throw new NotFoundError(`user ${id} not found`);
    await resetFailedLogins(c, u.username);
    await appendAudit(c, {
      actor: p.actor,
      action: "admin_user_unlocked",
      target: `user:${u.username}`,
      requestId: req.id,
      source: "api",
      data: {},
    });
  });
}
