// Portal pages. Templates only render what the routes (portal/routes.ts) hand them: no rules,
// no I/O. Every value passes through `html` (escaped).
import { html, type SafeHtml } from "./html.ts";

export function page(
  title: string,
  body: SafeHtml,
  opts: { signedInAs?: string; csrf?: string } = {},
): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ipsolis</title>
        <link rel="stylesheet" href="/portal/style.css" />
      </head>
      <body>
        <header>
          <strong>ipsolis</strong>${
            opts.signedInAs
              ? html` · signed in as ${opts.signedInAs} · <a href="/portal/catalogue">Catalogue</a> ·
                  <a href="/portal/orders">Orders</a> ·
                  <a href="/portal/password">Password</a>
                  <form method="post" action="/portal/logout" class="inline">
                    <input type="hidden" name="_csrf" value="${opts.csrf ?? ""}" /><button>Sign out</button>
                  </form>`
              : ""
          }
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

const errorBox = (error?: string) => (error ? html`<p class="error" role="alert">${error}</p>` : "");

export function loginPage(p: { csrf: string; error?: string; firstRun: boolean }): SafeHtml {
  if (p.firstRun) {
    return page(
      "First run: create the superadmin",
      html`${errorBox(p.error)}
        <p>No admin account exists yet. Create the first superadmin; this page disappears afterwards.</p>
        <form method="post" action="/portal/setup">
          <input type="hidden" name="_csrf" value="${p.csrf}" />
          <label>Username <input name="username" autocomplete="username" required /></label>
          <label>E-mail <input name="email" type="email" autocomplete="email" /></label>
          <label
            >Password <input name="password" type="password" autocomplete="new-password" required
          /></label>
          <button>Create superadmin</button>
        </form>`,
    );
  }
  return page(
    "Sign in",
    html`${errorBox(p.error)}
      <form method="post" action="/portal/login">
        <input type="hidden" name="_csrf" value="${p.csrf}" />
        <label>Username <input name="username" autocomplete="username" required /></label>
        <label
          >Password <input name="password" type="password" autocomplete="current-password" required
        /></label>
        <button>Sign in</button>
      </form>`,
  );
}

export function passwordPage(p: {
  csrf: string;
  who: string;
  error?: string;
  done?: boolean;
  refusal?: string;
}): SafeHtml {
  if (p.refusal) return page("Change password", html`<p class="error" role="alert">${p.refusal}</p>`);
  return page(
    "Change password",
    html`${errorBox(p.error)}${p.done ? html`<p class="ok">Your password was changed.</p>` : ""}
      <form method="post" action="/portal/password">
        <input type="hidden" name="_csrf" value="${p.csrf}" />
        <label
          >Current password
          <input name="currentPassword" type="password" autocomplete="current-password" required
        /></label>
        <label
          >New password <input name="newPassword" type="password" autocomplete="new-password" required
        /></label>
        <button>Change password</button>
      </form>`,
    { signedInAs: p.who, csrf: p.csrf },
  );
}

export type OrderRow = {
  name: string;
  assetType: string;
  action: string;
  requester: string;
  phase: string;
  createdAt: string;
};

export function ordersPage(p: { who: string; csrf: string; orders: OrderRow[] }): SafeHtml {
  return page(
    "Orders",
    p.orders.length === 0
      ? html`<p>No orders.</p>`
      : html`<table>
          <thead>
            <tr>
              <th>Order</th>
              <th>Asset type</th>
              <th>Action</th>
              <th>For</th>
              <th>Phase</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            ${p.orders.map(
              (o) =>
                html`<tr>
                  <td>${o.name}</td>
                  <td>${o.assetType}</td>
                  <td>${o.action}</td>
                  <td>${o.requester}</td>
                  <td>${o.phase}</td>
                  <td>${o.createdAt}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
    { signedInAs: p.who, csrf: p.csrf },
  );
}

export type CatalogueAttribute = {
  name: string;
  type: string;
  enum?: string[] | undefined;
  required?: boolean | undefined;
  secret?: boolean | undefined;
  description?: string | undefined;
};

export type CatalogueItem = {
  name: string;
  displayName: string;
  description?: string | undefined;
  category: string;
  attributes: CatalogueAttribute[];
};

function attributeField(a: CatalogueAttribute): SafeHtml {
  const field = `attr_${a.name}`;
  const input =
    a.type === "enum" && a.enum
      ? html`<select name="${field}" ${a.required ? html`required` : ""}>
          ${a.required ? "" : html`<option value=""></option>`}
          ${a.enum.map((v) => html`<option>${v}</option>`)}
        </select>`
      : html`<input
          name="${field}"
          type="${a.secret ? "password" : "text"}"
          maxlength="2000"
          ${a.required ? html`required` : ""}
        />`;
  return html`<label>${a.name}${a.description ? html` (${a.description})` : ""} ${input}</label>`;
}

/**
 * The asset types the signed-in person may order (the route filters by entitlement), each with
 * its order form. `canOrder` false (staff): the list only; they order on behalf through the API.
 */
export function cataloguePage(p: {
  who: string;
  csrf: string;
  items: CatalogueItem[];
  canOrder: boolean;
  error?: string | undefined;
}): SafeHtml {
  return page(
    "Catalogue",
    html`${errorBox(p.error)}
    ${p.canOrder ? "" : html`<p>Staff order on behalf of an employee through the API (POST /orders).</p>`}
    ${
      p.items.length === 0
        ? html`<p>Nothing you may order.</p>`
        : p.items.map(
            (i) =>
              html`<section class="asset" data-asset-type="${i.name}">
                <h2>${i.displayName}</h2>
                <p>${i.category}${i.description ? html` · ${i.description}` : ""}</p>
                ${
                  p.canOrder
                    ? html`<form method="post" action="/portal/orders">
                        <input type="hidden" name="_csrf" value="${p.csrf}" />
                        <input type="hidden" name="assetType" value="${i.name}" />
                        ${i.attributes.map(attributeField)}
                        <label>Reason <input name="reason" maxlength="2000" /></label>
                        <button>Order</button>
                      </form>`
                    : ""
                }
              </section>`,
          )
    }`,
    { signedInAs: p.who, csrf: p.csrf },
  );
}

export function approvalLinkPage(p: {
  csrf?: string;
  action?: string;
  order?: { name: string; assetType: string; requester: string; reason?: string | undefined };
  approver?: string;
  message?: string;
  error?: string;
}): SafeHtml {
  if (p.error) return page("Approval link", html`<p class="error" role="alert">${p.error}</p>`);
  if (p.message) return page("Approval link", html`<p class="ok">${p.message}</p>`);
  const o = p.order!;
  return page(
    "Approve or decline",
    html`<p>Order <strong>${o.name}</strong>: <strong>${o.assetType}</strong> for ${o.requester}.</p>
      ${o.reason ? html`<p>Reason: ${o.reason}</p>` : ""}
      <p>You decide as <strong>${p.approver}</strong>. Nothing happens until you press a button.</p>
      <form method="post" action="${p.action}">
        <input type="hidden" name="_csrf" value="${p.csrf}" />
        <label>Comment <input name="comment" maxlength="2000" /></label>
        <button name="decision" value="Approved">Approve</button>
        <button name="decision" value="Declined">Decline</button>
      </form>`,
  );
}

export const STYLE_CSS = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}
label{display:block;margin:.5rem 0}input{margin-left:.5rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}
.error{color:#a00}.ok{color:#060}.inline{display:inline}`;
