// Approvals inbox (what waits for me and for those I deputise, approve/decline with a comment),
// the one-click link page in the same look, and the delegation page (set, see, end my deputy).
import { html, type SafeHtml } from "../html.ts";
import {
  csrfField,
  dateHtml,
  errorSummary,
  field,
  flash,
  layout,
  type Ctx,
  type FieldError,
} from "../layout.ts";

export type InboxRow = {
  name: string;
  what: string;
  requester: string;
  cost: string;
  reason?: string | undefined;
  createdAt?: string | Date | undefined;
  forPrincipal?: string | undefined;
  canApprove: boolean;
  approveRefusal?: string | undefined;
};

function decisionForm(ctx: Ctx, r: InboxRow): SafeHtml {
  const t = ctx.t;
  return html`<form method="post" action="/portal/approvals/${r.name}" class="decide">
    ${csrfField(ctx)}
    ${field(ctx, { id: `comment-${r.name}`, name: "comment", label: t("approvals.comment"), kind: "text", maxlength: 2000 })}
    <div class="actions">
      ${r.canApprove ? html`<button name="decision" value="Approved">${t("approvals.approve")}</button>` : ""}
      <button name="decision" value="Declined" class="secondary">${t("approvals.decline")}</button>
    </div>
    ${!r.canApprove && r.approveRefusal ? html`<p class="muted">${t("approvals.onlyDecline", { why: r.approveRefusal })}</p>` : ""}
  </form>`;
}

export function approvalsPage(
  ctx: Ctx,
  p: { rows: InboxRow[]; notice?: string | undefined; error?: string | undefined },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("approvals.title"),
    html`${flash("ok", p.notice)}${flash("error", p.error)}
    ${
      p.rows.length === 0
        ? html`<p>${t("approvals.none")}</p>`
        : p.rows.map(
            (r) =>
              html`<article class="card" aria-labelledby="ap-${r.name}">
                <h2 id="ap-${r.name}">${r.what}</h2>
                <dl>
                  <dt>${t("approvals.requester")}</dt>
                  <dd>
                    ${r.requester}${r.forPrincipal ? html` <span class="muted">(${t("approvals.forPrincipal", { name: r.forPrincipal })})</span>` : ""}
                  </dd>
                  <dt>${t("catalogue.cost")}</dt>
                  <dd>${r.cost}</dd>
                  <dt>${t("approvals.justification")}</dt>
                  <dd>${r.reason ?? t("order.notEntered")}</dd>
                  <dt>${t("approvals.age")}</dt>
                  <dd>${dateHtml(ctx, r.createdAt)} (${dateHtml(ctx, r.createdAt, true)})</dd>
                  <dt>${t("orders.order")}</dt>
                  <dd>${r.name}</dd>
                </dl>
                ${decisionForm(ctx, r)}
              </article>`,
          )
    }`,
  );
}

