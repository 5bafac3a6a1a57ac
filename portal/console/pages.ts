// The staff console's pages (issue #20): dashboard, asset types (list, detail, editor), runbooks
// (list, detail, step editor), orders (filters, detail with live output and actions), pool,
// leavers, audit log, cost with charts, admin users with grants, API tokens, settings.
// Templates render what the handlers give them; which buttons show is decided by the handler
// from the same permission table the API enforces.
import { EMPLOYEE_FIELDS } from "../../api/policy/mover.ts";
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
import { phaseTone } from "../format.ts";
import { actionForm, dl, filterForm, json, link, pager, table, type Cell, type FilterField } from "./kit.ts";
import { stackedBars, type Series } from "./chart.ts";
import type { IntegrationView } from "../../api/integrations/service.ts";

export type Msg = { notice?: string | undefined; error?: string | undefined };

/** Staff read the state machine's own words (Provisioned, Failed, ...), as kubectl shows them. */
function badge(_ctx: Ctx, phase: string | undefined, _action?: string): SafeHtml {
  return html`<span class="badge badge-${phaseTone(phase)}">${phase ?? "New"}</span>`;
}

function flashes(m: Msg): SafeHtml {
  return html`${flash("ok", m.notice)}${flash("error", m.error)}`;
}

// ---- dashboard ----

export type Tile = {
  label: string;
  value: string;
  href?: string | undefined;
  tone?: "ok" | "bad" | "wait" | undefined;
  note?: string | undefined;
};

export function dashboardPage(
  ctx: Ctx,
  p: { tiles: Tile[]; phases: { phase: string; count: number }[]; pool: Tile[]; integrations: Tile[] },
): SafeHtml {
  const t = ctx.t;
  const tile = (x: Tile) =>
    html`<li class="tile ${x.tone ? `tile-${x.tone}` : ""}">
      <span class="tile-label">${x.label}</span>
      <span class="tile-value">${x.href ? html`<a href="${x.href}">${x.value}</a>` : x.value}</span>
      ${x.note ? html`<span class="muted">${x.note}</span>` : ""}
    </li>`;
  return layout(
    ctx,
    t("dash.title"),
    html`<ul class="tiles" aria-label="${t("dash.title")}">
        ${p.tiles.map(tile)}
      </ul>
      ${
        p.phases.length > 0
          ? html`<section class="card" aria-labelledby="ph-h">
              <h2 id="ph-h">${t("dash.ordersByPhase")}</h2>
              <ul class="tiles">
                ${p.phases.map((x) =>
                  tile({ label: x.phase, value: String(x.count), href: `/console/orders?phase=${x.phase}` }),
                )}
              </ul>
            </section>`
          : ""
      }
      ${
        p.pool.length > 0
          ? html`<section class="card" aria-labelledby="pool-h">
              <h2 id="pool-h">${t("dash.pool")}</h2>
              <ul class="tiles">
                ${p.pool.map(tile)}
              </ul>
            </section>`
          : ""
      }
      ${
        p.integrations.length > 0
          ? html`<section class="card" aria-labelledby="int-h">
              <h2 id="int-h">${t("dash.integrations")}</h2>
              <ul class="tiles">
                ${p.integrations.map(tile)}
              </ul>
            </section>`
          : ""
      }`,
    { wide: true },
  );
}

// ---- integrations ----

/** Integration health (GET /integrations): each system reached, its newest runs and probe. */
export function integrationsPage(ctx: Ctx, p: { rows: IntegrationView[] }): SafeHtml {
  const t = ctx.t;
  const when = (d: Date | null) => (d ? dateHtml(ctx, d) : "—");
  return layout(
    ctx,
    t("int.title"),
    html`<p>${t("int.intro")}</p>
      <p class="actions">${link("/console/integrations?probe=true", t("int.probe"))}</p>
      ${table({
        caption: t("c.rows", { n: p.rows.length }),
        head: [
          t("int.name"),
          t("int.kind"),
          t("int.target"),
          t("int.health"),
          t("int.lastSuccess"),
          t("int.lastFailure"),
          t("int.lastError"),
          t("int.runbooks"),
          t("int.probedAt"),
        ],
        rows: p.rows.map((r) => [
          r.name,
          t(`int.kind.${r.kind}`),
          r.target,
          html`<span
            class="badge badge-${r.health === "healthy" ? "ok" : r.health === "failing" ? "bad" : "off"}"
            >${t(`int.health.${r.health}`)}</span
          >`,
          when(r.lastSuccessAt),
          when(r.lastFailureAt),
          r.lastError ?? "—",
          r.runbooks.length > 0
            ? html`${r.runbooks.map((n, i) => html`${i > 0 ? ", " : ""}${link(`/console/runbooks/${n}`, n)}`)}`
            : "—",
          when(r.probe?.at ?? null),
        ]),
        empty: t("int.none"),
        id: "integrations",
      })}`,
    { wide: true },
  );
}

// ---- asset types ----

export type AssetTypeRow = {
  name: string;
  displayName: string;
  category: string;
  approval: string;
  cost: string;
  ready: string | undefined;
  managedBy?: string | undefined;
};

export function assetTypesPage(
  ctx: Ctx,
  p: Msg & {
    rows: AssetTypeRow[];
    q: { search?: string | undefined; category?: string | undefined };
    categories: string[];
    canWrite: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("at.title"),
    html`${flashes(p)}
    ${p.canWrite ? html`<p class="actions"><a class="button" href="/console/asset-types/new">${t("at.new")}</a></p>` : ""}
    ${filterForm(ctx, "/console/asset-types", [
      { kind: "text", name: "search", label: t("c.search"), value: p.q.search },
      {
        kind: "select",
        name: "category",
        label: t("c.category"),
        value: p.q.category,
        options: p.categories.map((c) => ({ value: c, label: c })),
      },
    ])}
    ${table({
      caption: t("c.rows", { n: p.rows.length }),
      head: [t("c.name"), t("c.displayName"), t("c.category"), t("at.approval"), t("at.cost"), t("c.status")],
      rows: p.rows.map((r) => [
        link(`/console/asset-types/${r.name}`, r.name),
        r.displayName,
        r.category,
        r.approval,
        r.cost,
        html`${r.ready ?? t("c.unknown")}${r.managedBy ? html` <span class="muted">(${r.managedBy})</span>` : ""}`,
      ]),
      empty: p.q.search || p.q.category ? t("c.noMatch") : t("c.none"),
      id: "asset-types",
    })}`,
    { wide: true },
  );
}

