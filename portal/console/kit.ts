// Building blocks of the console pages: a data table that stacks on phones, a filter form that
// works by GET without script, a pager, a definition list, and small forms that post one action.
// Templates only: no I/O, no rules.
import { html, type SafeHtml } from "../html.ts";
import { csrfField, type Ctx } from "../layout.ts";

export type Cell = SafeHtml | string | number | undefined | null;

/** A table with a caption and header cells; on narrow screens each row stacks with its labels. */
export function table(p: {
  caption: string;
  head: string[];
  rows: Cell[][];
  empty: string;
  id?: string;
}): SafeHtml {
  if (p.rows.length === 0) return html`<p class="muted" ${p.id ? html`id="${p.id}"` : ""}>${p.empty}</p>`;
  return html`<div class="table-wrap">
    <table class="stack" ${p.id ? html`id="${p.id}"` : ""}>
      <caption>
        ${p.caption}
      </caption>
      <thead>
        <tr>
          ${p.head.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${p.rows.map(
          (r) =>
            html`<tr>
              ${r.map((c, i) => html`<td data-label="${p.head[i] ?? ""}">${c ?? ""}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export type FilterField =
  | { kind: "text"; name: string; label: string; value?: string | undefined }
  | {
      kind: "select";
      name: string;
      label: string;
      value?: string | undefined;
      options: { value: string; label: string }[];
    }
  | { kind: "datetime-local"; name: string; label: string; value?: string | undefined };

/** Filters as a GET form: the URL is the state, so a filtered list can be bookmarked and shared. */
export function filterForm(ctx: Ctx, action: string, fields: FilterField[]): SafeHtml {
  return html`<form method="get" action="${action}" class="filters" role="search">
    ${fields.map((f) => {
      const id = `f-${f.name}`;
      if (f.kind === "select")
        return html`<div class="field">
          <label for="${id}">${f.label}</label>
          <select id="${id}" name="${f.name}">
            <option value="">${ctx.t("c.any")}</option>
            ${f.options.map(
              (o) =>
                html`<option value="${o.value}" ${o.value === f.value ? html`selected` : ""}>
                  ${o.label}
                </option>`,
            )}
          </select>
        </div>`;
      return html`<div class="field">
        <label for="${id}">${f.label}</label>
        <input id="${id}" name="${f.name}" type="${f.kind}" value="${f.value ?? ""}" />
      </div>`;
    })}
    <div class="filter-actions">
      <button>${ctx.t("c.filter")}</button>
      <a href="${action}">${ctx.t("c.clear")}</a>
    </div>
  </form>`;
}

/** Previous/next links over numbered pages; the query string (filters) is kept. */
export function pager(
  ctx: Ctx,
  base: string,
  query: Record<string, string | undefined>,
  page: number,
  pages: number,
): SafeHtml {
  if (pages <= 1) return html``;
  const url = (n: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
    q.set("page", String(n));
    return `${base}?${q.toString()}`;
  };
  return html`<nav class="pager" aria-label="${ctx.t("common.page", { n: page })}">
    ${page > 1 ? html`<a href="${url(page - 1)}">${ctx.t("common.previous")}</a>` : html`<span></span>`}
    <span>${ctx.t("common.page", { n: page })} / ${pages}</span>
    ${page < pages ? html`<a href="${url(page + 1)}">${ctx.t("common.next")}</a>` : html`<span></span>`}
  </nav>`;
}

export function dl(items: [string, Cell][]): SafeHtml {
  return html`<dl>
    ${items
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(
        ([k, v]) =>
          html`<dt>${k}</dt>
            <dd>${v}</dd>`,
      )}
  </dl>`;
}

/** One button that posts to `action` (CSRF-protected), optionally asking first. */
export function actionForm(
  ctx: Ctx,
  p: {
    action: string;
    label: string;
    hidden?: string;
    confirm?: string;
    secondary?: boolean;
    fields?: SafeHtml;
  },
): SafeHtml {
  return html`<form
    method="post"
    action="${p.action}"
    class="inline"
    ${p.confirm ? html`data-confirm="${p.confirm}"` : ""}
  >
    ${csrfField(ctx)}${p.fields ?? ""}<button class="${p.secondary ? "secondary" : ""}">
      ${p.label}${p.hidden ? html`<span class="visually-hidden"> ${p.hidden}</span>` : ""}
    </button>
  </form>`;
}

export function link(href: string, text: string): SafeHtml {
  return html`<a href="${href}">${text}</a>`;
}

/** Pretty JSON for a detail cell (escaped by the template). */
export function json(v: unknown): SafeHtml {
  return html`<code class="json">${JSON.stringify(v)}</code>`;
}
