import type { FastifyReply, FastifyRequest } from "fastify";
// Route area: sign-in, sign-out, first-run superadmin, password change, who am I, CSRF token
// (issue #5). The rules live in ./service.ts, shared with the portal's forms.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { NotFoundError } from "../../../record/errors.ts";
import { csrfToken, principalOf } from "../../plugins/auth.ts";
import { changeOwnPassword, isFirstRun, setUpFirstSuperadmin, signIn, signOut } from "./service.ts";

/**
 * The JSON sign-in endpoints refuse form posts: a cross-site page can post a form without
 * CORS, but not JSON, so no other site can sign a browser into an account of its choosing
 * (login CSRF). Browsers sign in through /portal/login, which checks a CSRF token.
 */
async function requireJson(req: FastifyRequest, reply: FastifyReply) {
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  if (type !== "application/json") {
    return reply.code(415).send({ error: "send JSON (application/json); browsers sign in at /portal/login" });
  }
}

export const UserView = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string().nullable(),
  role: z.enum(["superadmin", "admin", "approver", "auditor", "helpdesk"]),
  disabled: z.boolean(),
  createdAt: z.date(),
});

const Credentials = z.object({ username: z.string().min(1).max(200), password: z.string().min(1).max(1024) });
const Username = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._@-]{1,63}$/, "2-64 lower-case letters, digits, '.', '_', '-' or '@'");

export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/auth/setup",
    {
      config: { permission: "public" },
      schema: { response: { 200: z.object({ firstRun: z.literal(true) }) } },
    },
    async (req) => {
      if (!(await isFirstRun(req))) throw new NotFoundError("Not Found");
      return { firstRun: true as const };
    },
  );

  app.post(
    "/auth/setup",
    {
      config: { permission: "public", rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 } },
      schema: {
        body: z.object({ username: Username, password: z.string().max(1024), email: z.email().optional() }),
        response: { 201: z.object({ user: UserView }) },
      },
      preValidation: requireJson,
    },
    async (req, reply) => {
      const user = await setUpFirstSuperadmin(req, reply, req.body, "api");
      return reply.code(201).send({ user });
    },
  );

  app.post(
    "/auth/login",
    {
      config: { permission: "public", rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 } },
      schema: { body: Credentials, response: { 200: z.object({ user: UserView }) } },
      preValidation: requireJson,
    },
    async (req, reply) => ({ user: await signIn(req, reply, req.body, "api") }),
  );

  app.post(
    "/auth/logout",
    { config: { permission: "self" }, schema: { response: { 204: z.null() } } },
    async (req, reply) => {
      await signOut(req, reply);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/auth/me",
    {
      config: { permission: "self" },
      schema: {
        response: {
          200: z.object({
            actor: z.string(),
            kind: z.enum(["session", "token", "legacy", "kube"]),
            role: z.string(),
            scopes: z.array(z.string()).nullable(),
            username: z.string().optional(),
            email: z.string().optional(),
            kubeUsername: z.string().optional(),
          }),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return {
        actor: p.actor,
        kind: p.kind,
        role: p.role,
        scopes: p.scopes,
        ...(p.username ? { username: p.username } : {}),
        ...(p.email ? { email: p.email } : {}),
        ...(p.kubeUsername ? { kubeUsername: p.kubeUsername } : {}),
      };
    },
  );

  // Scripts using a session cookie fetch this once and send it as `x-csrf-token` on writes.
  app.get(
    "/auth/csrf",
    { config: { permission: "public" }, schema: { response: { 200: z.object({ csrfToken: z.string() }) } } },
    async (req, reply) => ({ csrfToken: csrfToken(req, reply) }),
  );

  app.post(
    "/auth/password",
    {
      config: { permission: "self" },
      schema: {
        body: z.object({
          currentPassword: z.string().min(1).max(1024),
          newPassword: z.string().min(1).max(1024),
        }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await changeOwnPassword(req, reply, req.body, "api");
      return reply.code(204).send(null);
    },
  );
};
