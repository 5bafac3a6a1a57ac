// The pages framework shared by the employee portal and the staff console: the layout (skip
// link, header with navigation and counts, the person's name, language switch, sign-out), form
// helpers (labelled fields with hints and errors, the error summary linking to each field), and
// markdown rendered safely. Templates render what they are given; no I/O, no rules.
import MarkdownIt from "markdown-it";
import { html, type SafeHtml } from "./html.ts";
import type { Lang, MessageKey, Translate } from "./i18n.ts";
import { formatDate, formatRelative } from "./format.ts";

export type NavItem = {
  href: string;
  label: MessageKey;
  count?: number | undefined;
  countLabel?: MessageKey;
};

/** What every page needs from the request: language, clock, CSRF token, who is signed in. */
export type Ctx = {
  t: Translate;
  lang: Lang;
  now: Date;
  timeZone?: string | undefined;
  csrf: string;
  /** The current path (with query), for the language switch's return and the active nav item. */
  path: string;
  user?: { name: string; isStaff: boolean; canChangePassword: boolean } | undefined;
  nav?: NavItem[] | undefined;
};

export const STATIC = "/portal/static";

// html:false: markdown in asset type descriptions may not carry HTML; links only to http(s)/mailto.
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
const defaultValidate = md.validateLink.bind(md);
md.validateLink = (url: string) => /^(https?:|mailto:|\/|#)/i.test(url.trim()) && defaultValidate(url);

/** Markdown help text as HTML: raw HTML is shown as text, scripts and javascript: links cannot pass. */
export function markdown(src: string | undefined): SafeHtml {
  return { __html: src ? md.render(src) : "" };
}

export function csrfField(ctx: Pick<Ctx, "csrf">): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}" />`;
}

/** A date readable in the person's language, with the machine value for assistive tech. */
export function dateHtml(ctx: Ctx, d: string | Date | undefined, relative = false): SafeHtml {
  if (d === undefined) return html``;
  const iso = typeof d === "string" ? d : d.toISOString();
  const abs = formatDate(iso, { lang: ctx.lang, timeZone: ctx.timeZone });
  return relative
    ? html`<time datetime="${iso}" title="${abs}">${formatRelative(iso, ctx.now, ctx.lang)}</time>`
    : html`<time datetime="${iso}">${abs}</time>`;
}

export type FieldError = { field: string; message: string };

/** The GOV.UK-style error summary: focusable, each message a link to its field. */
export function errorSummary(ctx: Ctx, errors: FieldError[], general?: string): SafeHtml {
  if (errors.length === 0 && !general) return html``;
  return html`<div class="error-summary" role="alert" tabindex="-1" id="error-summary" data-focus>
    <h2>${ctx.t("common.errorSummary")}</h2>
    ${general ? html`<p>${general}</p>` : ""}
    ${
      errors.length > 0
        ? html`<ul>
            ${errors.map((e) => html`<li><a href="#${e.field}">${e.message}</a></li>`)}
          </ul>`
        : ""
    }
  </div>`;
}

export type FieldSpec = {
  id: string;
  name: string;
  label: string;
  kind: "text" | "password" | "number" | "select" | "textarea" | "email" | "datetime-local" | "checkbox";
  value?: string | undefined;
  required?: boolean | undefined;
  hint?: SafeHtml | string | undefined;
  options?: { value: string; label: string }[] | undefined;
  error?: string | undefined;
  autocomplete?: string | undefined;
  maxlength?: number | undefined;
  /** For kind number: "1" for whole numbers, "any" (the default) for decimals. */
  step?: string | undefined;
};