export function approvalLinkPage(
  ctx: Ctx,
  p: {
    action?: string | undefined;
    order?: {
      name: string;
      what: string;
      requester: string;
      reason?: string | undefined;
      cost?: string | undefined;
    };
    approver?: string | undefined;
    /** The button the mail's link preselected: shown first, focused for Enter. */
    chosen?: "Approved" | "Declined" | undefined;
    message?: string | undefined;
    error?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  const button = (d: "Approved" | "Declined", label: string, primary: boolean) =>
    html`<button
      name="decision"
      value="${d}"
      class="${primary ? "" : "secondary"}"
      ${p.chosen === d ? html`autofocus` : ""}
    >
      ${label}
    </button>`;
  const approve = button("Approved", t("approvals.approve"), p.chosen !== "Declined");
  const decline = button("Declined", t("approvals.decline"), p.chosen === "Declined");
  if (p.error) return layout(ctx, t("link.titleDone"), flash("error", p.error));
  if (p.message) return layout(ctx, t("link.titleDone"), flash("ok", p.message));
  const o = p.order!;
  return layout(
    ctx,
    t("link.title"),
    html`<article class="card">
      <h2>${o.what}</h2>
      <dl>
        <dt>${t("orders.order")}</dt>
        <dd>${o.name}</dd>
        <dt>${t("approvals.requester")}</dt>
        <dd>${o.requester}</dd>
        ${
          o.cost
            ? html`<dt>${t("catalogue.cost")}</dt>
                <dd>${o.cost}</dd>`
            : ""
        }
        <dt>${t("approvals.justification")}</dt>
        <dd>${o.reason ?? t("order.notEntered")}</dd>
      </dl>
      <p>${t("link.decideAs", { name: p.approver ?? "" })}</p>
      ${p.chosen ? html`<p><strong>${t(`link.chosen.${p.chosen}`)}</strong></p>` : ""}
      <form method="post" action="${p.action}">
        ${csrfField(ctx)}
        ${field(ctx, { id: "comment", name: "comment", label: t("approvals.comment"), kind: "text", maxlength: 2000 })}
        <div class="actions">
          ${p.chosen === "Declined" ? html`${decline}${approve}` : html`${approve}${decline}`}
        </div>
      </form>
    </article>`,
  );
}

export type DelegationView = { id: string; who: string; startsAt: Date; endsAt: Date };

export function delegationPage(
  ctx: Ctx,
  p: {
    mine: DelegationView[];
    toMe: DelegationView[];
    values: { deputy: string; startsAt: string; endsAt: string };
    errors: FieldError[];
    general?: string | undefined;
    notice?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  const errOf = (id: string) => p.errors.find((e) => e.field === id)?.message;
  const table = (rows: DelegationView[], caption: string, canEnd: boolean, who: string) =>
    html`<table class="stack">
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          <th scope="col">${who}</th>
          <th scope="col">${t("delegation.starts")}</th>
          <th scope="col">${t("delegation.ends")}</th>
          ${canEnd ? html`<th scope="col">${t("home.actions")}</th>` : ""}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (d) =>
            html`<tr>
              <td data-label="${who}">${d.who}</td>
              <td data-label="${t("delegation.starts")}">${dateHtml(ctx, d.startsAt)}</td>
              <td data-label="${t("delegation.ends")}">${dateHtml(ctx, d.endsAt)}</td>
              ${
                canEnd
                  ? html`<td data-label="${t("home.actions")}">
                      <form method="post" action="/portal/delegation/${d.id}/end" class="inline">
                        ${csrfField(ctx)}<button class="secondary">
                          ${t("delegation.end")}<span class="visually-hidden"> ${d.who}</span>
                        </button>
                      </form>
                    </td>`
                  : ""
              }
            </tr>`,
        )}
      </tbody>
    </table>`;
  return layout(
    ctx,
    t("delegation.title"),
    html`${flash("ok", p.notice)}${errorSummary(ctx, p.errors, p.general)}
      <p>${t("delegation.help")}</p>
      <h2>${t("delegation.current")}</h2>
      ${
        p.mine.length === 0
          ? html`<p>${t("delegation.none")}</p>`
          : table(p.mine, t("delegation.caption"), true, t("delegation.deputy"))
      }
      <form method="post" action="/portal/delegation" class="card" novalidate>
        ${csrfField(ctx)}
        ${field(ctx, { id: "deputy", name: "deputy", label: t("delegation.deputy"), kind: "email", required: true, value: p.values.deputy, error: errOf("deputy"), autocomplete: "off" })}
        ${field(ctx, { id: "startsAt", name: "startsAt", label: t("delegation.starts"), kind: "datetime-local", required: true, value: p.values.startsAt, error: errOf("startsAt") })}
        ${field(ctx, { id: "endsAt", name: "endsAt", label: t("delegation.ends"), kind: "datetime-local", required: true, value: p.values.endsAt, error: errOf("endsAt") })}
        <button>${t("delegation.set")}</button>
      </form>
      <h2>${t("delegation.toMe")}</h2>
      ${
        p.toMe.length === 0
          ? html`<p>${t("delegation.toMeNone")}</p>`
          : table(p.toMe, t("delegation.toMe"), false, t("delegation.principal"))
      }`,
  );
}

export function blockedPage(ctx: Ctx, p: { manager?: string | undefined }): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("blocked.title"),
    html`<div class="card">
      <p class="flash flash-error" role="alert">${t("blocked.why")}</p>
      <p>${p.manager ? t("blocked.contact", { manager: p.manager }) : t("blocked.contactNoManager")}</p>
      <p><a href="/portal">${t("error.back")}</a></p>
    </div>`,
  );
}
