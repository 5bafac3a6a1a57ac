// Sign in: single sign-on as the employees' primary action, the IT staff password form second;
// the first-run superadmin form while no admin exists; the page that says why SSO refused.
import { html, type SafeHtml } from "../html.ts";
import { csrfField, errorSummary, field, flash, layout, type Ctx } from "../layout.ts";

export function signInPage(
  ctx: Ctx,
  p: {
    provider: string | undefined;
    returnTo: string;
    error?: string | undefined;
    notice?: string | undefined;
    username?: string | undefined;
    /** No admin account exists yet: the first-run form takes the staff form's place. */
    firstRun?: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  const sso = p.provider
    ? html`<a class="button big" href="/auth/oidc/login?returnTo=${encodeURIComponent(p.returnTo)}"
          >${t("signin.sso", { provider: p.provider })}</a
        >
        <p class="muted">${t("signin.ssoHelp")}</p>`
    : html`<p class="muted">${t("signin.ssoOff")}</p>`;
  return layout(
    ctx,
    t("signin.title"),
    html`<div class="signin">
      ${flash("info", p.notice)} ${errorSummary(ctx, [], p.error)}
      <section class="card" aria-labelledby="sso-h">
        <h2 id="sso-h" class="visually-hidden">${t("signin.sso", { provider: p.provider ?? "SSO" })}</h2>
        ${sso}
      </section>
      ${
        p.firstRun
          ? firstRunForm(ctx)
          : html` <section class="card" aria-labelledby="admin-h">
              <h2 id="admin-h">${t("signin.admin")}</h2>
              <p class="muted">${t("signin.adminHelp")}</p>
              <form method="post" action="/portal/login">
                ${csrfField(ctx)}<input type="hidden" name="returnTo" value="${p.returnTo}" />
                ${field(ctx, {
                  id: "username",
                  name: "username",
                  label: t("signin.username"),
                  kind: "text",
                  required: true,
                  autocomplete: "username",
                  value: p.username,
                })}
                ${field(ctx, {
                  id: "password",
                  name: "password",
                  label: t("signin.password"),
                  kind: "password",
                  required: true,
                  autocomplete: "current-password",
                })}
                <button class="secondary">${t("signin.submit")}</button>
              </form>
            </section>`
      }
    </div>`,
  );
}

function firstRunForm(ctx: Ctx): SafeHtml {
  const t = ctx.t;
  return html`<section class="card" aria-labelledby="first-h">
    <h2 id="first-h">${t("signin.firstRun")}</h2>
    <p>${t("signin.firstRunHelp")}</p>
    <form method="post" action="/portal/setup">
      ${csrfField(ctx)}
      ${field(ctx, { id: "username", name: "username", label: t("signin.username"), kind: "text", required: true, autocomplete: "username" })}
      ${field(ctx, { id: "email", name: "email", label: t("signin.email"), kind: "email", autocomplete: "email" })}
      ${field(ctx, { id: "password", name: "password", label: t("signin.password"), kind: "password", required: true, autocomplete: "new-password" })}
      <button>${t("signin.createSuperadmin")}</button>
    </form>
  </section>`;
}

export function firstRunPage(ctx: Ctx, p: { error?: string | undefined }): SafeHtml {
  return layout(
    ctx,
    ctx.t("signin.firstRun"),
    html`<div class="signin">${errorSummary(ctx, [], p.error)}${firstRunForm(ctx)}</div>`,
  );
}

/** Single sign-on refused (unknown person, leaver, provider error): why, and what to do. */
export function refusedPage(ctx: Ctx, p: { title: string; message: string }): SafeHtml {
  return layout(
    ctx,
    p.title,
    html`<div class="signin">
      <p class="flash flash-error" role="alert">${p.message}</p>
      <p><a href="/portal/login">${ctx.t("refused.tryAgain")}</a></p>
    </div>`,
  );
}

export function passwordPage(
  ctx: Ctx,
  p: { error?: string | undefined; done?: boolean; refusal?: string | undefined },
): SafeHtml {
  const t = ctx.t;
  if (p.refusal) return layout(ctx, t("password.title"), flash("error", p.refusal));
  return layout(
    ctx,
    t("password.title"),
    html`${errorSummary(ctx, [], p.error)}${p.done ? flash("ok", t("password.done")) : ""}
      <form method="post" action="/portal/password" class="card signin">
        ${csrfField(ctx)}
        ${field(ctx, { id: "currentPassword", name: "currentPassword", label: t("password.current"), kind: "password", required: true, autocomplete: "current-password" })}
        ${field(ctx, { id: "newPassword", name: "newPassword", label: t("password.new"), kind: "password", required: true, autocomplete: "new-password" })}
        <button>${t("password.submit")}</button>
      </form>`,
  );
}

/** Staff accounts: the staff entry point instead of employee pages they cannot use. */
export function staffPage(ctx: Ctx, p: { role: string; canChangePassword: boolean }): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("staff.title"),
    html`<div class="card">
      <p>${t("staff.help", { role: p.role })}</p>
      <p class="actions">
        <a class="button" href="/console">${t("staff.console")}</a>
        ${p.canChangePassword ? html`<a class="button secondary" href="/portal/password">${t("nav.password")}</a>` : ""}
      </p>
    </div>`,
  );
}

export function errorPage(ctx: Ctx, p: { title: string; message: string }): SafeHtml {
  return layout(
    ctx,
    p.title,
    html`<p class="flash flash-error" role="alert">${p.message}</p>
      <p><a href="/portal">${ctx.t("error.back")}</a></p>`,
  );
}
