// What every page needs from a request: the language (switch cookie, SCIM preferredLanguage,
// Accept-Language), the CSRF token, the clock, who is signed in, and the navigation with its
// counts. Also how pages answer: HTML, and the signed-out redirect with a safe returnTo.
import type { FastifyReply, FastifyRequest } from "fastify";
import { countsOf, preferredLanguageOf } from "../api/portal/index.ts";
import { safeReturnTo } from "../api/oidc/identity.ts";
import { toHtml, type SafeHtml } from "./html.ts";
import { chooseLang, translator } from "./i18n.ts";
import type { Ctx, NavItem } from "./layout.ts";

export const LANG_COOKIE = "ipsolis_lang";

export function send(reply: FastifyReply, body: SafeHtml, status = 200): FastifyReply {
  return reply
    .code(status)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(toHtml(body));
}

/** Where a signed-out visit goes: the sign-in page, coming back here afterwards. */
export function signInUrl(req: FastifyRequest): string {
  return `/portal/login?returnTo=${encodeURIComponent(safeReturnTo(req.url))}`;
}

export async function ctxOf(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: { nav?: boolean } = {},
): Promise<Ctx> {
  const p = req.principal;
  const preferred = p?.role === "employee" && p.email ? await preferredLanguageOf(req, p.email) : undefined;
  const lang = chooseLang({
    cookie: req.cookies[LANG_COOKIE],
    preferred,
    acceptLanguage: req.headers["accept-language"],
  });
  const isStaff = p !== undefined && p.role !== "employee";
  let nav: NavItem[] | undefined;
  if (p && opts.nav !== false) {
    if (isStaff) {
      nav = [
        { href: "/portal", label: "nav.console" },
        ...(p.kind === "session" ? [{ href: "/portal/password", label: "nav.password" } as const] : []),
      ];
    } else if (p.email) {
      const counts = await countsOf(req, p.email);
      nav = [
        { href: "/portal", label: "nav.home" },
        { href: "/portal/catalogue", label: "nav.catalogue" },
        { href: "/portal/orders", label: "nav.orders", count: counts.open, countLabel: "nav.count.open" },
        {
          href: "/portal/approvals",
          label: "nav.approvals",
          count: counts.waiting,
          countLabel: "nav.count.waiting",
        },
        { href: "/portal/delegation", label: "nav.delegation" },
      ];
    }
  }
  return {
    t: translator(lang),
    lang,
    now: req.server.deps.now(),
    timeZone: req.server.deps.config?.IPSOLIS_TIME_ZONE,
    csrf: reply.generateCsrf(),
    path: safeReturnTo(req.url),
    user: p
      ? {
          name: p.displayName ?? p.email ?? p.username ?? p.actor,
          isStaff,
          canChangePassword: isStaff && p.kind === "session",
        }
      : undefined,
    nav,
  };
}
