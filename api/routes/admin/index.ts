// Route area: admin accounts (with the last-superadmin guard), per-asset-type ACL grants, API
// tokens (mint guard, shown once, revocation), security settings (issue #5). Delegations are
// in the approvals area.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { withTransaction } from "../../../record/db.ts";
import { appendAudit } from "../../../record/audit.ts";
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnprocessableError,
} from "../../../record/errors.ts";
import { hashPassword } from "../../../record/identity/passwords.ts";
import {
  countActiveSuperadmins,
  createUser,
  deleteUser,
  getUser,
  listGrants,
  listUsers,
  publicUser,
  updateUser,
} from "../../../record/identity/users.ts";
import { deleteUserSessions } from "../../../record/identity/sessions.ts";
import {
  createApiToken,
  listApiTokens,
  revokeApiToken,
  revokeTokensOf,
  type ApiToken,
} from "../../../record/identity/tokens.ts";
import {
  getSecuritySettings,
  putSecuritySettings,
  SecuritySettings,
} from "../../../record/identity/settings.ts";
import { checkNewPassword, checkSelfChange, checkSuperadminGuard } from "../../policy/accounts.ts";
import { resourcesOf } from "../../plugins/resources.ts";
import { checkMint, isScope, ROLES } from "../../policy/permissions.ts";
import { principalOf } from "../../plugins/auth.ts";
import { UserView } from "../auth/index.ts";

const Role = z.enum(ROLES);
const IdParams = z.object({ id: z.string().regex(/^\d{1,18}$/, "a numeric id") });
const Username = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._@-]{1,63}$/, "2-64 lower-case letters, digits, '.', '_', '-' or '@'");

const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  role: Role,
  scopes: z.array(z.string()),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
  createdBy: z.string(),
  createdAt: z.date(),
});
const tokenView = (t: ApiToken) => t;