export function assetTypePage(
  ctx: Ctx,
  p: Msg & {
    name: string;
    spec: Record<string, unknown>;
    summary: [string, Cell][];
    attributes: {
      name: string;
      type: string;
      required: boolean;
      secret: boolean;
      fromEmployee: string;
      enum: string;
      help: string;
    }[];
    conditions: { type: string; status: string; reason: string; message: string }[];
    orders: { name: string; phase: string | undefined; requester: string }[];
    canWrite: boolean;
    managedBy?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    typeof p.spec.displayName === "string" ? p.spec.displayName : p.name,
    html`${flashes(p)}
      ${p.managedBy ? html`<p class="flash flash-info" role="status">${t("c.managedBy", { manager: p.managedBy })}</p>` : ""}
      <section class="card" aria-labelledby="s-h">
        <h2 id="s-h">${t("detail.summary")}</h2>
        ${dl(p.summary)}
        ${
          p.canWrite
            ? html`<div class="actions">
                <a class="button" href="/console/asset-types/${p.name}/edit"
                  >${t("c.edit")}<span class="visually-hidden"> ${p.name}</span></a
                >
                <form method="post" action="/console/asset-types/${p.name}/clone" class="inline">
                  ${csrfField(ctx)}
                  <label for="clone-name">${t("c.cloneAs")}</label>
                  <input
                    id="clone-name"
                    name="name"
                    required
                    pattern="[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
                    maxlength="253"
                  />
                  <button class="secondary">${t("c.clone")}</button>
                </form>
                ${actionForm(ctx, {
                  action: `/console/asset-types/${p.name}/delete`,
                  label: t("c.delete"),
                  hidden: p.name,
                  confirm: t("c.deleteConfirm", { name: p.name }),
                  secondary: true,
                })}
              </div>`
            : html`<p class="muted">${t("c.readOnly")}</p>`
        }
      </section>
      <section class="card" aria-labelledby="a-h">
        <h2 id="a-h">${t("at.attributes")}</h2>
        ${table({
          caption: t("at.attributes"),
          head: [
            t("at.attrName"),
            t("at.attrType"),
            t("at.attrRequired"),
            t("at.attrSecret"),
            t("at.attrFromEmployee"),
            t("at.attrEnum"),
            t("at.attrHelp"),
          ],
          rows: p.attributes.map((a) => [
            a.name,
            a.type,
            a.required ? t("common.yes") : t("common.no"),
            a.secret ? t("common.yes") : t("common.no"),
            a.fromEmployee || t("common.no"),
            a.enum,
            a.help,
          ]),
          empty: t("common.none"),
        })}
      </section>
      <section class="card" aria-labelledby="c-h">
        <h2 id="c-h">${t("ord.conditions")}</h2>
        ${table({
          caption: t("ord.conditions"),
          head: ["Type", t("c.status"), "Reason", "Message"],
          rows: p.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
          empty: t("common.none"),
        })}
      </section>
      <section class="card" aria-labelledby="o-h">
        <h2 id="o-h">${t("at.orders")}</h2>
        ${table({
          caption: t("at.inUse", { n: p.orders.length }),
          head: [t("orders.order"), t("orders.phase"), t("ord.requester")],
          rows: p.orders.map((o) => [
            link(`/console/orders/${o.name}`, o.name),
            badge(ctx, o.phase),
            o.requester,
          ]),
          empty: t("common.none"),
        })}
      </section>`,
    { wide: true },
  );
}

export type AttributeRow = {
  name: string;
  type: string;
  required: boolean;
  secret: boolean;
  /** "" or the employee-record field the value follows (api/policy/mover.ts EMPLOYEE_FIELDS). */
  fromEmployee: string;
  enum: string;
  help: string;
};

export type AssetTypeForm = {
  name: string;
  displayName: string;
  description: string;
  category: string;
  model: string;
  capacity: string;
  maxPerUser: string;
  policy: string;
  approvers: string;
  quorum: string;
  remindAfter: string;
  escalateAfter: string;
  expireAfter: string;
  amount: string;
  currency: string;
  costCenter: string;
  provision: string;
  modify: string;
  deprovision: string;
  everyone: boolean;
  groups: string;
  departments: string;
  lease: string;
  attributes: AttributeRow[];
};

