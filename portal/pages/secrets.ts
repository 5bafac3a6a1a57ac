// One-time passwords delivered to me (#22, the password reset that goes to the manager): the
// list, one value's page with its Reveal button, and the page that shows the value once.
import { html, type SafeHtml } from "../html.ts";
import { csrfField, dateHtml, flash, layout, type Ctx } from "../layout.ts";
import type { OneTimeSecretState } from "../../api/orders/one-time-secrets.ts";

export type SecretRow = {
  id: string;
  /** Whose password: their name and e-mail. */
  subject: string;
  what: string;
  order: string;
  state: OneTimeSecretState;
  orderPhase?: string | null | undefined;
  createdAt: Date;
  expiresAt: Date;
  revealedAt?: Date | null | undefined;
};

function stateText(ctx: Ctx, r: SecretRow): string {
  return ctx.t(`secrets.state.${r.state}`, { phase: r.orderPhase ?? "—" });
}

export function secretsPage(ctx: Ctx, p: { rows: SecretRow[] }): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("secrets.title"),
    html`<p>${t("secrets.help")}</p>
      ${
        p.rows.length === 0
          ? html`<p>${t("secrets.none")}</p>`
          : html`<table class="stack">
              <caption>
                ${t("secrets.caption")}
              </caption>
              <thead>
                <tr>
                  <th scope="col">${t("secrets.for")}</th>
                  <th scope="col">${t("orders.what")}</th>
                  <th scope="col">${t("orders.phase")}</th>
                  <th scope="col">${t("orders.created")}</th>
                </tr>
              </thead>
              <tbody>
                ${p.rows.map(
                  (r) =>
                    html`<tr>
                      <td data-label="${t("secrets.for")}">
                        <a href="/portal/secrets/${r.id}">${r.subject}</a>
                      </td>
                      <td data-label="${t("orders.what")}">
                        ${r.what}<br /><span class="muted">${r.order}</span>
                      </td>
                      <td data-label="${t("orders.phase")}">${stateText(ctx, r)}</td>
                      <td data-label="${t("orders.created")}">${dateHtml(ctx, r.createdAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

function summary(ctx: Ctx, r: SecretRow): SafeHtml {
  const t = ctx.t;
  return html`<dl>
    <dt>${t("secrets.for")}</dt>
    <dd>${r.subject}</dd>
    <dt>${t("orders.what")}</dt>
    <dd>${r.what}</dd>
    <dt>${t("orders.order")}</dt>
    <dd>${r.order}</dd>
    <dt>${t("orders.phase")}</dt>
    <dd id="status">${stateText(ctx, r)}</dd>
    <dt>${t("secrets.until")}</dt>
    <dd>${dateHtml(ctx, r.expiresAt)}</dd>
    ${
      r.revealedAt
        ? html`<dt>${t("secrets.revealedAt")}</dt>
            <dd>${dateHtml(ctx, r.revealedAt)}</dd>`
        : ""
    }
  </dl>`;
}

export function secretPage(ctx: Ctx, r: SecretRow, p: { error?: string | undefined } = {}): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("secrets.one", { name: r.subject }),
    html`${flash("error", p.error)}
      <section class="card" aria-labelledby="sec-h">
        <h2 id="sec-h">${t("secrets.summary")}</h2>
        ${summary(ctx, r)}
        ${
          r.state === "Ready"
            ? html`<p>${t("secrets.revealHelp")}</p>
                <form method="post" action="/portal/secrets/${r.id}/reveal">
                  ${csrfField(ctx)}
                  <div class="actions"><button>${t("secrets.reveal")}</button></div>
                </form>`
            : r.state === "Waiting"
              ? html`<p>${t("secrets.waitingHelp")}</p>`
              : ""
        }
      </section>
      <p><a href="/portal/secrets">${t("secrets.back")}</a></p>`,
  );
}

/** The value, shown this once (the response is no-store; a reload shows it is gone). */
export function revealedPage(ctx: Ctx, r: SecretRow, value: string): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("secrets.one", { name: r.subject }),
    html`<section class="card" aria-labelledby="val-h">
        <h2 id="val-h">${t("secrets.valueTitle")}</h2>
        <p><code class="secret-value" id="secret-value" tabindex="0">${value}</code></p>
        <p>${t("secrets.valueHelp", { name: r.subject })}</p>
        ${summary(ctx, r)}
      </section>
      <p><a href="/portal/secrets">${t("secrets.back")}</a></p>`,
  );
}