export const adminRoutes: FastifyPluginAsyncZod = async (app) => {
  // ---- admin accounts ----
  app.get(
    "/admin/users",
    {
      config: { permission: "users:admin" },
      schema: { response: { 200: z.object({ users: z.array(UserView) }) } },
    },
    async (req) => ({ users: await listUsers(req.server.deps.db) }),
  );

  app.post(
    "/admin/users",
    {
      config: { permission: "users:admin" },
      schema: {
        body: z.object({
          username: Username,
          email: z.email().optional(),
          role: Role,
          password: z.string().max(1024),
        }),
        response: { 201: z.object({ user: UserView }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { db } = req.server.deps;
      const settings = await getSecuritySettings(db);
      const check = checkNewPassword({ next: req.body.password, minLength: settings.passwordMinLength });
      if (!check.ok) throw new InputError(check.message, { reason: check.reason });
      const passwordHash = await hashPassword(req.body.password);
      const user = await withTransaction(db, async (c) => {
        const u = await createUser(c, { ...req.body, passwordHash });
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
      return reply.code(201).send({ user });
    },
  );

  app.patch(
    "/admin/users/:id",
    {
      config: { permission: "users:admin" },
      schema: {
        params: IdParams,
        body: z.object({
          email: z.email().nullable().optional(),
          role: Role.optional(),
          disabled: z.boolean().optional(),
        }),
        response: { 200: z.object({ user: UserView }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const user = await withTransaction(req.server.deps.db, async (c) => {
        const active = await countActiveSuperadmins(c);
        const before = await getUser(c, req.params.id, { forUpdate: true });
        if (!before) throw new NotFoundError(`user ${req.params.id} not found`);
        const own = checkSelfChange(p.accountId, before, { kind: "update", ...req.body });
        if (!own.ok) throw new ConflictError(own.message, { reason: own.reason });
        const guard = checkSuperadminGuard(before, { kind: "update", ...req.body }, active);
        if (!guard.ok) throw new ConflictError(guard.message, { reason: guard.reason });
        const after = await updateUser(c, before.id, req.body);
        if (req.body.disabled === true || (req.body.role && req.body.role !== before.role)) {
          await deleteUserSessions(c, before.id);
        }
        // A disabled account's tokens die (re-enabling does not revive them); a demoted one's
        // act with the new role from their next use on (api/plugins/auth.ts).
        const revoked =
          req.body.disabled === true && !before.disabled
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
      return { user };
    },
  );

  app.delete(
    "/admin/users/:id",
    { config: { permission: "users:admin" }, schema: { params: IdParams, response: { 204: z.null() } } },
    async (req, reply) => {
      const p = principalOf(req);
      await withTransaction(req.server.deps.db, async (c) => {
        const active = await countActiveSuperadmins(c);
        const before = await getUser(c, req.params.id, { forUpdate: true });
        if (!before) throw new NotFoundError(`user ${req.params.id} not found`);
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
      return reply.code(204).send(null);
    },
  );

  // ---- ACL grants (admin role: ≥1 grant = scoped to those asset types) ----
  app.get(
    "/admin/users/:id/grants",
    {
      config: { permission: "users:admin" },
      schema: { params: IdParams, response: { 200: z.object({ assetTypes: z.array(z.string()) }) } },
    },
    async (req) => {
      const u = await getUser(req.server.deps.db, req.params.id);
      if (!u) throw new NotFoundError(`user ${req.params.id} not found`);
      return { assetTypes: await listGrants(req.server.deps.db, u.id) };
    },
  );

  app.put(
    "/admin/users/:id/grants",
    {
      config: { permission: "users:admin" },
      schema: {
        params: IdParams,
        body: z.object({ assetTypes: z.array(z.string().min(1).max(253)).max(1000) }),
        response: { 200: z.object({ assetTypes: z.array(z.string()) }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return withTransaction(req.server.deps.db, async (c) => {
        const u = await getUser(c, req.params.id, { forUpdate: true });
        if (!u) throw new NotFoundError(`user ${req.params.id} not found`);
        const before = await listGrants(c, u.id);
        const wanted = [...new Set(req.body.assetTypes)].sort();
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
    },
  );

  // ---- API tokens ----
  app.get(
    "/admin/tokens",
    {
      config: { permission: "tokens:write" },
      schema: { response: { 200: z.object({ tokens: z.array(TokenView) }) } },
    },
    async (req) => ({ tokens: (await listApiTokens(req.server.deps.db)).map(tokenView) }),
  );

  app.post(
    "/admin/tokens",
    {
      config: { permission: "tokens:write" },
      schema: {
        body: z.object({
          name: z
            .string()
            .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "1-63 lower-case letters, digits, '.', '_' or '-'"),
          role: Role,
          scopes: z
            .array(
              z
                .string()
                .refine(isScope, "unknown scope (a permission such as orders:read, <area>:* or admin:*)"),
            )
            .min(1),
          expiresAt: z.coerce.date().optional(),
        }),
        response: {
          201: z.object({
            id: z.string(),
            token: z.string(),
            name: z.string(),
            expiresAt: z.string().nullable(),
          }),
        },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const mint = checkMint(p, req.body);
      if (!mint.ok) throw new ForbiddenError(mint.message, { reason: mint.reason });
      if (req.body.expiresAt && req.body.expiresAt.getTime() <= req.server.deps.now().getTime()) {
        throw new InputError("expiresAt must be in the future", { reason: "Expired" });
      }
      // A token minted by a token cannot outlive it: no expiry given inherits the minting
      // token's; a later one is refused.
      if (p.expiresAt && req.body.expiresAt && req.body.expiresAt > p.expiresAt) {
        throw new InputError(
          `expiresAt must not be after the expiry of the token you mint with (${p.expiresAt.toISOString()})`,
          { reason: "OutlivesParent" },
        );
      }
      const expiresAt = req.body.expiresAt ?? p.expiresAt ?? null;
      const made = await withTransaction(req.server.deps.db, async (c) => {
        const t = await createApiToken(c, { ...req.body, expiresAt, createdBy: p.actor });
        await appendAudit(c, {
          actor: p.actor,
          action: "api_token_created",
          target: `token:${req.body.name}`,
          requestId: req.id,
          source: "api",
          data: {
            role: req.body.role,
            scopes: req.body.scopes,
            expiresAt: expiresAt?.toISOString() ?? null,
          },
        });
        return t;
      });
      // The plaintext leaves the server once, here.
      return reply.code(201).send({
        id: made.id,
        token: made.token,
        name: req.body.name,
        expiresAt: expiresAt?.toISOString() ?? null,
      });
    },
  );

  app.delete(
    "/admin/tokens/:id",
    {
      config: { permission: "tokens:write" },
      schema: {
        params: IdParams,
        response: { 200: z.object({ token: TokenView, cascaded: z.array(z.string()) }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return withTransaction(req.server.deps.db, async (c) => {
        const t = await revokeApiToken(c, req.params.id, req.server.deps.now());
        if (!t) throw new NotFoundError(`token ${req.params.id} not found`);
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
        return { token: tokenView(token), cascaded };
      });
    },
  );

  // ---- security settings ----
  app.get(
    "/admin/settings",
    { config: { permission: "settings:write" }, schema: { response: { 200: SecuritySettings } } },
    async (req) => getSecuritySettings(req.server.deps.db),
  );

  app.put(
    "/admin/settings",
    {
      config: { permission: "settings:write" },
      schema: { body: SecuritySettings.partial(), response: { 200: SecuritySettings } },
    },
    async (req) => {
      const p = principalOf(req);
      return withTransaction(req.server.deps.db, async (c) => {
        const { before, after } = await putSecuritySettings(c, req.body);
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
    },
  );
};
