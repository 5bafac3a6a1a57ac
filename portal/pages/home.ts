// Home / My IT: what the person holds (with when it was granted, its cost, Return), their open
// orders (with Cancel while allowed) and failed ones; and the full order list, paginated.
import { html, type SafeHtml } from "../html.ts";
import { phaseName, phaseTone } from "../format.ts";
import { csrfField, dateHtml, flash, layout, type Ctx } from "../layout.ts";

export type Holding = {
  order: string;
  what: string;
  grantedAt?: string | Date | undefined;
  cost?: string | undefined;
  returning: boolean;
  canReturn: boolean;
};

export type OrderRow = {
  name: string;
  what: string;
  action: string;
  phase?: string | undefined;
  createdAt?: string | Date | undefined;
  canCancel: boolean;
  message?: string | undefined;
};

export function badge(ctx: Ctx, phase: string | undefined, action?: string): SafeHtml {
  return html`<span class="badge badge-${phaseTone(phase)}">${phaseName(ctx.t, phase, action)}</span>`;
}

function cancelForm(ctx: Ctx, name: string): SafeHtml {
  return html`<form method="post" action="/portal/orders/${name}/cancel" class="inline">
    ${csrfField(ctx)}<button class="secondary">
      ${ctx.t("home.cancelOrder")}<span class="visually-hidden"> ${name}</span>
    </button>
  </form>`;
}

export function returnForm(ctx: Ctx, h: { order: string; what: string }): SafeHtml {
  return html`<form
    method="post"
    action="/portal/orders/${h.order}/return"
    class="inline"
    data-confirm="${ctx.t("home.returnConfirm", { name: h.what })}"
  >
    ${csrfField(ctx)}<button class="secondary">
      ${ctx.t("home.return")}<span class="visually-hidden"> ${h.what}</span>
    </button>
  </form>`;
}

export function homePage(
  ctx: Ctx,
  p: {
    name: string;
    holdings: Holding[];
    open: OrderRow[];
    failed: OrderRow[];
    total?: string | undefined;
    notice?: string | undefined;
    error?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("home.title"),
    html`${flash("ok", p.notice)}${flash("error", p.error)}
      <p>${t("home.greeting", { name: p.name })}</p>
      <h2 id="holds">${t("home.holds")}</h2>
      ${
        p.holdings.length === 0
          ? html`<p>${t("home.nothing")} <a href="/portal/catalogue">${t("home.browse")}</a></p>`
          : html`<table class="stack" aria-describedby="holds">
                <caption>
                  ${t("home.holdsCaption")}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">${t("home.asset")}</th>
                    <th scope="col">${t("home.granted")}</th>
                    <th scope="col">${t("home.cost")}</th>
                    <th scope="col">${t("home.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  ${p.holdings.map(
                    (h) =>
                      html`<tr>
                        <td data-label="${t("home.asset")}">
                          <a href="/portal/orders/${h.order}">${h.what}</a>
                        </td>
                        <td data-label="${t("home.granted")}">${dateHtml(ctx, h.grantedAt)}</td>
                        <td data-label="${t("home.cost")}">${h.cost ?? "—"}</td>
                        <td data-label="${t("home.actions")}">
                          ${
                            h.returning
                              ? html`<span class="badge badge-wait">${t("home.returning")}</span>`
                              : h.canReturn
                                ? returnForm(ctx, h)
                                : ""
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              ${p.total ? html`<p><strong>${t("home.totalCost", { amount: p.total })}</strong></p>` : ""}`
      }
      <h2>${t("home.open")}</h2>
      ${p.open.length === 0 ? html`<p>${t("home.noOpen")}</p>` : ordersTable(ctx, p.open, t("home.openCaption"))}
      ${
        p.failed.length > 0
          ? html`<h2>${t("home.failed")}</h2>
              ${ordersTable(ctx, p.failed, t("home.failed"))}`
          : ""
      }`,
  );
}

export function ordersTable(ctx: Ctx, rows: OrderRow[], caption: string): SafeHtml {
  const t = ctx.t;
  return html`<table class="stack">
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">${t("orders.what")}</th>
        <th scope="col">${t("orders.action")}</th>
        <th scope="col">${t("orders.phase")}</th>
        <th scope="col">${t("orders.created")}</th>
        <th scope="col">${t("home.actions")}</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (o) =>
          html`<tr>
            <td data-label="${t("orders.what")}">
              <a href="/portal/orders/${o.name}">${o.what}</a><br /><span class="muted">${o.name}</span>
            </td>
            <td data-label="${t("orders.action")}">${actionName(ctx, o.action)}</td>
            <td data-label="${t("orders.phase")}">
              ${badge(ctx, o.phase, o.action)}${
                o.message && o.phase === "Failed" ? html`<br /><span class="muted">${o.message}</span>` : ""
              }
            </td>
            <td data-label="${t("orders.created")}">${dateHtml(ctx, o.createdAt)}</td>
            <td data-label="${t("home.actions")}">${o.canCancel ? cancelForm(ctx, o.name) : ""}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function actionName(ctx: Ctx, action: string): string {
  return action === "Modify"
    ? ctx.t("action.Modify")
    : action === "Deprovision"
      ? ctx.t("action.Deprovision")
      : ctx.t("action.Provision");
}

export function ordersPage(
  ctx: Ctx,
  p: {
    rows: OrderRow[];
    page: number;
    pages: number;
    notice?: string | undefined;
    error?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("orders.title"),
    html`${flash("ok", p.notice)}${flash("error", p.error)}
    ${p.rows.length === 0 ? html`<p>${t("orders.none")}</p>` : ordersTable(ctx, p.rows, t("orders.caption"))}
    ${
      p.pages > 1
        ? html`<nav class="pager" aria-label="${t("common.page", { n: p.page })}">
            ${p.page > 1 ? html`<a href="/portal/orders?page=${p.page - 1}">${t("common.previous")}</a>` : html`<span></span>`}
            <span>${t("common.page", { n: p.page })} / ${p.pages}</span>
            ${p.page < p.pages ? html`<a href="/portal/orders?page=${p.page + 1}">${t("common.next")}</a>` : html`<span></span>`}
          </nav>`
        : ""
    }`,
  );
}
