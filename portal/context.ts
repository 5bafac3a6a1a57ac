// What every page needs from a request: the language (switch cookie, SCIM preferredLanguage,
// Accept-Language), the CSRF token, the clock, who is signed in, and the navigation with its
// counts. Also how pages answer: HTML, and the signed-out redirect with a safe returnTo.
import type { FastifyReply, FastifyRequest } from "fastify";
import { countsOf, myOneTimeSecretCounts, preferredLanguageOf } from "../api/portal/index.ts";
import { safeReturnTo } from "../api/oidc/identity.ts";
import { csrfToken } from "../api/plugins/auth.ts";
import { isAllowed, type Permission } from "../api/policy/permissions.ts";
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

/**
 * The page to come back to (language switch): this URL for a GET; for a page rendered by a form
 * POST, the page the form was on (same-origin Referer), since the POST's URL has no GET page.
 */
function pagePath(req: FastifyRequest): string {
  if (req.method === "GET") return safeReturnTo(req.url);
  // Forms that re-render their own GET page (validation errors).
  const path = req.url.split("?")[0] ?? "";
  if (/^\/portal\/(catalogue\/[a-z0-9.-]+\/order|delegation|password|login)$/.test(path)) return path;
  const ref = req.headers.referer;
  if (ref) {
    try {
      const u = new URL(ref);
      if (u.host === req.headers.host) return safeReturnTo(u.pathname + u.search);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
    }
  }
  return "/portal";
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
      // The console's sections the principal may open (the API's permission table).
      const staff: [NavItem["href"], NavItem["label"], Permission][] = [
        ["/console", "nav.dashboard", "self"],
        ["/console/orders", "nav.allOrders", "orders:read"],
        ["/console/asset-types", "nav.assetTypes", "assettypes:read"],
        ["/console/runbooks", "nav.runbooks", "runbooks:read"],
        ["/console/integrations", "nav.integrations", "runbooks:read"],
        ["/console/pool", "nav.pool", "orders:read"],
        ["/console/leavers", "nav.leavers", "leavers:read"],
        ["/console/audit", "nav.audit", "audit:read"],
        ["/console/cost", "nav.cost", "cost:read"],
        ["/console/users", "nav.users", "users:admin"],
        ["/console/tokens", "nav.tokens", "tokens:write"],
        ["/console/settings", "nav.settings", "settings:write"],
      ];
      nav = [
        ...staff.filter(([, , perm]) => isAllowed(p, perm)).map(([href, label]) => ({ href, label })),
        ...(p.kind === "session" ? [{ href: "/portal/password", label: "nav.password" } as const] : []),
      ];
    } else if (p.email) {
      const counts = await countsOf(req, p.email);
      const secrets = await myOneTimeSecretCounts(req);
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
        // Only for those who were ever sent one (managers): one-time passwords (#22).
        ...(secrets.all > 0
          ? [
              {
                href: "/portal/secrets",
                label: "nav.secrets",
                count: secrets.live,
                countLabel: "nav.count.ready",
              } as const,
            ]
          : []),
      ];
    }
  }
  return {
    t: translator(lang),
    lang,
    now: req.server.deps.now(),
    timeZone: req.server.deps.config?.IPSOLIS_TIME_ZONE,
    csrf: csrfToken(req, reply),
    path: pagePath(req),
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
