// The API reference (ADR 0014): the OpenAPI document as a page, grouped by tag; each operation
// with its method, path, summary, who may call it, parameters and the request and response
// schemas in words. No script: the schemas fold into native <details>. The page's own words are
// translated; the contract's text (summaries, descriptions) is the document's English, marked
// lang="en" so screen readers pronounce it as English on the German page.
import { html, type SafeHtml } from "../html.ts";
import { layout, markdown, type Ctx } from "../layout.ts";
import type { MessageKey } from "../i18n.ts";
import { table } from "../console/kit.ts";
import type { Field, Reference, RefOperation, Shape } from "../../api/openapi/index.ts";

const WHERE: Readonly<Record<string, MessageKey>> = {
  path: "ref.in.path",
  query: "ref.in.query",
  header: "ref.in.header",
  cookie: "ref.in.cookie",
};

function fieldsHtml(ctx: Ctx, fields: Field[]): SafeHtml {
  if (fields.length === 0) return html``;
  return html`<ul class="ref-fields">
    ${fields.map(
      (f) =>
        html`<li>
          <code>${f.name}</code> <span class="ref-type">${f.type}</span>
          <span class="muted">(${f.isRequired ? ctx.t("common.required") : ctx.t("common.optional")})</span>
          ${f.description ? html`<span lang="en">— ${f.description}</span>` : ""}
          ${f.values ? html`<span class="ref-values">${ctx.t("ref.values")}: ${valuesHtml(f.values)}</span>` : ""}
          ${fieldsHtml(ctx, f.fields)}
        </li>`,
    )}
  </ul>`;
}

function valuesHtml(values: string[]): SafeHtml {
  return html`${values.map((v, i) => html`${i > 0 ? ", " : ""}<code>${v}</code>`)}`;
}

function shapeHtml(ctx: Ctx, s: Shape): SafeHtml {
  return html`<p>
      ${ctx.t("ref.type")}: <code>${s.type}</code>${s.values ? html` (${valuesHtml(s.values)})` : ""}
    </p>
    ${s.description ? html`<p lang="en">${s.description}</p>` : ""} ${fieldsHtml(ctx, s.fields)}`;
}

function authHtml(ctx: Ctx, op: RefOperation): SafeHtml {
  if (op.isPublic) return html`${ctx.t("ref.public")}`;
  return html`${ctx.t("ref.anyOf")}:
  ${op.schemes.map((s, i) => html`${i > 0 ? " · " : ""}<a href="#scheme-${s}"><code>${s}</code></a>`)}`;
}

function operationHtml(ctx: Ctx, op: RefOperation): SafeHtml {
  const t = ctx.t;
  return html`<article class="card ref-op" id="${op.id}" aria-labelledby="${op.id}-h">
    <h3 id="${op.id}-h">
      <span class="ref-method ref-method-${op.method.toLowerCase()}">${op.method}</span>
      <code class="ref-path">${op.path}</code>
    </h3>
    <p lang="en">${op.summary}</p>
    ${op.description ? html`<div class="ref-desc" lang="en">${markdown(op.description)}</div>` : ""}
    <dl>
      <dt>${t("ref.auth")}</dt>
      <dd>${authHtml(ctx, op)}</dd>
      ${
        op.permission && !op.isPublic
          ? html`<dt>${t("ref.permission")}</dt>
              <dd><code>${op.permission}</code></dd>`
          : ""
      }
      <dt>${t("ref.responses")}</dt>
      <dd>
        ${op.responses.map(
          (r, i) =>
            html`${i > 0 ? " · " : ""}${
              r.status === "default"
                ? html`<a href="#errors">${t("ref.errorsShort")}</a>`
                : html`<code>${r.status}</code>`
            }`,
        )}
      </dd>
    </dl>
    ${
      op.params.length > 0
        ? table({
            caption: t("ref.parameters"),
            head: [t("c.name"), t("ref.in"), t("ref.type"), t("ref.required"), t("c.description")],
            rows: op.params.map((p) => [
              html`<code>${p.name}</code>`,
              WHERE[p.in] ? t(WHERE[p.in]!) : p.in,
              html`<code>${p.type}</code>`,
              p.isRequired ? t("common.yes") : t("common.no"),
              p.description ? html`<span lang="en">${p.description}</span>` : "",
            ]),
            empty: "",
          })
        : ""
    }
    ${
      op.body
        ? html`<details class="ref-schema">
            <summary>${t("ref.requestBody")} <code>${op.body.contentType}</code></summary>
            ${shapeHtml(ctx, op.body.shape)}
          </details>`
        : ""
    }
    ${op.responses
      // The error answer is the same everywhere: described once, under Errors.
      .filter((r) => r.status !== "default" && (r.shape || r.description))
      .map(
        (r) =>
          html`<details class="ref-schema">
            <summary>${t("ref.response", { status: r.status })}</summary>
            ${r.description ? html`<p lang="en">${r.description}</p>` : ""}
            ${r.shape ? shapeHtml(ctx, r.shape) : ""}
          </details>`,
      )}
  </article>`;
}

