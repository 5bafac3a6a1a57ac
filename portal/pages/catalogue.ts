// Catalogue (cards by category, search, category filter) and the order form generated from the
// asset type's attribute schema, with its confirmation step (cost and who approves).
import { html, type SafeHtml } from "../html.ts";
import { MAX_ATTRIBUTE_LENGTH } from "../../api/policy/order-form.ts";
import {
  csrfField,
  errorSummary,
  field,
  flash,
  layout,
  markdown,
  type Ctx,
  type FieldError,
} from "../layout.ts";

export type CatalogueAttribute = {
  name: string;
  label: string;
  type: "string" | "number" | "integer" | "boolean" | "enum";
  enum?: string[] | undefined;
  required: boolean;
  secret: boolean;
  help?: string | undefined;
};

export type CatalogueCard = {
  name: string;
  displayName: string;
  category: string;
  description?: string | undefined;
  cost: string;
  projection?: string | undefined;
  approval: string;
  attributes: CatalogueAttribute[];
  /** Labels of the attributes filled from the person's employee record (fromEmployee). */
  fromRecord?: string[] | undefined;
};

export function cataloguePage(
  ctx: Ctx,
  p: {
    cards: CatalogueCard[];
    categories: string[];
    q: string;
    category: string;
    canOrder: boolean;
    blocked: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  const groups = new Map<string, CatalogueCard[]>();
  for (const c of p.cards) groups.set(c.category, [...(groups.get(c.category) ?? []), c]);
  return layout(
    ctx,
    t("catalogue.title"),
    html`${p.canOrder ? "" : flash("info", t("catalogue.staff"))}
      ${p.blocked ? html`<p class="flash flash-error"><a href="/portal/blocked">${t("catalogue.leaver")}</a></p>` : ""}
      <form method="get" action="/portal/catalogue" class="filters" role="search">
        ${field(ctx, { id: "q", name: "q", label: t("catalogue.search"), kind: "text", value: p.q })}
        ${field(ctx, {
          id: "category",
          name: "category",
          label: t("catalogue.category"),
          kind: "select",
          value: p.category,
          options: p.categories.map((c) => ({ value: c, label: c })),
        })}
        <div class="field"><button class="secondary">${t("catalogue.filter")}</button></div>
      </form>
      ${p.cards.length === 0 ? html`<p>${t("catalogue.nothing")}</p>` : ""}
      ${[...groups].map(
        ([category, cards]) =>
          html`<section aria-labelledby="cat-${slug(category)}">
            <h2 id="cat-${slug(category)}">${category}</h2>
            <div class="cards">${cards.map((c) => card(ctx, c, p.canOrder && !p.blocked))}</div>
          </section>`,
      )}`,
  );
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-");

function card(ctx: Ctx, c: CatalogueCard, canOrder: boolean): SafeHtml {
  const t = ctx.t;
  const classified = c.attributes.filter((a) => a.secret);
  return html`<article class="card" data-asset-type="${c.name}" aria-labelledby="at-${c.name}">
    <h3 id="at-${c.name}">${c.displayName}</h3>
    <div class="help">${markdown(c.description)}</div>
    <dl>
      <dt>${t("catalogue.cost")}</dt>
      <dd>${c.cost}${c.projection ? html`<br /><span class="muted">${c.projection}</span>` : ""}</dd>
      <dt>${t("catalogue.approval")}</dt>
      <dd>${c.approval}</dd>
      ${
        c.attributes.length > 0
          ? html`<dt>${t("catalogue.fields")}</dt>
              <dd>${c.attributes.map((a) => a.label).join(", ")}</dd>`
          : ""
      }
      ${
        c.fromRecord && c.fromRecord.length > 0
          ? html`<dt>${t("catalogue.fromRecord")}</dt>
              <dd>${c.fromRecord.join(", ")}</dd>`
          : ""
      }
      ${
        classified.length > 0
          ? html`<dt>${t("catalogue.classified")}</dt>
              <dd>
                ${classified.map((a) => t("catalogue.classifiedSecret", { name: a.label })).join(", ")}
              </dd>`
          : ""
      }
    </dl>
    ${
      canOrder
        ? html`<div class="actions">
            <a class="button" href="/portal/catalogue/${c.name}/order"
              >${t("catalogue.order", { name: c.displayName })}</a
            >
          </div>`
        : ""
    }
  </article>`;
}

export function attributeField(
  ctx: Ctx,
  a: CatalogueAttribute,
  value: string | undefined,
  error: string | undefined,
): SafeHtml {
  const base = {
    id: `attr_${a.name}`,
    name: `attr_${a.name}`,
    label: a.label,
    required: a.required,
    hint: a.help ? markdown(a.help) : undefined,
    error,
    value,
  };
  if (a.type === "enum")
    return field(ctx, {
      ...base,
      kind: "select",
      options: (a.enum ?? []).map((v) => ({ value: v, label: v })),
    });
  if (a.type === "boolean")
    return field(ctx, {
      ...base,
      kind: "select",
      options: [
        { value: "true", label: ctx.t("common.yes") },
        { value: "false", label: ctx.t("common.no") },
      ],
    });
  return field(ctx, {
    ...base,
    kind: a.secret ? "password" : a.type === "number" || a.type === "integer" ? "number" : "text",
    maxlength: MAX_ATTRIBUTE_LENGTH,
    ...(a.type === "integer" ? { step: "1" } : {}),
    autocomplete: a.secret ? "new-password" : "off",
  });
}

export function orderFormPage(
  ctx: Ctx,
  p: {
    card: CatalogueCard;
    values: Record<string, string>;
    reason: string;
    errors: FieldError[];
    general?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  const errOf = (id: string) => p.errors.find((e) => e.field === id)?.message;
  return layout(
    ctx,
    t("order.title", { name: p.card.displayName }),
    html`${errorSummary(ctx, p.errors, p.general)}
      <div class="two">
        <div class="card">
          <div class="help">${markdown(p.card.description)}</div>
          <dl>
            <dt>${t("catalogue.cost")}</dt>
            <dd>
              ${p.card.cost}${p.card.projection ? html`<br /><span class="muted">${p.card.projection}</span>` : ""}
            </dd>
            <dt>${t("catalogue.approval")}</dt>
            <dd>${p.card.approval}</dd>
          </dl>
        </div>
        <form method="post" action="/portal/catalogue/${p.card.name}/order" class="card" novalidate>
          ${csrfField(ctx)}<input type="hidden" name="step" value="review" />
          ${p.card.attributes.map((a) => attributeField(ctx, a, p.values[a.name], errOf(`attr_${a.name}`)))}
          ${field(ctx, {
            id: "reason",
            name: "reason",
            label: t("order.reason"),
            kind: "textarea",
            value: p.reason,
            hint: t("order.reasonHelp"),
            error: errOf("reason"),
          })}
          <div class="actions">
            <button>${t("order.review")}</button>
            <a href="/portal/catalogue">${t("common.cancel")}</a>
          </div>
        </form>
      </div>`,
  );
}

export function orderConfirmPage(
  ctx: Ctx,
  p: {
    card: CatalogueCard;
    shown: { label: string; value: string }[];
    reason: string;
    sealed: string;
    values: Record<string, string>;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("order.confirmTitle"),
    html`<div class="card">
      <h2>${p.card.displayName}</h2>
      <dl>
        ${p.shown.map(
          (s) =>
            html`<dt>${s.label}</dt>
              <dd>${s.value}</dd>`,
        )}
        <dt>${t("order.reason")}</dt>
        <dd>${p.reason || t("order.notEntered")}</dd>
        <dt>${t("catalogue.cost")}</dt>
        <dd>
          ${p.card.cost}${p.card.projection ? html`<br /><span class="muted">${p.card.projection}</span>` : ""}
        </dd>
        <dt>${t("order.approvers")}</dt>
        <dd>${p.card.approval}</dd>
      </dl>
      <div class="actions">
        <form method="post" action="/portal/catalogue/${p.card.name}/order" class="inline">
          ${csrfField(ctx)}<input type="hidden" name="step" value="confirm" /><input
            type="hidden"
            name="sealed"
            value="${p.sealed}"
          /><button>${t("order.confirm")}</button>
        </form>
        <form method="post" action="/portal/catalogue/${p.card.name}/order" class="inline">
          ${csrfField(ctx)}<input type="hidden" name="step" value="edit" /><input
            type="hidden"
            name="sealed"
            value="${p.sealed}"
          /><button class="secondary">${t("order.change")}</button>
        </form>
      </div>
    </div>`,
  );
}
