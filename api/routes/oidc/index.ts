// Employee sign-in over OpenID Connect (Entra ID in production): /auth/oidc/login starts the
// authorization code flow with PKCE, /auth/oidc/callback finishes it and opens an employee
// session. Employees are known from SCIM provisioning: a verified identity with no employee
// record is refused, never created on the fly.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { appendAudit } from "../../../record/audit.ts";
import { findEmployee, type Employee } from "../../../record/employees/store.ts";
import { createSession } from "../../../record/identity/sessions.ts";
import { html, toHtml } from "../../../portal/html.ts";
import { ctxOf } from "../../../portal/context.ts";
import { refusedPage } from "../../../portal/pages/signin.ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { checkCallback, identityFromClaims, safeReturnTo, type PendingLogin } from "../../oidc/identity.ts";
import { setSessionCookie } from "../auth/service.ts";

const PENDING_COOKIE = "ipsolis_oidc";

type T = Awaited<ReturnType<typeof ctxOf>>["t"];

/**
 * A refusal page in the person's language (the browser's Accept-Language: nobody is signed in
 * yet): why sign-in failed, and a way to try again. `words` picks the title and the message.
 */
async function refusal(
  req: FastifyRequest,
  reply: FastifyReply,
  words: (t: T) => { title: string; message: string },
): Promise<string> {
  const ctx = await ctxOf(req, reply, { nav: false });
  reply.type("text/html; charset=utf-8");
  return toHtml(refusedPage(ctx, words(ctx.t)));
}

/** Without OIDC settings the sign-in links are 404: a page saying so to a browser. */
async function notConfigured(req: FastifyRequest, reply: FastifyReply) {
  return reply
    .code(404)
    .send(await refusal(req, reply, (t) => ({ title: t("refused.title"), message: t("sso.notConfigured") })));
}

export const oidcRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/auth/oidc/login",
    {
      config: { permission: "public" },
      schema: { querystring: z.object({ returnTo: z.string().max(2000).optional() }) },
    },
    async (req, reply) => {
      const oidc = app.deps.oidc;
      if (!oidc) return notConfigured(req, reply);
      const { url, pending } = await oidc.beginLogin(safeReturnTo(req.query.returnTo));
      // Lax, not Strict: the callback arrives as a top-level navigation from the provider.
      reply.setCookie(PENDING_COOKIE, JSON.stringify(pending), {
        path: "/auth/oidc",
        httpOnly: true,
        secure: true,
        sameSite: "lax",
        signed: true,
        maxAge: 600,
      });
      return reply.redirect(url, 302);
    },
  );

  app.get(
    "/auth/oidc/callback",
    {
      config: { permission: "public" },
      schema: {
        querystring: z.object({
          code: z.string().max(4096).optional(),
          state: z.string().max(512).optional(),
          error: z.string().max(200).optional(),
          error_description: z.string().max(2000).optional(),
        }),
      },
    },
    async (req, reply) => {
      const { db, now } = app.deps;
      const oidc = app.deps.oidc;
      if (!oidc) return notConfigured(req, reply);
      reply.clearCookie(PENDING_COOKIE, {
        path: "/auth/oidc",
        httpOnly: true,
        secure: true,
        sameSite: "lax",
      });
      reply.type("text/html; charset=utf-8");
      const raw = req.cookies[PENDING_COOKIE];
      const unsigned = raw ? req.unsignCookie(raw) : undefined;
      let pending: PendingLogin | undefined;
      if (unsigned?.valid && unsigned.value) {
        try {
          pending = JSON.parse(unsigned.value) as PendingLogin;
        } catch (err) {
          req.log.warn({ err }, "unreadable sign-in cookie");
        }
      }
      if (req.query.error) {
        return reply.code(401).send(
          await refusal(req, reply, (t) => ({
            title: t("sso.refusedTitle"),
            message: t("sso.providerSaid", { what: req.query.error_description ?? req.query.error ?? "" }),
          })),
        );
      }
      const check = checkCallback(pending, req.query.state, now());
      if (!check.ok || !pending || !req.query.code) {
        return reply.code(400).send(
          await refusal(req, reply, (t) => ({
            title: t("sso.failedTitle"),
            message: check.ok ? t("sso.noCode") : t(`sso.${check.reason}`),
          })),
        );
      }
      const claims = await oidc.completeLogin(req.query.code, pending);
      const who = identityFromClaims(claims);
      if ("error" in who) {
        app.metrics.signIns.inc({ method: "oidc", result: "failed" });
        return reply
          .code(401)
          .send(
            await refusal(req, reply, (t) => ({ title: t("sso.failedTitle"), message: t("sso.noIdentity") })),
          );
      }
      let employee: Employee | undefined;
      for (const key of who.keys) {
        employee = await findEmployee(db, key);
        if (employee) break;
      }
      if (!employee) {
        await appendAudit(db, {
          actor: `user:${who.keys[who.keys.length - 1] ?? "unknown"}`,
          action: "login_refused",
          source: "portal",
          requestId: req.id,
          data: { reason: "NotProvisioned", method: "oidc" },
        });
        app.metrics.signIns.inc({ method: "oidc", result: "refused" });
        return reply.code(403).send(
          await refusal(req, reply, (t) => ({
            title: t("refused.title"),
            message: t("refused.notProvisioned", { who: who.keys.join(" / ") }),
          })),
        );
      }
      if (!employee.active) {
        // A leaver (deactivated over SCIM or by HR) no longer signs in to the portal.
        await appendAudit(db, {
          actor: `user:${employee.emails[0] ?? employee.userName}`,
          action: "login_refused",
          source: "portal",
          requestId: req.id,
          data: { reason: "Deactivated", method: "oidc" },
        });
        app.metrics.signIns.inc({ method: "oidc", result: "refused" });
        return reply.code(403).send(
          await refusal(req, reply, (t) => ({
            title: t("refused.title"),
            message: t("refused.deactivated"),
          })),
        );
      }
      const email = employee.emails[0] ?? employee.userName;
      const expires = new Date(now().getTime() + app.security.sessionHours * 3600_000);
      const sid = await createSession(
        db,
        {
          employeeEmail: email,
          employeeId: employee.userName,
          displayName: employee.displayName ?? who.displayName,
        },
        expires,
      );
      setSessionCookie(req, reply, sid);
      await appendAudit(db, {
        actor: `user:${email}`,
        action: "login_succeeded",
        source: "portal",
        requestId: req.id,
        data: { method: "oidc", tenant: who.tenantId },
      });
      app.metrics.signIns.inc({ method: "oidc", result: "succeeded" });
      // A page of our own that moves on: a SameSite=Strict session cookie set at the end of a
      // cross-site redirect chain would not be sent on a redirect, but is on our own navigation.
      const to = pending.returnTo;
      const { t, lang } = await ctxOf(req, reply, { nav: false });
      return reply.code(200).send(
        toHtml(
          html`<!doctype html>
            <html lang="${lang}">
              <head>
                <meta charset="utf-8" />
                <meta http-equiv="refresh" content="0;url=${to}" />
                <title>${t("sso.signedIn")}</title>
              </head>
              <body>
                <p>${t("sso.signedIn")} <a href="${to}">${t("sso.continue")}</a></p>
              </body>
            </html>`,
        ),
      );
    },
  );
};