export function assetTypeFormPage(
  ctx: Ctx,
  p: {
    isNew: boolean;
    f: AssetTypeForm;
    errors: FieldError[];
    general?: string | undefined;
    runbooks: string[];
    managedBy?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  const f = p.f;
  const text = (
    id: string,
    label: string,
    value: string,
    o: { required?: boolean; hint?: string; kind?: "text" | "number" } = {},
  ) =>
    field(ctx, {
      id,
      name: id,
      label,
      kind: o.kind ?? "text",
      value,
      required: o.required,
      hint: o.hint,
      error: err(id),
    });
  const rbOptions = p.runbooks.map((r) => ({ value: r, label: r }));
  const rows = [
    ...f.attributes,
    { name: "", type: "string", required: false, secret: false, fromEmployee: "", enum: "", help: "" },
  ];
  const action = p.isNew ? "/console/asset-types/new" : `/console/asset-types/${f.name}/edit`;
  return layout(
    ctx,
    p.isNew ? t("at.newTitle") : t("at.editTitle", { name: f.name }),
    html`${errorSummary(ctx, p.errors, p.general)}
      <form method="post" action="${action}" class="editor" novalidate>
        ${csrfField(ctx)}
        <fieldset>
          <legend>${t("detail.summary")}</legend>
          ${p.isNew ? text("name", t("c.name"), f.name, { required: true, hint: "a-z, 0-9, '-' and '.'" }) : html`<input type="hidden" name="name" value="${f.name}" />`}
          ${text("displayName", t("c.displayName"), f.displayName, { required: true })}
          ${field(ctx, { id: "description", name: "description", label: t("c.description"), kind: "textarea", value: f.description, error: err("description") })}
          ${text("category", t("c.category"), f.category, { required: true })}
        </fieldset>
        <fieldset>
          <legend>${t("at.assignment")}</legend>
          ${field(ctx, {
            id: "model",
            name: "model",
            label: t("at.assignment"),
            kind: "select",
            value: f.model,
            required: true,
            error: err("model"),
            options: ["AssignedPersonal", "DedicatedShared", "CapacityPooled"].map((m) => ({
              value: m,
              label: m,
            })),
          })}
          ${text("capacity", t("at.capacity"), f.capacity, { kind: "number" })}
          ${text("maxPerUser", t("at.maxPerUser"), f.maxPerUser, { kind: "number" })}
        </fieldset>
        <fieldset>
          <legend>${t("at.approval")}</legend>
          ${field(ctx, {
            id: "policy",
            name: "policy",
            label: t("at.approval"),
            kind: "select",
            value: f.policy,
            required: true,
            error: err("policy"),
            options: ["None", "Manager", "Approvers"].map((m) => ({ value: m, label: m })),
          })}
          ${field(ctx, { id: "approvers", name: "approvers", label: t("at.approvers"), kind: "textarea", value: f.approvers, hint: t("at.approversHint"), error: err("approvers") })}
          ${text("quorum", t("at.quorum"), f.quorum, { kind: "number" })}
          ${text("remindAfter", t("at.remindAfter"), f.remindAfter, { hint: t("at.durationHint") })}
          ${text("escalateAfter", t("at.escalateAfter"), f.escalateAfter, { hint: t("at.durationHint") })}
          ${text("expireAfter", t("at.expireAfter"), f.expireAfter, { hint: t("at.durationHint") })}
        </fieldset>
        <fieldset>
          <legend>${t("at.cost")}</legend>
          ${text("amount", t("at.amount"), f.amount, { required: true, hint: "12.50" })}
          ${text("currency", t("at.currency"), f.currency, { required: true, hint: "EUR" })}
          ${text("costCenter", t("at.costCenter"), f.costCenter, { required: true })}
        </fieldset>
        <fieldset>
          <legend>${t("at.runbooks")}</legend>
          ${field(ctx, { id: "provision", name: "provision", label: t("at.provision"), kind: "select", value: f.provision, required: true, options: rbOptions, error: err("provision") })}
          ${field(ctx, { id: "modify", name: "modify", label: t("at.modify"), kind: "select", value: f.modify, options: rbOptions, error: err("modify") })}
          ${field(ctx, { id: "deprovision", name: "deprovision", label: t("at.deprovision"), kind: "select", value: f.deprovision, options: rbOptions, error: err("deprovision") })}
        </fieldset>
        <fieldset>
          <legend>${t("at.entitlement")}</legend>
          <div class="field checkbox">
            <input
              type="checkbox"
              id="everyone"
              name="everyone"
              value="true"
              ${f.everyone ? html`checked` : ""}
            />
            <label for="everyone">${t("at.everyone")}</label>
          </div>
          ${field(ctx, { id: "groups", name: "groups", label: t("at.groups"), kind: "textarea", value: f.groups })}
          ${field(ctx, { id: "departments", name: "departments", label: t("at.departments"), kind: "textarea", value: f.departments })}
          ${text("lease", t("at.lease"), f.lease, { hint: t("at.leaseHint") })}
        </fieldset>
        <fieldset>
          <legend>${t("at.attributes")}</legend>
          <p class="hint">${t("at.attributesHint")}</p>
          ${rows.map(
            (a, i) =>
              html`<fieldset class="attr-row">
                <legend>${a.name || t("at.addAttribute")}</legend>
                <div class="field">
                  <label for="attr-${i}-name">${t("at.attrName")}</label>
                  <input
                    id="attr-${i}-name"
                    name="attr_${i}_name"
                    value="${a.name}"
                    ${err(`attr-${i}-name`) ? html`aria-invalid="true" aria-describedby="attr-${i}-name-error"` : ""}
                  />
                  ${err(`attr-${i}-name`) ? html`<p class="error-message" id="attr-${i}-name-error">${err(`attr-${i}-name`)}</p>` : ""}
                </div>
                <div class="field">
                  <label for="attr-${i}-type">${t("at.attrType")}</label>
                  <select id="attr-${i}-type" name="attr_${i}_type">
                    ${["string", "number", "integer", "boolean", "enum"].map((x) => html`<option value="${x}" ${x === a.type ? html`selected` : ""}>${x}</option>`)}
                  </select>
                </div>
                <div class="field checkbox">
                  <input
                    type="checkbox"
                    id="attr-${i}-required"
                    name="attr_${i}_required"
                    value="true"
                    ${a.required ? html`checked` : ""}
                  />
                  <label for="attr-${i}-required">${t("at.attrRequired")}</label>
                </div>
                <div class="field checkbox">
                  <input
                    type="checkbox"
                    id="attr-${i}-secret"
                    name="attr_${i}_secret"
                    value="true"
                    ${a.secret ? html`checked` : ""}
                  />
                  <label for="attr-${i}-secret">${t("at.attrSecret")}</label>
                </div>
                <div class="field">
                  <label for="attr-${i}-fromEmployee">${t("at.attrFromEmployee")}</label>
                  <select
                    id="attr-${i}-fromEmployee"
                    name="attr_${i}_fromEmployee"
                    aria-describedby="attr-${i}-fromEmployee-hint"
                  >
                    ${["", ...EMPLOYEE_FIELDS].map((x) => html`<option value="${x}" ${x === a.fromEmployee ? html`selected` : ""}>${x === "" ? t("at.attrFromEmployeeNone") : x}</option>`)}
                  </select>
                  <p class="hint" id="attr-${i}-fromEmployee-hint">${t("at.attrFromEmployeeHint")}</p>
                </div>
                <div class="field">
                  <label for="attr-${i}-enum">${t("at.attrEnum")}</label>
                  <input id="attr-${i}-enum" name="attr_${i}_enum" value="${a.enum}" />
                </div>
                <div class="field">
                  <label for="attr-${i}-help">${t("at.attrHelp")}</label>
                  <input id="attr-${i}-help" name="attr_${i}_help" value="${a.help}" />
                </div>
              </fieldset>`,
          )}
          <button class="secondary" name="more" value="1">${t("at.addAttribute")}</button>
        </fieldset>
        ${
          p.managedBy
            ? html`<div class="field checkbox">
                <input type="checkbox" id="confirmManaged" name="confirmManaged" value="true" required />
                <label for="confirmManaged">${t("c.managedConfirm", { manager: p.managedBy })}</label>
              </div>`
            : ""
        }
        <p class="actions">
          <button>${p.isNew ? t("c.create") : t("c.save")}</button>
          <a href="${p.isNew ? "/console/asset-types" : `/console/asset-types/${f.name}`}"
            >${t("common.cancel")}</a
          >
        </p>
      </form>`,
    { wide: true },
  );
}

// ---- runbooks ----

export function runbooksPage(
  ctx: Ctx,
  p: Msg & {
    rows: {
      name: string;
      description: string;
      steps: number;
      schedule: string;
      usedBy: string;
      ready: string;
    }[];
    canWrite: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("rb.title"),
    html`${flashes(p)}
    ${p.canWrite ? html`<p class="actions"><a class="button" href="/console/runbooks/new">${t("rb.new")}</a></p>` : ""}
    ${table({
      caption: t("c.rows", { n: p.rows.length }),
      head: [t("c.name"), t("c.description"), t("rb.steps"), t("rb.schedule"), t("rb.usedBy"), t("c.status")],
      rows: p.rows.map((r) => [
        link(`/console/runbooks/${r.name}`, r.name),
        r.description,
        r.steps,
        r.schedule,
        r.usedBy,
        r.ready,
      ]),
      empty: t("c.none"),
      id: "runbooks",
    })}`,
    { wide: true },
  );
}

export type StepView = {
  name: string;
  shell: string;
  script: string;
  parameters: string;
  timeout: string;
  retries: string;
  retryDelay: string;
  critical: boolean;
};

export function runbookPage(
  ctx: Ctx,
  p: Msg & {
    name: string;
    summary: [string, Cell][];
    steps: StepView[];
    nextRuns: string[];
    /** Runs of the schedule, newest first (empty when the runbook has none or no record). */
    lastRuns: {
      job: string;
      state: string;
      startedAt?: Date | undefined;
      finishedAt: Date;
      reason?: string | undefined;
      steps: { name: string; state: string; exitCode?: number | undefined; message?: string | undefined }[];
    }[];
    conditions: { type: string; status: string; reason: string; message: string }[];
    canWrite: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    p.name,
    html`${flashes(p)}
      <section class="card" aria-labelledby="s-h">
        <h2 id="s-h">${t("detail.summary")}</h2>
        ${dl(p.summary)}
        ${
          p.nextRuns.length > 0
            ? html`<h3>${t("rb.nextRuns")}</h3>
                <ol>
                  ${p.nextRuns.map((r) => html`<li>${r}</li>`)}
                </ol>`
            : ""
        }
        ${
          p.canWrite
            ? html`<div class="actions">
                <a class="button" href="/console/runbooks/${p.name}/edit"
                  >${t("c.edit")}<span class="visually-hidden"> ${p.name}</span></a
                >
                ${actionForm(ctx, {
                  action: `/console/runbooks/${p.name}/delete`,
                  label: t("c.delete"),
                  hidden: p.name,
                  confirm: t("c.deleteConfirm", { name: p.name }),
                  secondary: true,
                })}
              </div>`
            : html`<p class="muted">${t("c.readOnly")}</p>`
        }
      </section>
      ${p.steps.map(
        (s, i) =>
          html`<section class="card" aria-labelledby="step-${i}-h">
            <h2 id="step-${i}-h">${t("rb.step", { n: i + 1 })}: ${s.name}</h2>
            ${dl([
              [t("rb.shell"), s.shell],
              [t("rb.timeout"), s.timeout],
              [t("rb.retries"), s.retries],
              [t("rb.retryDelay"), s.retryDelay],
              [t("rb.critical"), s.critical ? t("common.yes") : t("common.no")],
              [t("rb.parameters"), s.parameters ? html`<pre class="code">${s.parameters}</pre>` : ""],
            ])}
            <pre class="code" tabindex="0" aria-label="${t("rb.script")}">${s.script}</pre>
          </section>`,
      )}
      ${
        p.nextRuns.length > 0 || p.lastRuns.length > 0
          ? html`<section class="card" aria-labelledby="lr-h">
              <h2 id="lr-h">${t("rb.lastRuns")}</h2>
              ${table({
                caption: t("rb.lastRuns"),
                head: ["Job", t("c.status"), t("rb.started"), t("rb.finished"), t("rb.steps")],
                rows: p.lastRuns.map((r) => [
                  r.job,
                  html`${badge(ctx, r.state)}${r.reason ? html` <span class="muted">${r.reason}</span>` : ""}`,
                  dateHtml(ctx, r.startedAt),
                  dateHtml(ctx, r.finishedAt),
                  r.steps
                    .map(
                      (x) =>
                        `${x.name}: ${x.state}${x.exitCode !== undefined ? ` (${x.exitCode})` : ""}${x.message ? ` ${x.message}` : ""}`,
                    )
                    .join("; "),
                ]),
                empty: t("rb.noRuns"),
                id: "last-runs",
              })}
            </section>`
          : ""
      }
      <section class="card" aria-labelledby="c-h">
        <h2 id="c-h">${t("ord.conditions")}</h2>
        ${table({
          caption: t("ord.conditions"),
          head: ["Type", t("c.status"), "Reason", "Message"],
          rows: p.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
          empty: t("common.none"),
        })}
      </section>`,
    { wide: true },
  );
}

export type RunbookForm = {
  name: string;
  description: string;
  image: string;
  kerberosSecret: string;
  kerberosPrincipal: string;
  cron: string;
  timeZone: string;
  steps: StepView[];
};

export function runbookFormPage(
  ctx: Ctx,
  p: {
    isNew: boolean;
    f: RunbookForm;
    errors: FieldError[];
    general?: string | undefined;
    secrets: string[];
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  const f = p.f;
  const text = (
    id: string,
    label: string,
    value: string,
    o: { required?: boolean; hint?: string; kind?: "text" | "number" } = {},
  ) =>
    field(ctx, {
      id,
      name: id,
      label,
      kind: o.kind ?? "text",
      value,
      required: o.required,
      hint: o.hint,
      error: err(id),
    });
  const steps = [
    ...f.steps,
    {
      name: "",
      shell: "bash",
      script: "",
      parameters: "",
      timeout: "",
      retries: "",
      retryDelay: "",
      critical: true,
    },
  ];
  const action = p.isNew ? "/console/runbooks/new" : `/console/runbooks/${f.name}/edit`;
  return layout(
    ctx,
    p.isNew ? t("rb.newTitle") : t("rb.editTitle", { name: f.name }),
    html`${errorSummary(ctx, p.errors, p.general)}
      <form method="post" action="${action}" class="editor" novalidate>
        ${csrfField(ctx)}
        <fieldset>
          <legend>${t("detail.summary")}</legend>
          ${p.isNew ? text("name", t("c.name"), f.name, { required: true }) : html`<input type="hidden" name="name" value="${f.name}" />`}
          ${field(ctx, { id: "description", name: "description", label: t("c.description"), kind: "textarea", value: f.description })}
          ${text("image", t("rb.image"), f.image, { required: true })}
        </fieldset>
        <fieldset>
          <legend>${t("rb.kerberos")}</legend>
          ${field(ctx, {
            id: "kerberosSecret",
            name: "kerberosSecret",
            label: t("rb.kerberosSecret"),
            // A list to choose from where the API may list labelled Secrets; typed by name otherwise.
            kind: p.secrets.length > 0 ? "select" : "text",
            value: f.kerberosSecret,
            options: [...new Set([...p.secrets, ...(f.kerberosSecret ? [f.kerberosSecret] : [])])].map(
              (s) => ({
                value: s,
                label: s,
              }),
            ),
            error: err("kerberosSecret"),
          })}
          ${text("kerberosPrincipal", t("rb.kerberosPrincipal"), f.kerberosPrincipal)}
        </fieldset>
        <fieldset>
          <legend>${t("rb.schedule")}</legend>
          ${text("cron", t("rb.cron"), f.cron, { hint: "0 6 * * 1-5" })}
          ${text("timeZone", t("rb.timeZone"), f.timeZone, { hint: "Europe/Berlin" })}
        </fieldset>
        ${p.secrets.length > 0 ? html`<p class="hint">${t("rb.secrets")}: ${p.secrets.join(", ")}</p>` : ""}
        ${steps.map(
          (s, i) =>
            html`<fieldset class="step-row">
              <legend>${s.name ? t("rb.step", { n: i + 1 }) + ": " + s.name : t("rb.addStep")}</legend>
              ${text(`step-${i}-name`, t("c.name"), s.name)}
              <div class="field">
                <label for="step-${i}-shell">${t("rb.shell")}</label>
                <select id="step-${i}-shell" name="step-${i}-shell">
                  ${["bash", "pwsh"].map((x) => html`<option value="${x}" ${x === s.shell ? html`selected` : ""}>${x}</option>`)}
                </select>
              </div>
              <div class="field">
                <label for="step-${i}-script">${t("rb.script")}</label>
                ${err(`step-${i}-script`) ? html`<p class="error-message" id="step-${i}-script-error">${err(`step-${i}-script`)}</p>` : ""}
                <textarea
                  id="step-${i}-script"
                  name="step-${i}-script"
                  class="code"
                  rows="8"
                  spellcheck="false"
                >
${s.script}</textarea>
              </div>
              <div class="field">
                <label for="step-${i}-parameters">${t("rb.parameters")}</label>
                <div class="hint" id="step-${i}-parameters-hint">${t("rb.parametersHint")}</div>
                ${err(`step-${i}-parameters`) ? html`<p class="error-message" id="step-${i}-parameters-error">${err(`step-${i}-parameters`)}</p>` : ""}
                <textarea
                  id="step-${i}-parameters"
                  name="step-${i}-parameters"
                  class="code"
                  rows="3"
                  aria-describedby="step-${i}-parameters-hint"
                >
${s.parameters}</textarea>
              </div>
              ${text(`step-${i}-timeout`, t("rb.timeout"), s.timeout, { kind: "number" })}
              ${text(`step-${i}-retries`, t("rb.retries"), s.retries, { kind: "number" })}
              ${text(`step-${i}-retryDelay`, t("rb.retryDelay"), s.retryDelay, { kind: "number" })}
              <div class="field checkbox">
                <input
                  type="checkbox"
                  id="step-${i}-critical"
                  name="step-${i}-critical"
                  value="true"
                  ${s.critical ? html`checked` : ""}
                />
                <label for="step-${i}-critical">${t("rb.critical")}</label>
              </div>
            </fieldset>`,
        )}
        <p class="actions">
          <button class="secondary" name="more" value="1">${t("rb.addStep")}</button>
          <button>${p.isNew ? t("c.create") : t("c.save")}</button>
          <a href="${p.isNew ? "/console/runbooks" : `/console/runbooks/${f.name}`}">${t("common.cancel")}</a>
        </p>
      </form>`,
    { wide: true },
  );
}

// ---- orders ----

export type ConsoleOrderRow = {
  name: string;
  assetType: string;
  action: string;
  phase: string | undefined;
  requester: string;
  createdAt: string | undefined;
  message: string | undefined;
};

export function ordersListPage(
  ctx: Ctx,
  p: Msg & {
    rows: ConsoleOrderRow[];
    q: Record<string, string | undefined>;
    page: number;
    pages: number;
    total: number;
    phases: string[];
    assetTypes: string[];
    csv: string;
  },
): SafeHtml {
  const t = ctx.t;
  const filters: FilterField[] = [
    {
      kind: "select",
      name: "phase",
      label: t("orders.phase"),
      value: p.q.phase,
      options: p.phases.map((x) => ({ value: x, label: x })),
    },
    {
      kind: "select",
      name: "assetType",
      label: t("ord.assetType"),
      value: p.q.assetType,
      options: p.assetTypes.map((x) => ({ value: x, label: x })),
    },
    { kind: "text", name: "requester", label: t("ord.requester"), value: p.q.requester },
    { kind: "text", name: "reason", label: t("ord.failedReason"), value: p.q.reason },
    { kind: "datetime-local", name: "from", label: t("c.from"), value: p.q.from },
    { kind: "datetime-local", name: "to", label: t("c.to"), value: p.q.to },
  ];
  return layout(
    ctx,
    t("ord.title"),
    html`${flashes(p)} ${filterForm(ctx, "/console/orders", filters)}
      <p><a href="${p.csv}" download>${t("c.csv")}</a></p>
      ${table({
        caption: t("c.rows", { n: p.total }),
        head: [
          t("orders.order"),
          t("ord.assetType"),
          t("orders.action"),
          t("orders.phase"),
          t("ord.requester"),
          t("ord.created"),
        ],
        rows: p.rows.map((r) => [
          link(`/console/orders/${r.name}`, r.name),
          r.assetType,
          r.action,
          html`${badge(ctx, r.phase, r.action)}${r.message ? html` <span class="muted">${r.message}</span>` : ""}`,
          r.requester,
          dateHtml(ctx, r.createdAt),
        ]),
        empty: Object.values(p.q).some(Boolean) ? t("c.noMatch") : t("c.none"),
        id: "orders",
      })}
      ${pager(ctx, "/console/orders", p.q, p.page, p.pages)}`,
    { wide: true },
  );
}

export type OrderLogLine = {
  id: string;
  kind: string;
  step?: string | undefined;
  stream?: string | undefined;
  text?: string | undefined;
  state?: string | undefined;
  exitCode?: number | undefined;
};

export function consoleOrderPage(
  ctx: Ctx,
  p: Msg & {
    name: string;
    summary: [string, Cell][];
    phase: string | undefined;
    action: string;
    conditions: { type: string; status: string; reason: string; message: string; at?: string | undefined }[];
    approvals: {
      approver: string;
      decision: string;
      at?: string | undefined;
      comment?: string | undefined;
    }[];
    attempts: { attempt: number; job: string; phase: string; message: string }[];
    log: OrderLogLine[];
    isLive: boolean;
    can: { cancel: boolean; revoke: boolean; retry: boolean; cleanup: boolean; reset?: boolean };
    related?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    `${t("orders.order")} ${p.name}`,
    html`${flashes(p)}
      <div ${p.isLive ? html`data-refresh="3000"` : ""}>
        <section class="card" aria-labelledby="s-h">
          <h2 id="s-h">${t("detail.summary")}</h2>
          <p id="status" aria-live="polite">${badge(ctx, p.phase, p.action)}</p>
          ${dl(p.summary)}
          <div class="actions" id="order-actions">
            ${p.can.cancel ? actionForm(ctx, { action: `/console/orders/${p.name}/cancel`, label: t("ord.cancel"), secondary: true, confirm: t("ord.cancel") + "?" }) : ""}
            ${p.can.retry ? actionForm(ctx, { action: `/console/orders/${p.name}/retry`, label: t("ord.retry") }) : ""}
            ${
              p.can.revoke || p.can.cleanup
                ? actionForm(ctx, {
                    action: `/console/orders/${p.name}/revoke`,
                    label: p.can.cleanup ? t("ord.cleanup") : t("ord.revoke"),
                    secondary: true,
                    confirm: (p.can.cleanup ? t("ord.cleanup") : t("ord.revoke")) + "?",
                  })
                : ""
            }
            ${
              p.can.reset
                ? actionForm(ctx, {
                    action: `/console/orders/${p.name}/reset`,
                    label: t("ord.reset"),
                    secondary: true,
                    confirm: t("ord.resetConfirm"),
                  })
                : ""
            }
            ${p.related ? link(`/console/orders/${p.related}`, p.related) : ""}
          </div>
        </section>
        <section class="card" aria-labelledby="ap-h">
          <h2 id="ap-h">${t("ord.approvals")}</h2>
          ${table({
            caption: t("ord.approvals"),
            head: [t("at.approvers"), t("c.status"), t("au.at"), t("detail.reason")],
            rows: p.approvals.map((a) => [a.approver, a.decision, dateHtml(ctx, a.at), a.comment]),
            empty: t("common.none"),
          })}
        </section>
        <section class="card" aria-labelledby="c-h">
          <h2 id="c-h">${t("ord.conditions")}</h2>
          ${table({
            caption: t("ord.conditions"),
            head: ["Type", t("c.status"), "Reason", "Message", t("au.at")],
            rows: p.conditions.map((c) => [c.type, c.status, c.reason, c.message, dateHtml(ctx, c.at)]),
            empty: t("common.none"),
          })}
          ${
            p.attempts.length > 0
              ? table({
                  caption: t("ord.attempts"),
                  head: ["#", "Job", t("orders.phase"), "Message"],
                  rows: p.attempts.map((a) => [a.attempt, a.job, a.phase, a.message]),
                  empty: "",
                })
              : ""
          }
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
    { wide: true },
  );
}

const NL = "\n";

function logLine(l: OrderLogLine): SafeHtml {
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

// ---- pool ----

export function poolPage(
  ctx: Ctx,
  p: {
    types: {
      name: string;
      displayName: string;
      free: number;
      inUse: number;
      failed: number;
      maintenance: number;
      total: number;
      holders: { order: string; who: string }[];
    }[];
  },
): SafeHtml {
  const t = ctx.t;
  const tile = (kind: string, cls: string, label: string, value: number) =>
    html`<li class="tile ${cls}" data-tile="${kind}">
      <span class="tile-label">${label}</span><span class="tile-value">${value}</span>
    </li>`;
  // The tiles and holders sit in one region that portal.js refreshes in place every few seconds
  // (the same page fetched again, so the same rules); without script the Refresh link reloads it.
  return layout(
    ctx,
    t("pool.title"),
    p.types.length === 0
      ? html`<p class="muted">${t("pool.none")}</p>`
      : html`<p class="actions">
            <a href="/console/pool">${t("pool.refresh")}</a>
            <span class="muted" id="refresh-live" hidden>${t("pool.live")}</span>
            <button
              type="button"
              class="secondary"
              id="refresh-pause"
              hidden
              aria-pressed="false"
              data-pause="${t("pool.pause")}"
              data-resume="${t("pool.resume")}"
            >
              ${t("pool.pause")}
            </button>
          </p>
          <div id="pool-live" data-refresh="5000" data-refresh-ids="pool-live" aria-live="polite">
            ${p.types.map(
              (x) =>
                html`<section class="card" aria-labelledby="pool-${x.name}">
                  <h2 id="pool-${x.name}">${x.displayName}</h2>
                  <ul class="tiles" data-pool="${x.name}">
                    ${tile("free", "tile-ok", t("pool.free"), x.free)}
                    ${tile("inUse", "tile-wait", t("pool.inUse"), x.inUse)}
                    ${tile("failed", "tile-bad", t("pool.failed"), x.failed)}
                    ${tile("maintenance", "", t("pool.maintenance"), x.maintenance)}
                    ${tile("total", "", t("pool.total"), x.total)}
                  </ul>
                  ${table({
                    caption: t("pool.holders"),
                    head: [t("orders.order"), t("ord.requester")],
                    rows: x.holders.map((h) => [link(`/console/orders/${h.order}`, h.order), h.who]),
                    empty: t("common.none"),
                    id: `holders-${x.name}`,
                  })}
                </section>`,
            )}
          </div>`,
    { wide: true },
  );
}

// ---- leavers ----

export function leaversPage(
  ctx: Ctx,
  p: {
    canPlan: boolean;
    rows: { id: string; who: string; effectiveAt: string; state: string; reportedBy: string }[];
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("lv.title"),
    html`${p.canPlan ? html`<p class="actions">${link("/console/leavers/plan", t("lvp.title"))}</p>` : ""}
    ${table({
      caption: t("c.rows", { n: p.rows.length }),
      head: [t("lv.person"), t("lv.effective"), t("lv.state"), t("lv.reportedBy")],
      rows: p.rows.map((r) => [
        link(`/console/leavers/${r.id}`, r.who),
        dateHtml(ctx, r.effectiveAt),
        r.state,
        r.reportedBy,
      ]),
      empty: t("c.none"),
      id: "leavers",
    })}`,
    { wide: true },
  );
}

/** The dry run before a leaver takes effect: who would lose what, and which orders end. */
export function leaverPlanPage(
  ctx: Ctx,
  p: {
    who: string;
    effectiveDate: string;
    errors: FieldError[];
    result?: {
      employee: string | undefined;
      effectiveAt: string;
      cancels: string[];
      revokes: { target: string; assetType: string; deprovisionOrder: string; alreadyQueued: boolean }[];
    };
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  const r = p.result;
  return layout(
    ctx,
    t("lvp.title"),
    html`<p>${t("lvp.intro")}</p>
      ${errorSummary(ctx, p.errors)}
      <form method="get" action="/console/leavers/plan" class="card" novalidate>
        ${field(ctx, { id: "who", name: "who", label: t("lvp.who"), kind: "text", value: p.who, required: true, hint: t("lvp.whoHint"), error: err("who"), autocomplete: "off", maxlength: 320 })}
        ${field(ctx, { id: "effectiveDate", name: "effectiveDate", label: t("lv.effective"), kind: "text", value: p.effectiveDate, hint: t("lvp.dateHint"), error: err("effectiveDate"), autocomplete: "off", maxlength: 10 })}
        <p class="actions"><button>${t("lvp.show")}</button></p>
      </form>
      ${
        r
          ? html`<section class="card" aria-labelledby="plan-h" id="plan">
              <h2 id="plan-h">${t("lvp.result")}</h2>
              ${dl([
                [t("lv.person"), r.employee ?? t("lvp.unknown", { who: p.who })],
                [t("lv.effective"), dateHtml(ctx, r.effectiveAt)],
              ])}
              ${table({
                caption: t("lvp.revokes", { n: r.revokes.length }),
                head: [t("orders.order"), t("ord.assetType"), t("lvp.deprovision"), t("lvp.queued")],
                rows: r.revokes.map((x) => [
                  link(`/console/orders/${x.target}`, x.target),
                  x.assetType,
                  x.deprovisionOrder,
                  x.alreadyQueued ? t("lvp.yes") : t("lvp.no"),
                ]),
                empty: t("lvp.noRevokes"),
                id: "plan-revoke",
              })}
              ${table({
                caption: t("lvp.cancels", { n: r.cancels.length }),
                head: [t("orders.order")],
                rows: r.cancels.map((c) => [link(`/console/orders/${c}`, c)]),
                empty: t("lvp.noCancels"),
                id: "plan-cancel",
              })}
              <p class="muted">${t("lvp.nothingChanged")}</p>
            </section>`
          : ""
      }`,
    { wide: true },
  );
}

export function leaverPage(
  ctx: Ctx,
  p: Msg & {
    id: string;
    who: string;
    summary: [string, Cell][];
    assets: { target: string; assetType: string; order: string; outcome: string; message: string }[];
    /** Per outside system: reached, in progress or pending a retry. */
    systems?: { name: string; state: string; counts: string }[] | undefined;
    plan: { target: string; assetType: string }[];
    canRetry: boolean;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    `${t("lv.title")}: ${p.who}`,
    html`${flashes(p)}
      <section class="card" aria-labelledby="s-h">
        <h2 id="s-h">${t("detail.summary")}</h2>
        ${dl(p.summary)}
        ${p.canRetry ? actionForm(ctx, { action: `/console/leavers/${p.id}/retry`, label: t("lv.retry") }) : ""}
      </section>
      ${
        p.systems && p.systems.length > 0
          ? html`<section class="card" aria-labelledby="sys-h">
              <h2 id="sys-h">${t("lv.systems")}</h2>
              ${table({
                caption: t("lv.systems"),
                head: [t("lv.system"), t("lv.state"), t("lv.sysTaken")],
                rows: p.systems.map((s) => [s.name, s.state, s.counts]),
                empty: t("common.none"),
              })}
            </section>`
          : ""
      }
      <section class="card" aria-labelledby="a-h">
        <h2 id="a-h">${t("lv.assets")}</h2>
        ${table({
          caption: t("lv.assets"),
          head: [
            t("orders.order"),
            t("ord.assetType"),
            t("lv.deprovision"),
            t("lv.outcome"),
            t("lv.message"),
          ],
          rows: p.assets.map((a) => [
            link(`/console/orders/${a.target}`, a.target),
            a.assetType,
            link(`/console/orders/${a.order}`, a.order),
            a.outcome,
            a.message,
          ]),
          empty: t("common.none"),
        })}
        ${
          p.plan.length > 0
            ? table({
                caption: t("lv.planCaption"),
                head: [t("orders.order"), t("ord.assetType")],
                rows: p.plan.map((x) => [x.target, x.assetType]),
                empty: "",
              })
            : ""
        }
      </section>`,
    { wide: true },
  );
}

// ---- audit ----

export type AuditRowView = {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  order: string | null;
  data: Record<string, unknown>;
};

export function auditPage(
  ctx: Ctx,
  p: {
    rows: AuditRowView[];
    q: Record<string, string | undefined>;
    next: string | null;
    csv: string;
    chain: { ok: boolean; text: string };
    anchor: string;
    error?: string | undefined;
  },
): SafeHtml {
  const t = ctx.t;
  const nextQ = new URLSearchParams();
  for (const [k, v] of Object.entries(p.q)) if (v && k !== "cursor") nextQ.set(k, v);
  if (p.next) nextQ.set("cursor", p.next);
  return layout(
    ctx,
    t("au.title"),
    html`${flash("error", p.error)}
      <section class="card" aria-labelledby="ch-h">
        <h2 id="ch-h">${t("au.chain")}</h2>
        <p class="${p.chain.ok ? "ok" : "bad"}" id="chain-status">${p.chain.text}</p>
        <p class="muted">${t("au.anchor")}: ${p.anchor}</p>
      </section>
      ${filterForm(ctx, "/console/audit", [
        { kind: "text", name: "actor", label: t("au.actor"), value: p.q.actor },
        { kind: "text", name: "action", label: t("au.action"), value: p.q.action },
        { kind: "text", name: "target", label: t("au.target"), value: p.q.target },
        { kind: "text", name: "order", label: t("au.order"), value: p.q.order },
        { kind: "datetime-local", name: "from", label: t("c.from"), value: p.q.from },
        { kind: "datetime-local", name: "to", label: t("c.to"), value: p.q.to },
      ])}
      <p><a href="${p.csv}" download id="audit-csv">${t("c.csv")}</a></p>
      ${table({
        caption: t("c.rows", { n: p.rows.length }),
        head: ["#", t("au.at"), t("au.actor"), t("au.action"), t("au.target"), t("au.order"), t("au.data")],
        rows: p.rows.map((r) => [
          r.id,
          dateHtml(ctx, r.at),
          r.actor,
          r.action,
          r.target,
          r.order ? link(`/console/orders/${r.order}`, r.order) : "",
          Object.keys(r.data).length > 0 ? json(r.data) : "",
        ]),
        empty: t("c.noMatch"),
        id: "audit",
      })}
      <nav class="pager" aria-label="${t("au.title")}">
        ${p.q.cursor ? html`<a href="/console/audit?${new URLSearchParams(Object.entries(p.q).filter(([k, v]) => v && k !== "cursor") as [string, string][]).toString()}">${t("c.first")}</a>` : html`<span></span>`}
        ${p.next ? html`<a href="/console/audit?${nextQ.toString()}">${t("au.older")}</a>` : html`<span></span>`}
      </nav>`,
    { wide: true },
  );
}

// ---- cost ----

export function costPage(
  ctx: Ctx,
  p: Msg & {
    q: { from?: string | undefined; to?: string | undefined };
    months: string[];
    centreSeries: Series[];
    typeSeries: Series[];
    centreRows: Cell[][];
    typeRows: Cell[][];
    mtd: { costCenter: string; amount: string; threshold: string; projection: string; over: boolean }[];
    format: (n: number) => string;
    csvCentre: string;
    csvType: string;
    thresholds: { costCenter: string; amount: string; currency: string }[];
    canSetThreshold: boolean;
    unpriced: number;
  },
): SafeHtml {
  const t = ctx.t;
  return layout(
    ctx,
    t("cost.title"),
    html`${flashes(p)}
      <form method="get" action="/console/cost" class="filters">
        <div class="field">
          <label for="f-from">${t("c.from")}</label>
          <input id="f-from" name="from" type="month" value="${p.q.from ?? ""}" />
        </div>
        <div class="field">
          <label for="f-to">${t("c.to")}</label>
          <input id="f-to" name="to" type="month" value="${p.q.to ?? ""}" />
        </div>
        <div class="filter-actions"><button>${t("c.filter")}</button></div>
      </form>
      ${p.unpriced > 0 ? html`<p class="muted">${t("cost.unpriced", { n: p.unpriced })}</p>` : ""}
      <section class="card" aria-labelledby="mtd-h">
        <h2 id="mtd-h">${t("cost.mtd")}</h2>
        ${table({
          caption: t("cost.mtd"),
          head: [t("at.costCenter"), t("cost.amount"), t("cost.projection"), t("cost.thresholds")],
          rows: p.mtd.map((m) => [
            m.costCenter,
            html`${m.amount}${m.over ? html` <strong class="bad">${t("dash.overThreshold")}</strong>` : ""}`,
            m.projection,
            m.threshold,
          ]),
          empty: t("common.none"),
          id: "cost-mtd",
        })}
      </section>
      <section class="card" aria-labelledby="cc-h">
        <h2 id="cc-h">${t("cost.byCentre")}</h2>
        <p class="muted">${t("cost.chartNote")}</p>
        ${stackedBars({ id: "chart-centre", title: t("cost.byCentre"), labels: p.months, series: p.centreSeries, format: p.format })}
        ${table({ caption: t("cost.byCentre"), head: [t("at.costCenter"), t("cost.month"), t("cost.amount"), t("cost.orders")], rows: p.centreRows, empty: t("common.none"), id: "cost-centre" })}
        <p><a href="${p.csvCentre}" download>${t("c.csv")}</a></p>
      </section>
      <section class="card" aria-labelledby="ct-h">
        <h2 id="ct-h">${t("cost.byType")}</h2>
        ${stackedBars({ id: "chart-type", title: t("cost.byType"), labels: p.months, series: p.typeSeries, format: p.format })}
        ${table({ caption: t("cost.byType"), head: [t("ord.assetType"), t("cost.month"), t("cost.amount"), t("cost.orders")], rows: p.typeRows, empty: t("common.none"), id: "cost-type" })}
        <p><a href="${p.csvType}" download>${t("c.csv")}</a></p>
      </section>
      <section class="card" aria-labelledby="th-h">
        <h2 id="th-h">${t("cost.thresholds")}</h2>
        ${table({
          caption: t("cost.thresholds"),
          head: [t("at.costCenter"), t("cost.amount")],
          rows: p.thresholds.map((x) => [x.costCenter, `${x.amount} ${x.currency}`]),
          empty: t("common.none"),
        })}
        ${
          p.canSetThreshold
            ? html`<form method="post" action="/console/cost/thresholds" class="filters">
                ${csrfField(ctx)}
                <div class="field">
                  <label for="th-cc">${t("at.costCenter")}</label
                  ><input id="th-cc" name="costCenter" required maxlength="100" />
                </div>
                <div class="field">
                  <label for="th-amount">${t("cost.amount")}</label
                  ><input id="th-amount" name="amount" required inputmode="decimal" />
                </div>
                <div class="field">
                  <label for="th-cur">${t("at.currency")}</label
                  ><input id="th-cur" name="currency" required maxlength="3" value="EUR" />
                </div>
                <div class="filter-actions"><button>${t("cost.setThreshold")}</button></div>
              </form>`
            : ""
        }
      </section>`,
    { wide: true },
  );
}

// ---- admin users, tokens, settings ----

export function usersPage(
  ctx: Ctx,
  p: Msg & {
    users: {
      id: string;
      username: string;
      email: string | null;
      role: string;
      disabled: boolean;
      createdAt: Date;
      grants: string[];
    }[];
    roles: readonly string[];
    errors: FieldError[];
    form: { username: string; email: string; role: string };
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  return layout(
    ctx,
    t("usr.title"),
    html`${flashes(p)}
      ${table({
        caption: t("c.rows", { n: p.users.length }),
        head: [
          t("usr.username"),
          t("usr.email"),
          t("usr.role"),
          t("c.status"),
          t("usr.grants"),
          t("c.actions"),
        ],
        rows: p.users.map((u) => [
          u.username,
          u.email,
          html`<form method="post" action="/console/users/${u.id}/role" class="inline">
            ${csrfField(ctx)}
            <label for="role-${u.id}" class="visually-hidden">${t("usr.role")} ${u.username}</label>
            <select id="role-${u.id}" name="role">
              ${p.roles.map((r) => html`<option value="${r}" ${r === u.role ? html`selected` : ""}>${r}</option>`)}
            </select>
            <button class="secondary">
              ${t("usr.changeRole")}<span class="visually-hidden"> ${u.username}</span>
            </button>
          </form>`,
          u.disabled ? t("usr.disabled") : t("usr.active"),
          html`<form method="post" action="/console/users/${u.id}/grants" class="inline">
            ${csrfField(ctx)}
            <label for="grants-${u.id}" class="visually-hidden">${t("usr.grants")} ${u.username}</label>
            <input
              id="grants-${u.id}"
              name="assetTypes"
              value="${u.grants.join(", ")}"
              aria-describedby="grants-hint"
            />
            <button class="secondary">
              ${t("c.save")}<span class="visually-hidden"> ${t("usr.grants")} ${u.username}</span>
            </button>
          </form>`,
          html`${actionForm(ctx, {
            action: `/console/users/${u.id}/${u.disabled ? "enable" : "disable"}`,
            label: u.disabled ? t("usr.enable") : t("usr.disable"),
            hidden: u.username,
            secondary: true,
          })}
          ${actionForm(ctx, { action: `/console/users/${u.id}/unlock`, label: t("usr.lockout"), hidden: u.username, secondary: true })}`,
        ]),
        empty: t("c.none"),
        id: "users",
      })}
      <p class="hint" id="grants-hint">${t("usr.grantsHint")}</p>
      <section class="card" aria-labelledby="new-h">
        <h2 id="new-h">${t("usr.new")}</h2>
        ${errorSummary(ctx, p.errors)}
        <form method="post" action="/console/users" novalidate>
          ${csrfField(ctx)}
          ${field(ctx, { id: "username", name: "username", label: t("usr.username"), kind: "text", value: p.form.username, required: true, error: err("username"), autocomplete: "off" })}
          ${field(ctx, { id: "email", name: "email", label: t("usr.email"), kind: "email", value: p.form.email, error: err("email") })}
          ${field(ctx, { id: "role", name: "role", label: t("usr.role"), kind: "select", value: p.form.role, required: true, options: p.roles.map((r) => ({ value: r, label: r })), error: err("role") })}
          ${field(ctx, { id: "password", name: "password", label: t("usr.password"), kind: "password", required: true, error: err("password"), autocomplete: "new-password" })}
          <p class="actions"><button>${t("c.create")}</button></p>
        </form>
      </section>`,
    { wide: true },
  );
}

export function tokensPage(
  ctx: Ctx,
  p: Msg & {
    tokens: {
      id: string;
      name: string;
      role: string;
      scopes: string[];
      expiresAt: Date | null;
      revokedAt: Date | null;
      lastUsedAt: Date | null;
      createdBy: string;
    }[];
    roles: readonly string[];
    minted?: { name: string; token: string } | undefined;
    errors: FieldError[];
    form: { name: string; role: string; scopes: string; expiresAt: string };
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  return layout(
    ctx,
    t("tok.title"),
    html`${flashes(p)}
      <p>${t("tok.useWith")} <a href="/docs/api">${t("nav.apiReference")}</a>.</p>
      ${
        p.minted
          ? html`<section class="card minted" aria-labelledby="minted-h" role="status">
              <h2 id="minted-h">${p.minted.name}</h2>
              <p>${t("tok.shownOnce")}</p>
              <p>
                <label for="minted-token" class="visually-hidden">${p.minted.name}</label
                ><input id="minted-token" readonly value="${p.minted.token}" class="code" />
              </p>
              <p>
                <button type="button" class="secondary" data-copy="minted-token" hidden>
                  ${t("tok.copy")}
                </button>
              </p>
            </section>`
          : ""
      }
      ${table({
        caption: t("c.rows", { n: p.tokens.length }),
        head: [
          t("tok.name"),
          t("usr.role"),
          t("tok.scopes"),
          t("tok.expires"),
          t("tok.lastUsed"),
          t("tok.createdBy"),
          t("c.actions"),
        ],
        rows: p.tokens.map((x) => [
          x.name,
          x.role,
          x.scopes.join(" "),
          x.expiresAt ? dateHtml(ctx, x.expiresAt) : t("tok.never"),
          x.lastUsedAt ? dateHtml(ctx, x.lastUsedAt, true) : "—",
          x.createdBy,
          x.revokedAt
            ? html`${t("tok.revoked")} ${dateHtml(ctx, x.revokedAt)}`
            : actionForm(ctx, {
                action: `/console/tokens/${x.id}/revoke`,
                label: t("tok.revoke"),
                hidden: x.name,
                secondary: true,
                confirm: `${t("tok.revoke")} ${x.name}?`,
              }),
        ]),
        empty: t("c.none"),
        id: "tokens",
      })}
      <section class="card" aria-labelledby="new-h">
        <h2 id="new-h">${t("tok.new")}</h2>
        ${errorSummary(ctx, p.errors)}
        <form method="post" action="/console/tokens" novalidate>
          ${csrfField(ctx)}
          ${field(ctx, { id: "name", name: "name", label: t("tok.name"), kind: "text", value: p.form.name, required: true, error: err("name"), autocomplete: "off" })}
          ${field(ctx, { id: "role", name: "role", label: t("usr.role"), kind: "select", value: p.form.role, required: true, options: p.roles.map((r) => ({ value: r, label: r })), error: err("role") })}
          ${field(ctx, { id: "scopes", name: "scopes", label: t("tok.scopes"), kind: "text", value: p.form.scopes, required: true, hint: t("tok.scopesHint"), error: err("scopes") })}
          ${field(ctx, { id: "expiresAt", name: "expiresAt", label: t("tok.expires"), kind: "datetime-local", value: p.form.expiresAt, error: err("expiresAt") })}
          <p class="actions"><button>${t("c.create")}</button></p>
        </form>
      </section>`,
    { wide: true },
  );
}

export function settingsPage(
  ctx: Ctx,
  p: Msg & {
    settings: Record<string, number | boolean | string>;
    channels: { name: string; configured: boolean }[];
    errors: FieldError[];
  },
): SafeHtml {
  const t = ctx.t;
  const err = (id: string) => p.errors.find((e) => e.field === id)?.message;
  return layout(
    ctx,
    t("set.title"),
    html`${flashes(p)} ${errorSummary(ctx, p.errors)}
      <section class="card" aria-labelledby="sec-h">
        <h2 id="sec-h">${t("set.security")}</h2>
        <form method="post" action="/console/settings" novalidate>
          ${csrfField(ctx)}
          ${Object.entries(p.settings).map(([k, v]) =>
            field(ctx, {
              id: k,
              name: k,
              label: k,
              kind: "number",
              step: "1",
              value: String(v),
              required: true,
              error: err(k),
            }),
          )}
          <p class="actions"><button>${t("c.save")}</button></p>
        </form>
      </section>
      <section class="card" aria-labelledby="ch-h">
        <h2 id="ch-h">${t("set.notifications")}</h2>
        ${table({
          caption: t("set.notifications"),
          head: [t("c.name"), t("c.status")],
          rows: p.channels.map((c) => [c.name, c.configured ? t("set.configured") : t("set.notConfigured")]),
          empty: "",
        })}
      </section>`,
  );
}
