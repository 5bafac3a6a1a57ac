// Portal pages (server-rendered, issue #18): sign-in, My IT, orders, the order page, the
// catalogue with its generated order form and confirmation, approvals, delegation, the leaver
// page, and the one-click approval link. Every handler translates a form into a call of the
// services in api/portal and the result into a page; rules stay in api/.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { AppError, NotFoundError } from "../record/errors.ts";
import { safeReturnTo } from "../api/oidc/identity.ts";
import { isLang } from "./i18n.ts";
import { ctxOf, LANG_COOKIE, send, signInUrl } from "./context.ts";
import { errorPage, firstRunPage, passwordPage, signInPage, staffPage } from "./pages/signin.ts";
import {
  changeOwnPassword,
  isFirstRun,
  LEGACY_KEY_PASSWORD_REFUSAL,
  principalOf,
  setUpFirstSuperadmin,
  signIn,
  signOut,
} from "../api/portal/index.ts";
import { employeeRoutes } from "./employee-routes.ts";
import { secretRoutes } from "./secret-routes.ts";
import { approvalLinkRoutes } from "./link-routes.ts";
import { consoleRoutes } from "./console/routes.ts";
import { referenceRoutes } from "./reference-routes.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const Form = (shape: z.ZodRawShape) => z.object({ _csrf: z.string().optional(), ...shape });
export const messageOf = (err: unknown) =>
  err instanceof AppError && err.status < 500 ? err.message : undefined;
export const statusOf = (err: unknown) => (err instanceof AppError ? err.status : 500);

/** Staff accounts get the staff entry point instead of an employee page. */
export async function staffInstead(
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const p = principalOf(req);
  if (p.role === "employee") return undefined;
  const ctx = await ctxOf(req, reply);
  return send(reply, staffPage(ctx, { role: p.role, canChangePassword: p.kind === "session" }));
}

