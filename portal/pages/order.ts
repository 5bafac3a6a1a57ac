// The order page: summary, the state machine as a timeline (requested, each approval, queued,
// each step with its result, the outcome), the runbook's step output (live while it runs, by
// the API's SSE follow route; our script resumes after the last line shown), and the actions.
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
import { attributeField, type CatalogueAttribute } from "./catalogue.ts";
import { actionName, badge, returnForm } from "./home.ts";

export type TimelineEntry = {
  tone: "ok" | "bad" | "wait" | "off";
  text: string;
  at?: string | Date | undefined;
  detail?: string | undefined;
};

export type LogLine = {
  id: string;
  kind: string;
  step?: string | undefined;
  stream?: string | undefined;
  text?: string | undefined;
  state?: string | undefined;
  exitCode?: number | undefined;
};

export function orderPage(
  ctx: Ctx,
  p: {
    name: string;
    what: string;
    action: string;
    phase?: string | undefined;
    message?: string | undefined;
    attributes: { label: string; value: string }[];
    reason?: string | undefined;
    timeline: TimelineEntry[];
    log: LogLine[];
    isLive: boolean;
    canCancel: boolean;
    canReturn: boolean;
    /** A Provisioned order of a type with a modify runbook, no change or revoke open (#19). */
    canChange?: boolean | undefined;
    /** Set when the asset's type generates a password: the Reset button's help (who gets it). */
    resetHelp?: string | undefined;
    /** Whether the Reset password button shows (a manager in the directory to receive it). */
    canReset?: boolean | undefined;
    /** The requester's own Failed order whose run failed (the retry rule). */
    canRetry?: boolean | undefined;
    modifiedBy?: string | undefined;
    returning?: string | undefined;
    notice?: string | undefined;
    error?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("detail.title", { name: p.what }),
    html`${flash("ok", p.notice)}${flash("error", p.error)}
      <div ${p.isLive ? html`data-refresh="3000"` : ""}>
        <section class="card" aria-labelledby="sum-h">
          <h2 id="sum-h">${t("detail.summary")}</h2>
          <dl>
            <dt>${t("orders.order")}</dt>
            <dd>${p.name}</dd>
            <dt>${t("orders.action")}</dt>
            <dd>${actionName(ctx, p.action)}</dd>
            <dt>${t("orders.phase")}</dt>
            <dd id="status" aria-live="polite">
              ${badge(ctx, p.phase, p.action)}${p.message ? html` <span class="muted">${p.message}</span>` : ""}
            </dd>
            ${p.attributes.map(
              (a) =>
                html`<dt>${a.label}</dt>
                  <dd>${a.value}</dd>`,
            )}
            ${
              p.modifiedBy
                ? html`<dt>${t("detail.modifiedBy", { order: "" }).trim()}</dt>
                    <dd><a href="/portal/orders/${p.modifiedBy}">${p.modifiedBy}</a></dd>`
                : ""
            }
            ${
              p.reason
                ? html`<dt>${t("detail.reason")}</dt>
                    <dd>${p.reason}</dd>`
                : ""
            }
          </dl>
          <div class="actions" id="order-actions">
            ${
              p.canCancel
                ? html`<form method="post" action="/portal/orders/${p.name}/cancel" class="inline">
                    ${csrfField(ctx)}<button class="secondary">${t("home.cancelOrder")}</button>
                  </form>`
                : ""
            }
            ${p.canChange ? html`<a class="button" href="/portal/orders/${p.name}/change">${t("change.button")}</a>` : ""}
            ${
              p.canReset
                ? html`<form method="post" action="/portal/orders/${p.name}/reset" class="inline">
                    ${csrfField(ctx)}<button class="secondary" aria-describedby="reset-help">
                      ${t("secrets.resetButton")}
                    </button>
                  </form>`
                : ""
            }
            ${
              p.canRetry
                ? html`<form method="post" action="/portal/orders/${p.name}/retry" class="inline">
                    ${csrfField(ctx)}<button>${t("retry.button")}</button>
                  </form>`
                : ""
            }
            ${p.canReturn ? returnForm(ctx, { order: p.name, what: p.what }) : ""}
            ${p.returning ? html`<a href="/portal/orders/${p.returning}">${t("home.returning")}</a>` : ""}
          </div>
          ${p.resetHelp ? html`<p class="muted" id="reset-help">${p.resetHelp}</p>` : ""}
        </section>
        <section class="card" aria-labelledby="tl-h">
          <h2 id="tl-h">${t("detail.timeline")}</h2>
          <ol class="timeline" id="timeline">
            ${p.timeline.map(
              (e) =>
                html`<li class="${e.tone}">
                  <strong>${e.text}</strong
                  >${e.at ? html`<span class="when">${dateHtml(ctx, e.at)}</span>` : ""}${
                    e.detail ? html`<span class="muted">${e.detail}</span>` : ""
                  }
                </li>`,
            )}
          </ol>
        </section>
      </div>
      <section class="card" aria-labelledby="log-h">
        <h2 id="log-h">${t("detail.output")}</h2>
        ${
          p.isLive
            ? html`<p class="muted" id="log-live" hidden>${t("detail.outputLive")}</p>
                <noscript><p class="muted">${t("detail.outputReload")}</p></noscript>`
            : ""
        }
        <pre
          class="log"
          tabindex="0"
          aria-label="${t("detail.output")}"
          ${p.isLive ? html`data-follow="/orders/${p.name}/log?follow=true"` : ""}
        >
${p.log.length === 0 ? html`<span id="log-empty">${t("detail.outputNone")}</span>` : ""}${p.log.map(logLine)}</pre>
      </section>`,
  );
}

const NL = "\n";

function logLine(l: LogLine): SafeHtml {
  const cls = l.kind === "line" ? (l.stream === "stderr" ? "stderr" : "") : "step";
  const text =
    l.kind === "line"
      ? (l.text ?? "")
      : l.kind === "step_start"
        ? `▶ ${l.step ?? ""}`
        : l.kind === "step_end"
          ? `■ ${l.step ?? ""} ${l.state ?? ""}${l.exitCode !== undefined ? ` (exit ${l.exitCode})` : ""}`
          : undefined;
  if (text === undefined) return html``;
  return html`<span data-id="${l.id}" class="${cls}">${text}${NL}</span>`;
}

/**
 * The change form (#19): the type's fields prefilled with the asset's current non-secret
 * values (a secret field stays empty: empty keeps it), POSTed to the same service as
 * POST /orders/:name/modify.
 */
export function changePage(
  ctx: Ctx,
  p: {
    name: string;
    what: string;
    attributes: CatalogueAttribute[];
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
    t("change.title", { name: p.what }),
    html`${errorSummary(ctx, p.errors, p.general)}
      <form method="post" action="/portal/orders/${p.name}/change" class="card" novalidate>
        <p>${t("change.intro")}</p>
        ${csrfField(ctx)}
        ${p.attributes.map((a) =>
          attributeField(
            ctx,
            a.secret ? { ...a, required: false, help: t("change.secretKeep") } : a,
            p.values[a.name],
            errOf(`attr_${a.name}`),
          ),
        )}
        ${field(ctx, {
          id: "reason",
          name: "reason",
          label: t("change.reason"),
          kind: "textarea",
          value: p.reason,
          error: errOf("reason"),
        })}
        <div class="actions">
          <button>${t("change.submit")}</button>
          <a href="/portal/orders/${p.name}">${t("common.cancel")}</a>
        </div>
      </form>`,
  );
}
