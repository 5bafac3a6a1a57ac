// Route area: admin accounts, per-asset-type ACL grants, API tokens, security settings (issue
// #5): thin declarations over the admin service (api/admin/service.ts), which the console
// pages call too. Delegations are in the approvals area.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SecuritySettings } from "../../../record/identity/settings.ts";
import type { ApiToken } from "../../../record/identity/tokens.ts";
import { isScope, ROLES } from "../../policy/permissions.ts";
import {
  changeSecuritySettings,
  createAdminUser,
  deleteAdminUser,
  grantsOf,
  kubeIdentitiesOf,
  listAdminUsers,
  listTokens,
  mintToken,
  revokeToken,
  securitySettingsOf,
  setGrants,
  setKubeIdentities,
  unlockAdminUser,
  updateAdminUser,
} from "../../admin/service.ts";
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
    async (req) => ({ users: await listAdminUsers(req) }),
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
    async (req, reply) => reply.code(201).send({ user: await createAdminUser(req, req.body) }),
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
    async (req) => ({ user: await updateAdminUser(req, req.params.id, req.body) }),
  );

  app.delete(
    "/admin/users/:id",
    { config: { permission: "users:admin" }, schema: { params: IdParams, response: { 204: z.null() } } },
    async (req, reply) => {
      await deleteAdminUser(req, req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/admin/users/:id/unlock",
    { config: { permission: "users:admin" }, schema: { params: IdParams, response: { 204: z.null() } } },
    async (req, reply) => {
      await unlockAdminUser(req, req.params.id);
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
    async (req) => ({ assetTypes: await grantsOf(req, req.params.id) }),
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
    async (req) => setGrants(req, req.params.id, req.body),
  );

  // ---- Kubernetes identities acting as the account (kubectl ipsolis with a kubeconfig) ----
  app.get(
    "/admin/users/:id/kube-identities",
    {
      config: { permission: "users:admin" },
      schema: { params: IdParams, response: { 200: z.object({ usernames: z.array(z.string()) }) } },
    },
    async (req) => ({ usernames: await kubeIdentitiesOf(req, req.params.id) }),
  );

  app.put(
    "/admin/users/:id/kube-identities",
    {
      config: { permission: "users:admin" },
      schema: {
        params: IdParams,
        body: z.object({
          usernames: z
            .array(
              z
                .string()
                .min(1)
                .max(253)
                .regex(
                  /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u,
                  "a Kubernetes username (no control characters, no leading or trailing space)",
                ),
            )
            .max(100),
        }),
        response: { 200: z.object({ usernames: z.array(z.string()) }) },
      },
    },
    async (req) => setKubeIdentities(req, req.params.id, req.body),
  );

  // ---- API tokens ----
  app.get(
    "/admin/tokens",
    {
      config: { permission: "tokens:write" },
      schema: { response: { 200: z.object({ tokens: z.array(TokenView) }) } },
    },
    async (req) => ({ tokens: (await listTokens(req)).map(tokenView) }),
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
    async (req, reply) => reply.code(201).send(await mintToken(req, req.body)),
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
      const { token, cascaded } = await revokeToken(req, req.params.id);
      return { token: tokenView(token), cascaded };
    },
  );

  // ---- security settings ----
  app.get(
    "/admin/settings",
    { config: { permission: "settings:write" }, schema: { response: { 200: SecuritySettings } } },
    async (req) => securitySettingsOf(req),
  );

  app.put(
    "/admin/settings",
    {
      config: { permission: "settings:write" },
      schema: { body: SecuritySettings.partial(), response: { 200: SecuritySettings } },
    },
    async (req) => changeSecuritySettings(req, req.body),
  );
};