export const portalRoutes: FastifyPluginAsyncZod = async (app) => {
  // Our own CSS and script, from our origin (the CSP allows nothing else).
  const assets = new Map<string, { type: string; body: string }>();
  for (const [file, type] of [
    ["portal.css", "text/css; charset=utf-8"],
    ["portal.js", "text/javascript; charset=utf-8"],
  ] as const) {
    assets.set(file, { type, body: await readFile(join(here, "static", file), "utf8") });
  }
  app.get(
    "/portal/static/:file",
    {
      config: { permission: "public" },
      schema: { hide: true, params: z.object({ file: z.string().max(64) }) },
    },
    async (req, reply) => {
      const a = assets.get(req.params.file);
      if (!a) throw new NotFoundError("Not Found");
      return reply.type(a.type).header("cache-control", "public, max-age=300").send(a.body);
    },
  );
  // The old stylesheet address keeps working.
  app.get(
    "/portal/style.css",
    { config: { permission: "public" }, schema: { hide: true } },
    async (_req, reply) => reply.redirect("/portal/static/portal.css", 301),
  );

  // Pages answer in HTML: a signed-out visit goes to sign-in (and comes back), a refusal is a
  // page in the person's language with the same status the API would give.
  app.setErrorHandler<FastifyError>(async (err, req, reply) => {
    const status = err instanceof AppError ? err.status : (err.statusCode ?? 500);
    if (status === 401 && req.method === "GET") return reply.redirect(signInUrl(req), 303);
    if (status >= 500) req.log.error({ err }, "page failed");
    const ctx = await ctxOf(req, reply, { nav: status !== 401 }).catch((e: unknown) => {
      req.log.warn({ err: e }, "page context failed");
      return undefined;
    });
    if (!ctx) return reply.code(status).send({ error: status >= 500 ? "internal error" : err.message });
    const title = status === 404 ? ctx.t("error.notFound") : ctx.t("error.title");
    const message =
      status >= 500
        ? ctx.t("error.title")
        : status === 400 && err.validation
          ? err.message
          : err.message || ctx.t("error.title");
    return send(reply, errorPage(ctx, { title, message }), status);
  });

  app.post(
    "/portal/language",
    {
      config: { permission: "public", csrf: true },
      schema: {
        hide: true,
        body: Form({ lang: z.string().max(8), returnTo: z.string().max(2000).optional() }),
      },
    },
    async (req, reply) => {
      const b = req.body as { lang: string; returnTo?: string };
      if (isLang(b.lang))
        reply.setCookie(LANG_COOKIE, b.lang, {
          path: "/",
          sameSite: "lax",
          httpOnly: true,
          secure: true,
          maxAge: 365 * 86400,
        });
      return reply.redirect(safeReturnTo(b.returnTo), 303);
    },
  );

  const provider = () =>
    app.deps.oidc ? (app.deps.config?.IPSOLIS_OIDC_PROVIDER_NAME ?? "Microsoft") : undefined;

  app.get(
    "/portal/login",
    {
      config: { permission: "public" },
      schema: {
        hide: true,
        querystring: z.object({ returnTo: z.string().max(2000).optional(), out: z.string().optional() }),
      },
    },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply, { nav: false });
      const firstRun = await isFirstRun(req);
      if (firstRun && !provider()) return send(reply, firstRunPage(ctx, {}));
      const returnTo = safeReturnTo(req.query.returnTo);
      // Someone signed in who follows a sign-in link goes on.
      if (req.principal) return reply.redirect(returnTo, 303);
      return send(
        reply,
        signInPage(ctx, {
          provider: provider(),
          returnTo,
          firstRun,
          notice:
            req.query.out !== undefined
              ? ctx.t("signin.signedOut")
              : req.query.returnTo
                ? ctx.t("signin.needed")
                : undefined,
        }),
      );
    },
  );

  app.post(
    "/portal/login",
    {
      config: {
        permission: "public",
        csrf: true,
        rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 },
      },
      schema: {
        hide: true,
        body: Form({
          username: z.string().max(200),
          password: z.string().max(1024),
          returnTo: z.string().max(2000).optional(),
        }),
      },
    },
    async (req, reply) => {
      const b = req.body as { username: string; password: string; returnTo?: string };
      try {
        await signIn(req, reply, { username: b.username, password: b.password }, "portal");
        return reply.redirect(safeReturnTo(b.returnTo), 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        const ctx = await ctxOf(req, reply, { nav: false });
        return send(
          reply,
          signInPage(ctx, {
            provider: provider(),
            returnTo: safeReturnTo(b.returnTo),
            error: msg,
            username: b.username,
          }),
          statusOf(err),
        );
      }
    },
  );

  app.post(
    "/portal/setup",
    {
      config: {
        permission: "public",
        csrf: true,
        rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 },
      },
      schema: {
        hide: true,
        body: Form({
          username: z.string().max(64),
          password: z.string().max(1024),
          email: z.string().max(254).optional(),
        }),
      },
    },
    async (req, reply) => {
      if (!(await isFirstRun(req))) throw new NotFoundError("Not Found");
      const b = req.body as { username: string; password: string; email?: string };
      try {
        await setUpFirstSuperadmin(
          req,
          reply,
          { username: b.username, password: b.password, email: b.email || undefined },
          "portal",
        );
        return reply.redirect("/portal", 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || err instanceof NotFoundError) throw err;
        return send(
          reply,
          firstRunPage(await ctxOf(req, reply, { nav: false }), { error: msg }),
          statusOf(err),
        );
      }
    },
  );

  app.post(
    "/portal/logout",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      await signOut(req, reply);
      return reply.redirect("/portal/login?out=1", 303);
    },
  );

  app.get(
    "/portal/password",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      const p = principalOf(req);
      const ctx = await ctxOf(req, reply);
      if (p.kind === "legacy")
        return send(reply, passwordPage(ctx, { refusal: LEGACY_KEY_PASSWORD_REFUSAL }), 403);
      // SSO employees have no ipsolis password: their company account is managed elsewhere.
      if (p.role === "employee") throw new NotFoundError("Not Found");
      return send(reply, passwordPage(ctx, {}));
    },
  );

  app.post(
    "/portal/password",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        body: Form({ currentPassword: z.string().max(1024), newPassword: z.string().max(1024) }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      try {
        await changeOwnPassword(
          req,
          reply,
          req.body as { currentPassword: string; newPassword: string },
          "portal",
        );
        return send(reply, passwordPage(await ctxOf(req, reply), { done: true }));
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        const ctx = await ctxOf(req, reply);
        return send(
          reply,
          p.kind === "legacy" ? passwordPage(ctx, { refusal: msg }) : passwordPage(ctx, { error: msg }),
          statusOf(err),
        );
      }
    },
  );

  await app.register(employeeRoutes);
  await app.register(secretRoutes);
  await app.register(approvalLinkRoutes);
  await app.register(consoleRoutes);
  await app.register(referenceRoutes);
};