export function apiReferencePage(ctx: Ctx, ref: Reference): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("ref.title"),
    html`<div class="ref">
      <p>${t("ref.intro")}</p>
      <p>
        <a href="/openapi.json" type="application/json">${t("ref.download")}</a>
        <span class="muted">(OpenAPI, ${ref.title} ${ref.version})</span>
      </p>
      ${ctx.lang === "en" ? "" : html`<p class="muted">${t("ref.english")}</p>`}
      <nav class="card ref-toc" id="contents" aria-labelledby="toc-h">
        <h2 id="toc-h">${t("ref.contents")}</h2>
        <ul>
          <li><a href="#auth">${t("ref.auth")}</a></li>
          <li><a href="#errors">${t("ref.errors")}</a></li>
          ${ref.groups.map(
            (g) =>
              html`<li>
                <a href="#${g.id}" lang="en">${g.tag}</a>
                <span class="muted"
                  >(${g.operations.length === 1 ? t("ref.operation") : t("ref.operations", { n: g.operations.length })})</span
                >
              </li>`,
          )}
        </ul>
      </nav>
      <section id="auth" aria-labelledby="auth-h">
        <h2 id="auth-h">${t("ref.auth")}</h2>
        <p>${t("ref.authIntro")}</p>
        <dl class="ref-schemes">
          ${ref.schemes.map(
            (s) =>
              html`<dt id="scheme-${s.id}"><code>${s.name}</code> <code class="muted">${s.how}</code></dt>
                <dd lang="en">${markdown(s.description)}</dd>`,
          )}
        </dl>
      </section>
      <section id="errors" aria-labelledby="errors-h">
        <h2 id="errors-h">${t("ref.errors")}</h2>
        <p>${t("ref.errorsIntro")}</p>
        ${[false, true].map((scim) => {
          const r = ref.groups
            .flatMap((g) => g.operations)
            .find((op) => op.path.startsWith("/scim/v2") === scim)
            ?.responses.find((x) => x.status === "default");
          return r
            ? html`<details class="ref-schema">
                <summary>${t(scim ? "ref.errorsScim" : "ref.errorsApi")}</summary>
                ${r.description ? html`<p lang="en">${r.description}</p>` : ""}
                ${r.shape ? shapeHtml(ctx, r.shape) : ""}
              </details>`
            : "";
        })}
      </section>
      ${ref.groups.map(
        (g) =>
          html`<section class="ref-group" id="${g.id}" aria-labelledby="${g.id}-h">
            <h2 id="${g.id}-h" lang="en">${g.tag}</h2>
            ${g.description ? html`<p lang="en">${g.description}</p>` : ""}
            ${g.operations.map((op) => operationHtml(ctx, op))}
            <p><a href="#contents">${t("ref.toContents")}</a></p>
          </section>`,
      )}
    </div>`,
    { wide: true },
  );
}