/** One labelled field with its hint and error, wired with aria-describedby/aria-invalid. */
export function field(ctx: Ctx, f: FieldSpec): SafeHtml {
  const hintId = f.hint ? `${f.id}-hint` : undefined;
  const errId = f.error ? `${f.id}-error` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(" ") || undefined;
  const common = html`id="${f.id}" name="${f.name}" ${f.required ? html`required aria-required="true"` : ""}
  ${describedBy ? html`aria-describedby="${describedBy}"` : ""} ${f.error ? html`aria-invalid="true"` : ""}`;
  let control: SafeHtml;
  if (f.kind === "select") {
    control = html`<select ${common}>
      <option value="">—</option>
      ${(f.options ?? []).map(
        (o) =>
          html`<option value="${o.value}" ${o.value === f.value ? html`selected` : ""}>${o.label}</option>`,
      )}
    </select>`;
  } else if (f.kind === "textarea") {
    control = html`<textarea ${common} rows="3" maxlength="${f.maxlength ?? 2000}">
${f.value ?? ""}</textarea>`;
  } else {
    // A secret is never echoed back, not even after a validation error.
    const value = f.kind === "password" ? "" : (f.value ?? "");
    control = html`<input
      ${common}
      type="${f.kind}"
      value="${value}"
      ${f.kind === "number" ? html`step="${f.step ?? "any"}"` : ""}
      ${f.maxlength && f.kind !== "number" ? html`maxlength="${f.maxlength}"` : ""}
      ${f.autocomplete ? html`autocomplete="${f.autocomplete}"` : ""}
    />`;
  }
  return html`<div class="field${f.error ? " field-error" : ""}">
    <label for="${f.id}"
      >${f.label}
      ${
        f.required
          ? html`<span class="req">(${ctx.t("common.required")})</span>`
          : html`<span class="opt">(${ctx.t("common.optional")})</span>`
      }</label
    >
    ${f.hint ? html`<div class="hint" id="${hintId}">${f.hint}</div>` : ""}
    ${f.error ? html`<p class="error-message" id="${errId}">${f.error}</p>` : ""} ${control}
  </div>`;
}

export function flash(kind: "ok" | "error" | "info", message: string | undefined): SafeHtml {
  if (!message) return html``;
  return html`<p class="flash flash-${kind}" role="${kind === "error" ? "alert" : "status"}">${message}</p>`;
}

function navHtml(ctx: Ctx): SafeHtml {
  if (!ctx.nav || ctx.nav.length === 0) return html``;
  // The section this page belongs to: the longest nav href that prefixes the path.
  const path = ctx.path.split("?")[0] ?? "";
  const current = ctx.nav
    .map((n) => n.href)
    .filter((h) => path === h || path.startsWith(`${h}/`))
    .sort((a, b) => b.length - a.length)[0];
  return html`<nav aria-label="${ctx.t("nav.main")}" class="nav">
    <ul>
      ${ctx.nav.map((n) => {
        const isCurrent = current === n.href;
        return html`<li>
          <a href="${n.href}" ${isCurrent ? html`aria-current="page"` : ""}
            >${ctx.t(n.label)}${
              n.count
                ? html` <span class="count" data-count="${n.href}"
                    ><span class="visually-hidden">(</span>${
                      n.countLabel ? ctx.t(n.countLabel, { n: n.count }) : String(n.count)
                    }<span class="visually-hidden">)</span></span
                  >`
                : ""
            }</a
          >
        </li>`;
      })}
    </ul>
  </nav>`;
}

export function layout(ctx: Ctx, title: string, body: SafeHtml, opts: { wide?: boolean } = {}): SafeHtml {
  const other: Lang = ctx.lang === "en" ? "de" : "en";
  return html`<!doctype html>
    <html lang="${ctx.lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ipsolis</title>
        <link rel="stylesheet" href="${STATIC}/portal.css" />
        <script src="${STATIC}/portal.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">${ctx.t("nav.skip")}</a>
        <header class="top">
          <div class="bar">
            <a class="brand" href="${ctx.user?.isStaff ? "/console" : "/portal"}">ipsolis</a>
            <div class="tools">
              <form method="post" action="/portal/language" class="inline">
                ${csrfField(ctx)}<input type="hidden" name="lang" value="${other}" /><input
                  type="hidden"
                  name="returnTo"
                  value="${ctx.path}"
                /><button
                  class="link"
                  lang="${other}"
                  aria-label="${ctx.t("nav.language")}: ${ctx.t("nav.switch")}"
                >
                  ${ctx.t("nav.switch")}
                </button>
              </form>
              ${
                ctx.user
                  ? html`<span class="who">${ctx.t("nav.signedInAs", { name: ctx.user.name })}</span>
                      <form method="post" action="/portal/logout" class="inline">
                        ${csrfField(ctx)}<button class="link">${ctx.t("nav.signOut")}</button>
                      </form>`
                  : ""
              }
            </div>
          </div>
          ${navHtml(ctx)}
        </header>
        <main id="main" tabindex="-1" class="${opts.wide ? "wide" : ""}">
          <h1>${title}</h1>
          ${body}
        </main>
        ${
          ctx.user?.isStaff
            ? html`<footer class="foot">
                <a href="/docs/api" ${ctx.path.startsWith("/docs/api") ? html`aria-current="page"` : ""}
                  >${ctx.t("nav.apiReference")}</a
                >
              </footer>`
            : ""
        }
      </body>
    </html>`;
}
