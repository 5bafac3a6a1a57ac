// The staff console (issue #20), under /console: every page declares the same permission as the
// JSON route it mirrors and calls the same service function (api/catalog, api/orders, api/audit,
// api/cost, api/admin, api/leaver), so the route × role table, ACL scoping (a scoped admin gets
// the same 404 page for another team's type) and every validation hold here too. Buttons show
// only what the principal may do; the server refuses the rest anyway (a forged form POST gets
// the API's 403). Employees are sent to their portal.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { Cron } from "croner";
import { CoreV1Api } from "@kubernetes/client-node";
import type { AssetTypeSpec } from "../../crds/generated/assettype.ts";
import type { RunbookSpec } from "../../crds/generated/runbook.ts";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import { orderPhases } from "../../crds/reasons.ts";
import { needsCleanup } from "../../crds/order-cleanup.ts";
import { ASSET_TYPES, catalogService, RUNBOOKS } from "../../api/catalog/service.ts";
import {
  cancelOrder,
  listVisibleOrders,
  retryOrder,
  revokeOrder,
  resetGenerated,
  visibleOrder,
  type OrderCr,
} from "../../api/orders/index.ts";
import { decideRetry } from "../../api/policy/orders.ts";
import { isAllowed, ROLES, type AdminRole, type Permission } from "../../api/policy/permissions.ts";
import { principalOf } from "../../api/plugins/auth.ts";
import { resourcesOf } from "../../api/plugins/resources.ts";
import { auditCsv, chainStatus, searchAudit } from "../../api/audit/service.ts";
import { costReport, costThresholds, setThreshold } from "../../api/cost/service.ts";
import {
  changeSecuritySettings,
  createAdminUser,
  grantsOf,
  listAdminUsers,
  listTokens,
  mintToken,
  revokeToken,
  securitySettingsOf,
  setGrants,
  unlockAdminUser,
  updateAdminUser,
} from "../../api/admin/service.ts";
import { orderLogOf } from "../../api/portal/index.ts";
import { retryLeaver } from "../../api/leaver/fanout.ts";
import { EffectiveDate, leaverPlan, leaverReportFor } from "../../api/leaver/plan.ts";
import { listIntegrations } from "../../api/integrations/service.ts";
import { listLeaverEvents } from "../../record/leavers/store.ts";
import { listScheduledRuns } from "../../record/scheduled-runs.ts";
import { csvLine } from "../../record/audit-query.ts";
import { AppError, InputError, NotFoundError } from "../../record/errors.ts";
import { AssetTypeSpecSchema, RunbookSpecSchema } from "../../api/routes/catalog/schemas.ts";
import { SecuritySettings } from "../../record/identity/settings.ts";
import { ctxOf, send } from "../context.ts";
import { formatMoney } from "../format.ts";
import type { Ctx, FieldError } from "../layout.ts";
import type { Cell } from "./kit.ts";
import type { Series } from "./chart.ts";
import {
  assetTypeFormPage,
  assetTypePage,
  assetTypesPage,
  auditPage,
  consoleOrderPage,
  costPage,
  dashboardPage,
  integrationsPage,
  leaverPage,
  leaverPlanPage,
  leaversPage,
  ordersListPage,
  poolPage,
  runbookFormPage,
  runbookPage,
  runbooksPage,
  settingsPage,
  tokensPage,
  usersPage,
  type AssetTypeForm,
  type AttributeRow,
  type ConsoleOrderRow,
  type RunbookForm,
  type StepView,
  type Tile,
} from "./pages.ts";

const Name = z.object({ name: z.string().min(1).max(253) });
const Id = z.object({ id: z.string().regex(/^\d{1,18}$/) });
const Form = z.object({ _csrf: z.string().optional() }).catchall(z.string().max(100_000));
type FormBody = Record<string, string | undefined>;
const Flash = z.object({ done: z.string().max(300).optional() }).catchall(z.string().max(2000));
const PAGE = 50;
const DAY = 86_400_000;

const messageOf = (err: unknown) => (err instanceof AppError && err.status < 500 ? err.message : undefined);
const statusOf = (err: unknown) => (err instanceof AppError ? err.status : 500);

const can = (req: FastifyRequest, perm: Permission) => {
  const p = req.principal;
  return p !== undefined && isAllowed(p, perm);
};

const lines = (s: string | undefined) =>
  (s ?? "")
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

/** A datetime-local value (read as UTC) or an ISO instant → ISO; undefined if empty or bad. */
function isoOf(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Who manages a resource by GitOps, from the labels and annotations Helm and Argo CD set. */
function managerOf(
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): string | undefined {
  const a = meta?.annotations ?? {};
  const l = meta?.labels ?? {};
  if (a["argocd.argoproj.io/tracking-id"] || l["argocd.argoproj.io/instance"]) return "Argo CD";
  if (l["app.kubernetes.io/managed-by"] === "Helm" || a["meta.helm.sh/release-name"]) return "Helm";
  const m = l["app.kubernetes.io/managed-by"];
  return m && m !== "ipsolis" ? m : undefined;
}

function zodErrors(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  map: (path: string) => string,
): FieldError[] {
  return issues.map((i) => {
    const path = i.path.map(String).join(".");
    return { field: map(path), message: path ? `${path}: ${i.message}` : i.message };
  });
}

// ---- asset type form ⇄ spec ----

function formOfAssetType(name: string, s: AssetTypeSpec | undefined): AssetTypeForm {
  return {
    name,
    displayName: s?.displayName ?? "",
    description: s?.description ?? "",
    category: s?.category ?? "",
    model: s?.assignment.model ?? "AssignedPersonal",
    capacity: s?.assignment.capacity?.toString() ?? "",
    maxPerUser: s?.assignment.maxPerUser?.toString() ?? "",
    policy: s?.approval.policy ?? "None",
    approvers: (s?.approval.approvers ?? []).join("\n"),
    quorum: s?.approval.quorum?.toString() ?? "",
    remindAfter: s?.approval.remindAfter ?? "",
    escalateAfter: s?.approval.escalateAfter ?? "",
    expireAfter: s?.approval.expireAfter ?? "",
    amount: s?.cost.amountPerMonth ?? "",
    currency: s?.cost.currency ?? "EUR",
    costCenter: s?.cost.costCenter ?? "",
    provision: s?.runbooks.provision ?? "",
    modify: s?.runbooks.modify ?? "",
    deprovision: s?.runbooks.deprovision ?? "",
    everyone: s?.entitlement?.everyone ?? s === undefined,
    groups: (s?.entitlement?.groups ?? []).join("\n"),
    departments: (s?.entitlement?.departments ?? []).join("\n"),
    lease: s?.leaseDuration ?? "",
    attributes: (s?.attributes ?? []).map((a) => ({
      name: a.name,
      type: a.type,
      required: a.required ?? false,
      secret: a.secret ?? false,
      fromEmployee: a.fromEmployee ?? "",
      enum: (a.enum ?? []).join(", "),
      help: a.description ?? "",
    })),
  };
}

function formOfBody(b: FormBody): AssetTypeForm {
  const attributes: AttributeRow[] = [];
  for (let i = 0; i < 200; i++) {
    if (b[`attr_${i}_name`] === undefined) break;
    attributes.push({
      name: (b[`attr_${i}_name`] ?? "").trim(),
      type: b[`attr_${i}_type`] ?? "string",
      required: b[`attr_${i}_required`] === "true",
      secret: b[`attr_${i}_secret`] === "true",
      fromEmployee: (b[`attr_${i}_fromEmployee`] ?? "").trim(),
      enum: b[`attr_${i}_enum`] ?? "",
      help: b[`attr_${i}_help`] ?? "",
    });
  }
  const s = (k: string) => (b[k] ?? "").trim();
  return {
    name: s("name"),
    displayName: s("displayName"),
    description: b.description ?? "",
    category: s("category"),
    model: s("model"),
    capacity: s("capacity"),
    maxPerUser: s("maxPerUser"),
    policy: s("policy"),
    approvers: b.approvers ?? "",
    quorum: s("quorum"),
    remindAfter: s("remindAfter"),
    escalateAfter: s("escalateAfter"),
    expireAfter: s("expireAfter"),
    amount: s("amount"),
    currency: s("currency"),
    costCenter: s("costCenter"),
    provision: s("provision"),
    modify: s("modify"),
    deprovision: s("deprovision"),
    everyone: b.everyone === "true",
    groups: b.groups ?? "",
    departments: b.departments ?? "",
    lease: s("lease"),
    attributes,
  };
}

const num = (v: string) => (v === "" ? undefined : Number(v));

/** The spec a form describes; the API's schema and the API server's CEL rules judge it. */
function specOfForm(f: AssetTypeForm, before: AssetTypeSpec | undefined): Record<string, unknown> {
  const drop = <T extends Record<string, unknown>>(o: T) =>
    Object.fromEntries(
      Object.entries(o).filter(
        ([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0),
      ),
    );
  return drop({
    displayName: f.displayName,
    description: f.description.trim() || undefined,
    category: f.category,
    assignment: drop({ model: f.model, capacity: num(f.capacity), maxPerUser: num(f.maxPerUser) }),
    approval: drop({
      // Fields the form does not edit (channels, escalation targets, onModify) are kept.
      ...(before?.approval ?? {}),
      policy: f.policy,
      approvers: f.policy === "Approvers" ? lines(f.approvers) : undefined,
      quorum: f.policy === "Approvers" ? num(f.quorum) : undefined,
      remindAfter: f.remindAfter || undefined,
      escalateAfter: f.escalateAfter || undefined,
      expireAfter: f.expireAfter || undefined,
    }),
    cost: { amountPerMonth: f.amount, currency: f.currency, costCenter: f.costCenter },
    runbooks: drop({
      provision: f.provision,
      modify: f.modify || undefined,
      deprovision: f.deprovision || undefined,
    }),
    attributes: f.attributes
      .filter((a) => a.name)
      .map((a) =>
        drop({
          name: a.name,
          type: a.type,
          required: a.required || undefined,
          secret: a.secret || undefined,
          fromEmployee: a.fromEmployee || undefined,
          enum: a.type === "enum" ? lines(a.enum) : undefined,
          description: a.help || undefined,
          // Not edited by the form (how a generated value is made and delivered): kept by name.
          generated: before?.attributes?.find((x) => x.name === a.name)?.generated,
        }),
      ),
    entitlement: drop({
      everyone: f.everyone || undefined,
      groups: lines(f.groups),
      departments: lines(f.departments),
    }),
    leaseDuration: f.lease || undefined,
  });
}

/** Schema paths → the form's field ids, so each message sits next to its field. */
function assetTypeField(path: string): string {
  const m = /^attributes\.(\d+)/.exec(path);
  if (m) return `attr-${m[1]}-name`;
  const map: Record<string, string> = {
    "cost.amountPerMonth": "amount",
    "cost.currency": "currency",
    "cost.costCenter": "costCenter",
    "assignment.model": "model",
    "assignment.capacity": "capacity",
    "assignment.maxPerUser": "maxPerUser",
    "approval.policy": "policy",
    "approval.approvers": "approvers",
    "approval.quorum": "quorum",
    "approval.remindAfter": "remindAfter",
    "approval.escalateAfter": "escalateAfter",
    "approval.expireAfter": "expireAfter",
    "runbooks.provision": "provision",
    "runbooks.modify": "modify",
    "runbooks.deprovision": "deprovision",
    leaseDuration: "lease",
  };
  return map[path] ?? (path.split(".")[0] || "name");
}

// ---- runbook form ⇄ spec ----

function paramsText(ps: RunbookSpec["steps"][number]["parameters"]): string {
  return (ps ?? [])
    .map((p) =>
      p.valueFrom
        ? `${p.name}=secret:${p.valueFrom.secretKeyRef.name}/${p.valueFrom.secretKeyRef.key}`
        : `${p.name}=${p.value ?? ""}`,
    )
    .join("\n");
}

function stepsOf(s: RunbookSpec | undefined): StepView[] {
  return (s?.steps ?? []).map((x) => ({
    name: x.name,
    shell: x.shell ?? "pwsh",
    script:
      x.script ??
      (x.scriptFrom
        ? `# from ConfigMap ${x.scriptFrom.configMapKeyRef.name}/${x.scriptFrom.configMapKeyRef.key}`
        : ""),
    parameters: paramsText(x.parameters),
    timeout: x.timeoutSeconds?.toString() ?? "",
    retries: x.retries?.toString() ?? "",
    retryDelay: x.retryDelaySeconds?.toString() ?? "",
    critical: x.critical ?? true,
  }));
}

function runbookFormOf(name: string, s: RunbookSpec | undefined): RunbookForm {
  return {
    name,
    description: s?.description ?? "",
    image: s?.image ?? "ghcr.io/ipsolis/runner:latest",
    kerberosSecret: s?.kerberos?.secretName ?? "",
    kerberosPrincipal: s?.kerberos?.principal ?? "",
    cron: s?.schedule?.cron ?? "",
    timeZone: s?.schedule?.timeZone ?? "",
    steps: stepsOf(s),
  };
}

function runbookFormOfBody(b: FormBody): RunbookForm {
  const steps: StepView[] = [];
  for (let i = 0; i < 100; i++) {
    if (b[`step-${i}-name`] === undefined) break;
    steps.push({
      name: (b[`step-${i}-name`] ?? "").trim(),
      shell: b[`step-${i}-shell`] ?? "bash",
      script: (b[`step-${i}-script`] ?? "").replace(/\r\n/g, "\n"),
      parameters: b[`step-${i}-parameters`] ?? "",
      timeout: (b[`step-${i}-timeout`] ?? "").trim(),
      retries: (b[`step-${i}-retries`] ?? "").trim(),
      retryDelay: (b[`step-${i}-retryDelay`] ?? "").trim(),
      critical: b[`step-${i}-critical`] === "true",
    });
  }
  const s = (k: string) => (b[k] ?? "").trim();
  return {
    name: s("name"),
    description: b.description ?? "",
    image: s("image"),
    kerberosSecret: s("kerberosSecret"),
    kerberosPrincipal: s("kerberosPrincipal"),
    cron: s("cron"),
    timeZone: s("timeZone"),
    steps,
  };
}

function runbookSpecOfForm(
  f: RunbookForm,
  before: RunbookSpec | undefined,
): { spec?: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const steps = f.steps
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.name)
    .map(({ s, i }) => {
      const prior = before?.steps.find((x) => x.name === s.name);
      const parameters = lines(s.parameters.replace(/,/g, "\n")).flatMap((l) => {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l);
        if (!m) {
          errors.push({
            field: `step-${i}-parameters`,
            message: `"${l}": write NAME=value or NAME=secret:SECRET/KEY`,
          });
          return [];
        }
        const ref = /^secret:([a-z0-9][-a-z0-9.]*)\/([-._a-zA-Z0-9]+)$/.exec(m[2] ?? "");
        return [
          ref
            ? { name: m[1], valueFrom: { secretKeyRef: { name: ref[1], key: ref[2] } } }
            : { name: m[1], value: m[2] },
        ];
      });
      const fromConfigMap = prior?.scriptFrom && s.script.startsWith("# from ConfigMap ");
      return Object.fromEntries(
        Object.entries({
          name: s.name,
          shell: s.shell,
          ...(fromConfigMap ? { scriptFrom: prior.scriptFrom } : { script: s.script }),
          parameters: parameters.length > 0 ? parameters : undefined,
          timeoutSeconds: num(s.timeout),
          retries: num(s.retries),
          retryDelaySeconds: num(s.retryDelay),
          critical: s.critical,
        }).filter(([, v]) => v !== undefined),
      );
    });
  const spec: Record<string, unknown> = {
    ...(f.description.trim() ? { description: f.description.trim() } : {}),
    image: f.image,
    steps,
    ...(f.kerberosSecret
      ? {
          kerberos: {
            ...(before?.kerberos ?? {}),
            secretName: f.kerberosSecret,
            principal: f.kerberosPrincipal,
          },
        }
      : {}),
    ...(f.cron
      ? {
          schedule: {
            ...(before?.schedule ?? {}),
            cron: f.cron,
            ...(f.timeZone ? { timeZone: f.timeZone } : {}),
          },
        }
      : {}),
  };
  return errors.length > 0 ? { errors } : { spec, errors };
}

function runbookField(path: string): string {
  const m = /^steps\.(\d+)\.?(\w+)?/.exec(path);
  if (m) {
    const k =
      m[2] === "timeoutSeconds" ? "timeout" : m[2] === "retryDelaySeconds" ? "retryDelay" : (m[2] ?? "name");
    return `step-${m[1]}-${["name", "script", "parameters", "timeout", "retries", "retryDelay"].includes(k) ? k : "name"}`;
  }
  if (path.startsWith("kerberos")) return "kerberosSecret";
  if (path.startsWith("schedule")) return "cron";
  return path.split(".")[0] || "name";
}

function nextRuns(s: RunbookSpec["schedule"], ctx: Ctx): string[] {
  if (!s?.cron) return [];
  try {
    const c = new Cron(s.cron, { timezone: s.timeZone, paused: true });
    const fmt = new Intl.DateTimeFormat(ctx.lang === "de" ? "de-DE" : "en-GB", {
      dateStyle: "full",
      timeStyle: "short",
      timeZone: s.timeZone ?? "UTC",
    });
    return c.nextRuns(5, ctx.now).map((d) => `${fmt.format(d)} (${s.timeZone ?? "UTC"})`);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError || err instanceof Error) return [err.message];
    throw err;
  }
}

/** Names of the Secrets a runbook may reference (labelled for runbook use); never their data. */
async function runbookSecretNames(req: FastifyRequest): Promise<string[]> {
  try {
    const r = await req.server.deps.kc.makeApiClient(CoreV1Api).listNamespacedSecret({
      namespace: req.server.deps.namespace,
      labelSelector: "ipsolis.io/runbook-secret=true",
    });
    return r.items
      .map((s) => s.metadata?.name ?? "")
      .filter(Boolean)
      .sort();
  } catch (err) {
    // The API's ServiceAccount may not list Secrets: the names are typed by hand then.
    req.log.info({ err }, "listing runbook Secrets failed");
    return [];
  }
}

// ---- orders ----

type OrderQuery = {
  phase?: string;
  assetType?: string;
  requester?: string;
  reason?: string;
  from?: string;
  to?: string;
};

async function filteredOrders(req: FastifyRequest, q: OrderQuery): Promise<OrderCr[]> {
  const from = isoOf(q.from);
  const to = isoOf(q.to);
  const reason = q.reason?.toLowerCase();
  return (
    await listVisibleOrders(req, {
      phase: q.phase || undefined,
      assetType: q.assetType || undefined,
      requester: q.requester || undefined,
    })
  ).filter((o) => {
    const at = o.metadata.creationTimestamp ? new Date(o.metadata.creationTimestamp).toISOString() : "";
    if (from && at < from) return false;
    if (to && at >= to) return false;
    if (reason) {
      const words = [
        o.status?.message ?? "",
        ...(o.status?.conditions ?? []).map((c) => `${c.reason} ${c.message}`),
      ]
        .join(" ")
        .toLowerCase();
      if (!words.includes(reason)) return false;
    }
    return true;
  });
}

function rowOf(o: OrderCr): ConsoleOrderRow {
  return {
    name: o.metadata.name,
    assetType: o.spec.assetType,
    action: o.spec.action ?? "Provision",
    phase: o.status?.phase,
    requester: o.spec.requester.email,
    createdAt: o.metadata.creationTimestamp
      ? new Date(o.metadata.creationTimestamp).toISOString()
      : undefined,
    message: o.status?.message,
  };
}

export const consoleRoutes: FastifyPluginAsyncZod = async (app) => {
  const types = catalogService(app.deps, ASSET_TYPES);
  const runbooks = catalogService(app.deps, RUNBOOKS);

  // The console is for staff: an employee's session goes to their portal.
  app.addHook("preHandler", async (req, reply) => {
    if (req.principal?.role !== "employee") return;
    if (req.method === "GET") return reply.redirect("/portal", 303);
    return reply.code(403).send({ error: "the console is for IT staff" });
  });

  const page = (perm: Permission) => ({ config: { permission: perm } });
  const redirect = (reply: FastifyReply, to: string, done?: string) =>
    reply.redirect(done ? `${to}${to.includes("?") ? "&" : "?"}done=${encodeURIComponent(done)}` : to, 303);

  // ---- integrations (GET /integrations: the same service) ----
  app.get(
    "/console/integrations",
    {
      ...page("runbooks:read"),
      schema: { hide: true, querystring: z.object({ probe: z.enum(["true", "false"]).optional() }) },
    },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const rows = await listIntegrations(req, { probe: req.query.probe === "true" });
      return send(reply, integrationsPage(ctx, { rows }));
    },
  );

  // ---- dashboard ----
  app.get("/console", { ...page("self"), schema: { hide: true } }, async (req, reply) => {
    const ctx = await ctxOf(req, reply);
    const t = ctx.t;
    const tiles: Tile[] = [];
    const phases: { phase: string; count: number }[] = [];
    const pool: Tile[] = [];
    const now = ctx.now.getTime();
    if (can(req, "orders:read")) {
      const orders = await listVisibleOrders(req, {});
      for (const ph of orderPhases) {
        const n = orders.filter((o) => o.status?.phase === ph).length;
        if (n > 0) phases.push({ phase: ph, count: n });
      }
      const pending = orders.filter((o) => o.status?.phase === "PendingApproval");
      const overdue = pending.filter(
        (o) => now - new Date(o.metadata.creationTimestamp ?? now).getTime() > 2 * DAY,
      );
      const failed = orders.filter((o) => {
        if (o.status?.phase !== "Failed") return false;
        const last = Math.max(
          ...(o.status.conditions ?? []).map((c) => new Date(c.lastTransitionTime).getTime()),
          new Date(o.metadata.creationTimestamp ?? 0).getTime(),
        );
        return now - last <= 7 * DAY;
      });
      tiles.push({
        label: t("dash.pendingApprovals"),
        value: String(pending.length),
        href: "/console/orders?phase=PendingApproval",
        tone: "wait",
      });
      tiles.push({
        label: t("dash.overdue"),
        value: String(overdue.length),
        href: "/console/orders?phase=PendingApproval",
        tone: overdue.length > 0 ? "bad" : undefined,
      });
      tiles.push({
        label: t("dash.failed7"),
        value: String(failed.length),
        href: `/console/orders?phase=Failed&from=${new Date(now - 7 * DAY).toISOString().slice(0, 16)}`,
        tone: failed.length > 0 ? "bad" : "ok",
      });
      if (can(req, "assettypes:read")) {
        const assets = await resourcesOf(req.server.deps).list<{ assetType: string }>("Asset");
        for (const at of await types.list(req)) {
          const s = at.spec as AssetTypeSpec;
          if (s.assignment.model !== "CapacityPooled" || !s.assignment.capacity) continue;
          const used = assets.filter((a) => a.spec.assetType === at.metadata.name).length;
          pool.push({
            label: s.displayName,
            value: `${used} / ${s.assignment.capacity}`,
            href: "/console/pool",
            tone: used >= s.assignment.capacity ? "bad" : "ok",
          });
        }
      }
    }
    if (can(req, "leavers:read")) {
      const ev = await listLeaverEvents(req.server.deps.db, 500);
      const open = ev.filter((e) => !e.closedAt && e.state !== "processed").length;
      tiles.push({ label: t("dash.leavers"), value: String(open), href: "/console/leavers" });
    }
    if (can(req, "cost:read")) {
      const tz = req.server.deps.config?.IPSOLIS_TIME_ZONE ?? "Europe/Berlin";
      const r = await costReport(req, { groupBy: ["costCenter"], timeZone: tz });
      const th = new Map((await costThresholds(req)).map((x) => [x.costCenter, x]));
      for (const row of r.rows) {
        const limit = th.get(row.costCenter ?? "");
        const over = limit !== undefined && Number(row.amount) > Number(limit.amount);
        tiles.push({
          label: `${t("dash.cost")}: ${row.costCenter ?? ""}`,
          value: formatMoney(row.amount, row.currency, ctx.lang),
          href: "/console/cost",
          tone: over ? "bad" : undefined,
          note: limit
            ? `${t("dash.threshold", { amount: formatMoney(limit.amount, limit.currency, ctx.lang) })}${over ? ` · ${t("dash.overThreshold")}` : ""}`
            : undefined,
        });
      }
    }
    const integrations: Tile[] = [];
    if (can(req, "runbooks:read")) {
      for (const i of await listIntegrations(req)) {
        integrations.push({
          label: i.name,
          value: t(`int.health.${i.health}`),
          href: "/console/integrations",
          tone: i.health === "healthy" ? "ok" : i.health === "failing" ? "bad" : undefined,
          note: i.lastError ?? undefined,
        });
      }
    }
    return send(reply, dashboardPage(ctx, { tiles, phases, pool, integrations }));
  });

  // ---- asset types ----
  app.get(
    "/console/asset-types",
    { ...page("assettypes:read"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const q = req.query as Record<string, string | undefined>;
      const all = await types.list(req);
      const search = q.search?.toLowerCase();
      const rows = all
        .filter((o) => {
          const s = o.spec as AssetTypeSpec;
          if (q.category && s.category !== q.category) return false;
          return (
            !search ||
            `${o.metadata.name} ${s.displayName} ${s.description ?? ""}`.toLowerCase().includes(search)
          );
        })
        .map((o) => {
          const s = o.spec as AssetTypeSpec;
          const ready = (
            o.status as { conditions?: { type: string; status: string; message: string }[] } | undefined
          )?.conditions?.find((c) => c.type === "Ready");
          return {
            name: o.metadata.name,
            displayName: s.displayName,
            category: s.category,
            approval: s.approval.policy,
            cost: ctx.t("common.perMonth", {
              amount: formatMoney(s.cost.amountPerMonth, s.cost.currency, ctx.lang),
            }),
            ready: ready
              ? ready.status === "True"
                ? ctx.t("c.ready")
                : `${ctx.t("c.notReady")}: ${ready.message}`
              : undefined,
            managedBy: managerOf(o.metadata),
          };
        });
      const categories = [...new Set(all.map((o) => (o.spec as AssetTypeSpec).category))].sort();
      return send(
        reply,
        assetTypesPage(ctx, {
          rows,
          q: { search: q.search, category: q.category },
          categories,
          canWrite: can(req, "assettypes:write"),
          notice: q.done,
        }),
      );
    },
  );

  const runbookNames = async (req: FastifyRequest) =>
    (await runbooks.list(req)).map((r) => r.metadata.name).sort();

  const showAssetTypeForm = async (
    req: FastifyRequest,
    reply: FastifyReply,
    p: {
      isNew: boolean;
      f: AssetTypeForm;
      errors?: FieldError[];
      general?: string;
      managedBy?: string;
      status?: number;
    },
  ) => {
    const ctx = await ctxOf(req, reply);
    return send(
      reply,
      assetTypeFormPage(ctx, {
        isNew: p.isNew,
        f: p.f,
        errors: p.errors ?? [],
        general: p.general,
        runbooks: await runbookNames(req),
        managedBy: p.managedBy,
      }),
      p.status ?? 200,
    );
  };

  app.get(
    "/console/asset-types/new",
    { ...page("assettypes:write"), schema: { hide: true } },
    async (req, reply) => showAssetTypeForm(req, reply, { isNew: true, f: formOfAssetType("", undefined) }),
  );

  app.get(
    "/console/asset-types/:name",
    { ...page("assettypes:read"), schema: { hide: true, params: Name, querystring: Flash } },
    async (req, reply) => {
      const { o, access } = await types.get(req, req.params.name);
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      const s = o.spec as AssetTypeSpec;
      const orders = can(req, "orders:read")
        ? await listVisibleOrders(req, { assetType: o.metadata.name })
        : [];
      const conditions = (
        (
          o.status as
            { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined
        )?.conditions ?? []
      ).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
      return send(
        reply,
        assetTypePage(ctx, {
          name: o.metadata.name,
          spec: s,
          summary: [
            [t("c.name"), o.metadata.name],
            [t("c.description"), s.description],
            [t("c.category"), s.category],
            [
              t("at.assignment"),
              `${s.assignment.model}${s.assignment.capacity ? ` (${t("at.capacity")} ${s.assignment.capacity})` : ""}`,
            ],
            [
              t("at.approval"),
              `${s.approval.policy}${s.approval.approvers ? `: ${s.approval.approvers.join(", ")} (${t("at.quorum")} ${s.approval.quorum ?? 1})` : ""}`,
            ],
            [
              t("at.cost"),
              `${t("common.perMonth", { amount: formatMoney(s.cost.amountPerMonth, s.cost.currency, ctx.lang) })} · ${s.cost.costCenter}`,
            ],
            [t("at.provision"), s.runbooks.provision],
            [t("at.modify"), s.runbooks.modify],
            [t("at.deprovision"), s.runbooks.deprovision],
            [
              t("at.entitlement"),
              s.entitlement?.everyone
                ? t("at.everyone")
                : [...(s.entitlement?.groups ?? []), ...(s.entitlement?.departments ?? [])].join(", ") ||
                  t("common.none"),
            ],
            [t("at.lease"), s.leaseDuration],
          ],
          attributes: (s.attributes ?? []).map((a) => ({
            name: a.name,
            type: a.type,
            required: a.required ?? false,
            secret: a.secret ?? false,
            fromEmployee: a.fromEmployee ?? "",
            enum: (a.enum ?? []).join(", "),
            help: a.description ?? "",
          })),
          conditions,
          orders: orders.map((x) => ({
            name: x.metadata.name,
            phase: x.status?.phase,
            requester: x.spec.requester.email,
          })),
          canWrite: access === "write" && can(req, "assettypes:write"),
          managedBy: managerOf(o.metadata),
          notice: (req.query as { done?: string }).done,
        }),
      );
    },
  );

  app.get(
    "/console/asset-types/:name/edit",
    { ...page("assettypes:write"), schema: { hide: true, params: Name } },
    async (req, reply) => {
      const { o } = await types.get(req, req.params.name);
      return showAssetTypeForm(req, reply, {
        isNew: false,
        f: formOfAssetType(o.metadata.name, o.spec as AssetTypeSpec),
        managedBy: managerOf(o.metadata),
      });
    },
  );

  const saveAssetType = async (req: FastifyRequest, reply: FastifyReply, isNew: boolean, name?: string) => {
    const b = req.body as FormBody;
    const f = formOfBody(b);
    if (name) f.name = name;
    const existing = name ? await types.get(req, name) : undefined;
    const managedBy = existing ? managerOf(existing.o.metadata) : undefined;
    // "Add a field": the same form again with one more empty row.
    if (b.more) return showAssetTypeForm(req, reply, { isNew, f, managedBy });
    if (managedBy && b.confirmManaged !== "true") {
      return showAssetTypeForm(req, reply, {
        isNew,
        f,
        managedBy,
        errors: [
          {
            field: "confirmManaged",
            message:
              req.server.deps.now() &&
              (await ctxOf(req, reply)).t("c.managedConfirm", { manager: managedBy }),
          },
        ],
        status: 409,
      });
    }
    if (isNew && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(f.name)) {
      return showAssetTypeForm(req, reply, {
        isNew,
        f,
        errors: [
          {
            field: "name",
            message:
              "name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
          },
        ],
        status: 400,
      });
    }
    const spec = specOfForm(f, existing?.o.spec as AssetTypeSpec | undefined);
    const parsed = AssetTypeSpecSchema.safeParse(spec);
    if (!parsed.success) {
      return showAssetTypeForm(req, reply, {
        isNew,
        f,
        managedBy,
        errors: zodErrors(parsed.error.issues, assetTypeField),
        status: 400,
      });
    }
    if (
      isNew &&
      (await types.get(req, f.name).then(
        () => true,
        () => false,
      ))
    ) {
      return showAssetTypeForm(req, reply, {
        isNew,
        f,
        errors: [{ field: "name", message: `asset type "${f.name}" already exists` }],
        status: 409,
      });
    }
    try {
      await types.put(req, f.name, parsed.data);
    } catch (err) {
      const msg = messageOf(err);
      if (!msg || statusOf(err) === 404) throw err;
      // The API server's CEL messages, as the API would answer them.
      return showAssetTypeForm(req, reply, { isNew, f, managedBy, general: msg, status: statusOf(err) });
    }
    const ctx = await ctxOf(req, reply);
    return redirect(reply, `/console/asset-types/${f.name}`, isNew ? ctx.t("c.created") : ctx.t("c.saved"));
  };

  app.post(
    "/console/asset-types/new",
    { ...page("assettypes:write"), schema: { hide: true, body: Form } },
    async (req, reply) => saveAssetType(req, reply, true),
  );
  app.post(
    "/console/asset-types/:name/edit",
    { ...page("assettypes:write"), schema: { hide: true, params: Name, body: Form } },
    async (req, reply) => saveAssetType(req, reply, false, req.params.name),
  );
  app.post(
    "/console/asset-types/:name/clone",
    { ...page("assettypes:write"), schema: { hide: true, params: Name, body: Form } },
    async (req, reply) => {
      const to = ((req.body as FormBody).name ?? "").trim();
      if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(to))
        throw new InputError("name of the copy: lower-case letters, digits, '-' and '.'");
      await types.clone(req, req.params.name, to);
      return redirect(reply, `/console/asset-types/${to}/edit`);
    },
  );
  app.post(
    "/console/asset-types/:name/delete",
    { ...page("assettypes:write"), schema: { hide: true, params: Name, body: Form } },
    async (req, reply) => {
      await types.remove(req, req.params.name, (req.body as FormBody).force === "true");
      const ctx = await ctxOf(req, reply);
      return redirect(reply, "/console/asset-types", ctx.t("c.deleted", { name: req.params.name }));
    },
  );

  // ---- runbooks ----
  app.get(
    "/console/runbooks",
    { ...page("runbooks:read"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const runBy = await runbooks.runBy();
      const rows = (await runbooks.list(req)).map((o) => {
        const s = o.spec as RunbookSpec;
        const ready = (
          o.status as { conditions?: { type: string; status: string; message: string }[] } | undefined
        )?.conditions?.find((c) => c.type === "Ready");
        return {
          name: o.metadata.name,
          description: s.description ?? "",
          steps: s.steps.length,
          schedule: s.schedule
            ? `${s.schedule.cron}${s.schedule.timeZone ? ` (${s.schedule.timeZone})` : ""}`
            : "",
          usedBy: (runBy.get(o.metadata.name) ?? []).join(", "),
          ready: ready
            ? ready.status === "True"
              ? ctx.t("c.ready")
              : `${ctx.t("c.notReady")}: ${ready.message}`
            : ctx.t("c.unknown"),
        };
      });
      return send(
        reply,
        runbooksPage(ctx, {
          rows,
          canWrite: can(req, "runbooks:write"),
          notice: (req.query as { done?: string }).done,
        }),
      );
    },
  );

  const showRunbookForm = async (
    req: FastifyRequest,
    reply: FastifyReply,
    p: { isNew: boolean; f: RunbookForm; errors?: FieldError[]; general?: string; status?: number },
  ) => {
    const ctx = await ctxOf(req, reply);
    return send(
      reply,
      runbookFormPage(ctx, {
        isNew: p.isNew,
        f: p.f,
        errors: p.errors ?? [],
        general: p.general,
        secrets: await runbookSecretNames(req),
      }),
      p.status ?? 200,
    );
  };

  app.get(
    "/console/runbooks/new",
    { ...page("runbooks:write"), schema: { hide: true } },
    async (req, reply) => showRunbookForm(req, reply, { isNew: true, f: runbookFormOf("", undefined) }),
  );

  app.get(
    "/console/runbooks/:name",
    { ...page("runbooks:read"), schema: { hide: true, params: Name, querystring: Flash } },
    async (req, reply) => {
      const { o, access } = await runbooks.get(req, req.params.name);
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      const s = o.spec as RunbookSpec;
      const runBy = (await runbooks.runBy()).get(o.metadata.name) ?? [];
      return send(
        reply,
        runbookPage(ctx, {
          name: o.metadata.name,
          summary: [
            [t("c.description"), s.description],
            [t("rb.image"), s.image],
            [t("rb.kerberos"), s.kerberos ? `${s.kerberos.principal} (Secret ${s.kerberos.secretName})` : ""],
            [
              t("rb.schedule"),
              s.schedule
                ? `${s.schedule.cron} ${s.schedule.timeZone ?? "UTC"}${s.schedule.suspend ? " (suspended)" : ""}`
                : "",
            ],
            [t("rb.usedBy"), runBy.join(", ")],
          ],
          steps: stepsOf(s),
          nextRuns: nextRuns(s.schedule, ctx),
          lastRuns: await listScheduledRuns(
            req.server.deps.db,
            req.server.deps.namespace,
            o.metadata.name,
            10,
          ),
          conditions: (
            (
              o.status as
                | { conditions?: { type: string; status: string; reason: string; message: string }[] }
                | undefined
            )?.conditions ?? []
          ).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
          canWrite: access === "write" && can(req, "runbooks:write"),
          notice: (req.query as { done?: string }).done,
        }),
      );
    },
  );

  app.get(
    "/console/runbooks/:name/edit",
    { ...page("runbooks:write"), schema: { hide: true, params: Name } },
    async (req, reply) => {
      const { o } = await runbooks.get(req, req.params.name);
      return showRunbookForm(req, reply, {
        isNew: false,
        f: runbookFormOf(o.metadata.name, o.spec as RunbookSpec),
      });
    },
  );

  const saveRunbook = async (req: FastifyRequest, reply: FastifyReply, isNew: boolean, name?: string) => {
    const b = req.body as FormBody;
    const f = runbookFormOfBody(b);
    if (name) f.name = name;
    if (b.more) return showRunbookForm(req, reply, { isNew, f });
    if (isNew && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(f.name)) {
      return showRunbookForm(req, reply, {
        isNew,
        f,
        errors: [{ field: "name", message: "name: lower-case letters, digits, '-' and '.'" }],
        status: 400,
      });
    }
    const before = name ? ((await runbooks.get(req, name)).o.spec as RunbookSpec) : undefined;
    const built = runbookSpecOfForm(f, before);
    if (!built.spec) return showRunbookForm(req, reply, { isNew, f, errors: built.errors, status: 400 });
    const parsed = RunbookSpecSchema.safeParse(built.spec);
    if (!parsed.success)
      return showRunbookForm(req, reply, {
        isNew,
        f,
        errors: zodErrors(parsed.error.issues, runbookField),
        status: 400,
      });
    if (
      isNew &&
      (await runbooks.get(req, f.name).then(
        () => true,
        () => false,
      ))
    ) {
      return showRunbookForm(req, reply, {
        isNew,
        f,
        errors: [{ field: "name", message: `runbook "${f.name}" already exists` }],
        status: 409,
      });
    }
    try {
      await runbooks.put(req, f.name, parsed.data);
    } catch (err) {
      const msg = messageOf(err);
      if (!msg || statusOf(err) === 404) throw err;
      return showRunbookForm(req, reply, { isNew, f, general: msg, status: statusOf(err) });
    }
    const ctx = await ctxOf(req, reply);
    return redirect(reply, `/console/runbooks/${f.name}`, isNew ? ctx.t("c.created") : ctx.t("c.saved"));
  };

  app.post(
    "/console/runbooks/new",
    { ...page("runbooks:write"), schema: { hide: true, body: Form } },
    async (req, reply) => saveRunbook(req, reply, true),
  );
  app.post(
    "/console/runbooks/:name/edit",
    { ...page("runbooks:write"), schema: { hide: true, params: Name, body: Form } },
    async (req, reply) => saveRunbook(req, reply, false, req.params.name),
  );
  app.post(
    "/console/runbooks/:name/delete",
    { ...page("runbooks:write"), schema: { hide: true, params: Name, body: Form } },
    async (req, reply) => {
      await runbooks.remove(req, req.params.name, false);
      const ctx = await ctxOf(req, reply);
      return redirect(reply, "/console/runbooks", ctx.t("c.deleted", { name: req.params.name }));
    },
  );

  // ---- orders ----
  const OrderQ = Flash.extend({ page: z.coerce.number().int().min(1).optional() });
  app.get(
    "/console/orders",
    { ...page("orders:read"), schema: { hide: true, querystring: OrderQ } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const raw = req.query as Record<string, string | number | undefined>;
      const q: Record<string, string | undefined> = {};
      for (const k of ["phase", "assetType", "requester", "reason", "from", "to"])
        q[k] = typeof raw[k] === "string" && raw[k] ? raw[k] : undefined;
      const all = await filteredOrders(req, q);
      const pages = Math.max(1, Math.ceil(all.length / PAGE));
      const n = Math.min(Number(raw.page ?? 1), pages);
      const csv = new URLSearchParams(Object.entries(q).filter(([, v]) => v) as [string, string][]);
      return send(
        reply,
        ordersListPage(ctx, {
          rows: all.slice((n - 1) * PAGE, n * PAGE).map(rowOf),
          q,
          page: n,
          pages,
          total: all.length,
          phases: [...orderPhases],
          assetTypes: can(req, "assettypes:read")
            ? (await types.list(req)).map((x) => x.metadata.name).sort()
            : [...new Set(all.map((o) => o.spec.assetType))].sort(),
          csv: `/console/orders.csv?${csv.toString()}`,
          notice: typeof raw.done === "string" ? raw.done : undefined,
        }),
      );
    },
  );

  app.get(
    "/console/orders.csv",
    { ...page("orders:read"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const q = req.query as OrderQuery;
      const cols = ["name", "assetType", "action", "phase", "requester", "createdAt", "message"] as const;
      const rows = (await filteredOrders(req, q)).map(rowOf);
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="orders.csv"')
        .send(csvLine(cols) + rows.map((r) => csvLine(cols.map((c) => r[c] ?? ""))).join(""));
    },
  );

  app.get(
    "/console/orders/:name",
    { ...page("orders:read"), schema: { hide: true, params: Name, querystring: Flash } },
    async (req, reply) => {
      const o = await visibleOrder(req, req.params.name);
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      const at = can(req, "assettypes:read")
        ? await types.get(req, o.spec.assetType).catch(() => undefined)
        : undefined;
      const secret = new Set(
        ((at?.o.spec as AssetTypeSpec | undefined)?.attributes ?? [])
          .filter((a) => a.secret)
          .map((a) => a.name),
      );
      const phase = o.status?.phase;
      const action = o.spec.action ?? "Provision";
      const writes = can(req, "orders:write");
      const log = (await orderLogOf(req, o.metadata.name).catch(() => [])).map((l) => ({
        ...l,
        id: `${l.job}:${l.seq}`,
      }));
      const summary: [string, Cell][] = [
        [t("orders.order"), o.metadata.name],
        [
          t("ord.assetType"),
          can(req, "assettypes:read")
            ? {
                __html: `<a href="/console/asset-types/${encodeURIComponent(o.spec.assetType)}">${o.spec.assetType.replace(/[<>&"]/g, "")}</a>`,
              }
            : o.spec.assetType,
        ],
        [t("orders.action"), action],
        [
          t("ord.requester"),
          `${o.spec.requester.displayName ?? ""} <${o.spec.requester.email}> (${o.spec.requester.id})`,
        ],
        [t("ord.placedBy"), (o.metadata.annotations ?? {})["ipsolis.io/placed-by"]],
        ["Target", o.spec.target],
        [t("detail.reason"), o.spec.reason],
        ["Message", o.status?.message],
        [
          t("ord.created"),
          o.metadata.creationTimestamp ? new Date(o.metadata.creationTimestamp).toISOString() : undefined,
        ],
        ...Object.entries(o.spec.attributes ?? {}).map(([k, v]): [string, Cell] => [
          k,
          secret.has(k) ? "••••" : v,
        ]),
      ];
      return send(
        reply,
        consoleOrderPage(ctx, {
          name: o.metadata.name,
          summary,
          phase,
          action,
          conditions: (o.status?.conditions ?? []).map((c) => ({
            type: c.type,
            status: c.status,
            reason: c.reason,
            message: c.message,
            at: c.lastTransitionTime,
          })),
          approvals: (o.spec.approvals ?? []).map((a) => ({
            approver: a.approver,
            decision: a.decision,
            at: a.at,
            comment: a.comment,
          })),
          attempts: [
            ...(o.status?.previousAttempts ?? []).map((a) => ({
              attempt: a.attempt,
              job: a.jobName,
              phase: "Failed",
              message: a.message ?? "",
            })),
            ...(o.status?.jobName
              ? [
                  {
                    attempt: o.status.attempt ?? 1,
                    job: o.status.jobName,
                    phase: phase ?? "",
                    message: o.status.message ?? "",
                  },
                ]
              : []),
          ],
          log,
          isLive: phase === "Processing" || phase === "Scheduled",
          can: {
            cancel: writes && (phase === "PendingApproval" || phase === "Scheduled"),
            retry: writes && decideRetry(o).ok,
            revoke: writes && action === "Provision" && phase === "Provisioned",
            cleanup: writes && needsCleanup(o),
            // The helpdesk's password reset (#22): new generated values, to the person's manager.
            reset:
              can(req, "orders:reset") &&
              action === "Provision" &&
              phase === "Provisioned" &&
              ((at?.o.spec as AssetTypeSpec | undefined)?.attributes ?? []).some((a) => a.generated),
          },
          related: o.spec.target,
          notice: (req.query as { done?: string }).done,
        }),
      );
    },
  );

  for (const verb of ["cancel", "retry", "revoke"] as const) {
    app.post(
      `/console/orders/:name/${verb}`,
      { ...page("orders:write"), schema: { hide: true, params: Name, body: Form.optional() } },
      async (req, reply) => {
        const ctx = await ctxOf(req, reply);
        const name = req.params.name;
        if (verb === "cancel") {
          await cancelOrder(req, name);
          return redirect(reply, `/console/orders/${name}`, ctx.t("ord.cancelled"));
        }
        if (verb === "retry") {
          await retryOrder(req, name);
          return redirect(reply, `/console/orders/${name}`, ctx.t("ord.retried"));
        }
        const r = await revokeOrder(req, name, (req.body as FormBody | undefined)?.reason);
        return redirect(
          reply,
          `/console/orders/${r.order.metadata.name}`,
          ctx.t("ord.revoked", { name: r.order.metadata.name }),
        );
      },
    );
  }

  app.post(
    "/console/orders/:name/reset",
    { ...page("orders:reset"), schema: { hide: true, params: Name, body: Form.optional() } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const m = await resetGenerated(req, req.params.name, {});
      return redirect(
        reply,
        `/console/orders/${m.metadata.name}`,
        ctx.t("ord.resetDone", { name: m.metadata.name }),
      );
    },
  );

  // ---- pool ----
  app.get("/console/pool", { ...page("orders:read"), schema: { hide: true } }, async (req, reply) => {
    const ctx = await ctxOf(req, reply);
    const orders = await listVisibleOrders(req, {});
    const assets = await resourcesOf(req.server.deps).list<
      { assetType: string; order: string; requesterId: string; slot?: number },
      { conditions?: { type: string; status: string }[] }
    >("Asset");
    const pooled = (can(req, "assettypes:read") ? await types.list(req) : []).filter(
      (t) => (t.spec as AssetTypeSpec).assignment.model === "CapacityPooled",
    );
    return send(
      reply,
      poolPage(ctx, {
        types: pooled.map((at) => {
          const s = at.spec as AssetTypeSpec;
          const mine = orders.filter(
            (o) => o.spec.assetType === at.metadata.name && (o.spec.action ?? "Provision") === "Provision",
          );
          // Slots are Asset objects (ADR 0005): one per allocated slot, deleted when returned.
          const slots = assets.filter((a) => a.spec.assetType === at.metadata.name);
          const failed = mine.filter(
            (o) =>
              o.status?.phase === "Failed" && needsCleanup(o as { spec: OrderSpec; status?: OrderStatus }),
          );
          const maintenance = slots.filter((a) =>
            (a.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "False"),
          );
          const total = s.assignment.capacity ?? 0;
          const inUse = slots.length - maintenance.length;
          return {
            name: at.metadata.name,
            displayName: s.displayName,
            inUse,
            failed: failed.length,
            maintenance: maintenance.length,
            total,
            free: Math.max(0, total - slots.length),
            holders: slots.map((a) => ({ order: a.spec.order, who: a.spec.requesterId })),
          };
        }),
      }),
    );
  });

  // ---- leavers ----
  app.get("/console/leavers", { ...page("leavers:read"), schema: { hide: true } }, async (req, reply) => {
    const ctx = await ctxOf(req, reply);
    const events = await listLeaverEvents(req.server.deps.db, 200);
    return send(
      reply,
      leaversPage(ctx, {
        canPlan: can(req, "hr:leaver"),
        rows: events.map((e) => ({
          id: e.id,
          who: e.displayName ? `${e.displayName} (${e.identifier})` : e.identifier,
          effectiveAt: e.effectiveAt.toISOString(),
          state: e.closedAt ? "closed" : e.state,
          reportedBy: `${e.source} · ${e.actor}`,
        })),
      }),
    );
  });

  // The dry run of POST /hr/leaver (dryRun): the same permission (hr:leaver), the same person
  // lookup and the same plan (planFor), changing nothing. A GET form: the URL is the question.
  const PlanQ = z.object({
    who: z.string().trim().max(320).optional(),
    effectiveDate: z.string().max(10).optional(),
  });
  app.get(
    "/console/leavers/plan",
    { ...page("hr:leaver"), schema: { hide: true, querystring: PlanQ } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      const who = req.query.who ?? "";
      const date = req.query.effectiveDate ?? "";
      const errors: FieldError[] = [];
      if (req.query.who !== undefined && who === "")
        errors.push({ field: "who", message: t("lvp.whoRequired") });
      if (date !== "" && !EffectiveDate.safeParse(date).success)
        errors.push({ field: "effectiveDate", message: t("lvp.badDate") });
      if (who === "" || errors.length > 0)
        return send(
          reply,
          leaverPlanPage(ctx, { who, effectiveDate: date, errors }),
          errors.length ? 400 : 200,
        );
      const plan = await leaverPlan(req, [who], date ? new Date(date) : undefined);
      const employee = plan.employee;
      const when = plan.effectiveAt;
      return send(
        reply,
        leaverPlanPage(ctx, {
          who,
          effectiveDate: date,
          errors,
          result: {
            employee: employee ? `${employee.displayName ?? ""} (${employee.userName})`.trim() : undefined,
            effectiveAt: when.toISOString(),
            cancels: plan.cancels,
            revokes: plan.deprovisions.map((d) => ({
              target: d.target,
              assetType: d.assetType,
              deprovisionOrder: d.orderName,
              alreadyQueued: d.alreadyQueued,
            })),
          },
        }),
      );
    },
  );

  app.get(
    "/console/leavers/:id",
    { ...page("leavers:read"), schema: { hide: true, params: Id, querystring: Flash } },
    async (req, reply) => {
      const r = await leaverReportFor(req, req.params.id);
      if (!r) throw new NotFoundError(`leaver event ${req.params.id} not found`);
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      return send(
        reply,
        leaverPage(ctx, {
          id: r.id,
          who: r.displayName ?? r.identifier,
          summary: [
            [t("lv.person"), `${r.displayName ?? ""} ${r.identifier}`],
            [t("lv.effective"), r.effectiveAt],
            [t("lv.state"), r.state],
            [t("lv.reportedBy"), `${r.reportedBy.source} · ${r.reportedBy.actor}`],
            [
              t("c.status"),
              Object.entries(r.summary)
                .map(([k, v]) => `${k} ${v}`)
                .join(", "),
            ],
          ],
          assets: r.assets.map((a) => ({
            target: a.target,
            assetType: a.assetType,
            order: a.deprovisionOrder,
            outcome: a.outcome,
            message: a.message ?? "",
          })),
          systems: r.systems.map((s) => ({
            name: s.name,
            state: t(`lv.sys.${s.state}`),
            counts: t("lv.sysCounts", { revoked: s.revoked, assets: s.assets, failed: s.failed }),
          })),
          plan: [],
          canRetry: can(req, "leavers:write") && r.assets.some((a) => a.outcome === "failed"),
          notice: (req.query as { done?: string }).done,
        }),
      );
    },
  );

  app.post(
    "/console/leavers/:id/retry",
    { ...page("leavers:write"), schema: { hide: true, params: Id, body: Form.optional() } },
    async (req, reply) => {
      const r = await retryLeaver(req.server.deps, req.params.id, {
        actor: principalOf(req).actor,
        source: "portal",
        requestId: req.id,
      });
      if (!r) throw new NotFoundError(`leaver event ${req.params.id} not found`);
      const ctx = await ctxOf(req, reply);
      return redirect(reply, `/console/leavers/${req.params.id}`, ctx.t("lv.retried"));
    },
  );

  // ---- audit ----
  const AuditQ = z.object({
    actor: z.string().max(300).optional(),
    action: z.string().max(100).optional(),
    target: z.string().max(300).optional(),
    order: z.string().max(253).optional(),
    from: z.string().max(40).optional(),
    to: z.string().max(40).optional(),
    cursor: z.string().max(200).optional(),
  });
  app.get(
    "/console/audit",
    { ...page("audit:read"), schema: { hide: true, querystring: AuditQ } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const t = ctx.t;
      const q = req.query;
      const filter = {
        actor: q.actor || undefined,
        action: q.action || undefined,
        target: q.target || undefined,
        order: q.order || undefined,
        from: isoOf(q.from) ? new Date(isoOf(q.from) as string) : undefined,
        to: isoOf(q.to) ? new Date(isoOf(q.to) as string) : undefined,
      };
      let error: string | undefined;
      const result = await searchAudit(req, filter, { limit: 100, cursor: q.cursor || undefined }).catch(
        (err: unknown) => {
          error = messageOf(err);
          if (!error) throw err;
          return { items: [], next: null };
        },
      );
      // The CSV is the API's own export of exactly this filter.
      const csvQ = new URLSearchParams({ format: "csv" });
      for (const k of ["actor", "action", "target", "order"] as const) if (filter[k]) csvQ.set(k, filter[k]);
      if (filter.from) csvQ.set("from", filter.from.toISOString());
      if (filter.to) csvQ.set("to", filter.to.toISOString());
      const chain = await chainStatus(req);
      return send(
        reply,
        auditPage(ctx, {
          rows: result.items,
          q: { ...q },
          next: result.next,
          csv: `/audit?${csvQ.toString()}`,
          chain: chain.check.ok
            ? { ok: true, text: t("au.chainOk", { n: chain.check.count }) }
            : { ok: false, text: t("au.chainBad", { message: chain.check.message }) },
          anchor: chain.lastAnchor
            ? `#${chain.lastAnchor.id} ${chain.lastAnchor.hash.slice(0, 16)}… ${chain.lastAnchor.at}`
            : t("au.noAnchor"),
          error,
        }),
      );
    },
  );

  // The same export under the console (for clients that keep to /console links).
  app.get(
    "/console/audit.csv",
    { ...page("audit:read"), schema: { hide: true, querystring: AuditQ } },
    async (req, reply) => {
      const q = req.query;
      const out = await auditCsv(req, {
        actor: q.actor || undefined,
        action: q.action || undefined,
        target: q.target || undefined,
        order: q.order || undefined,
        from: isoOf(q.from) ? new Date(isoOf(q.from) as string) : undefined,
        to: isoOf(q.to) ? new Date(isoOf(q.to) as string) : undefined,
      });
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="audit.csv"')
        .send(out);
    },
  );

  // ---- cost ----
  const CostQ = Flash.extend({});
  app.get(
    "/console/cost",
    { ...page("cost:read"), schema: { hide: true, querystring: CostQ } },
    async (req, reply) => {
      const ctx = await ctxOf(req, reply);
      const raw = req.query as Record<string, string | undefined>;
      const tz = req.server.deps.config?.IPSOLIS_TIME_ZONE ?? "Europe/Berlin";
      const month = (v: string | undefined) => (v && /^\d{4}-(0[1-9]|1[0-2])$/.test(v) ? v : undefined);
      const now = ctx.now;
      const thisMonth = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
      const back = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 5, 1));
      const from =
        month(raw.from) ?? `${back.getUTCFullYear()}-${String(back.getUTCMonth() + 1).padStart(2, "0")}`;
      const to = month(raw.to);
      let error: string | undefined;
      const report = async (
        groupBy: ("costCenter" | "assetType" | "month")[],
        range: { from?: string; to?: string },
      ) =>
        costReport(req, { groupBy, timeZone: tz, from: range.from, to: range.to }).catch((err: unknown) => {
          error = messageOf(err);
          if (!error) throw err;
          return { rows: [], unpriced: [] as unknown[], from: "", to: "", timeZone: tz, groupBy };
        });
      const byCentre = await report(["costCenter", "month"], { from, to });
      const byType = await report(["assetType", "month"], { from, to });
      const mtd = await report(["costCenter"], { from: thisMonth });
      const months = [...new Set([...byCentre.rows, ...byType.rows].map((r) => r.month ?? ""))]
        .filter(Boolean)
        .sort();
      const currency = byCentre.rows[0]?.currency ?? "EUR";
      const seriesOf = (rows: typeof byCentre.rows, key: "costCenter" | "assetType"): Series[] => {
        const names = [...new Set(rows.map((r) => r[key] ?? ""))].sort();
        return names.map((n) => ({
          name: n,
          values: months.map((m) =>
            rows.filter((r) => r[key] === n && r.month === m).reduce((s, r) => s + Number(r.amount), 0),
          ),
        }));
      };
      const money = (n: number | string, cur = currency) => formatMoney(n, cur, ctx.lang);
      const thresholds = await costThresholds(req);
      const th = new Map(thresholds.map((x) => [x.costCenter, x]));
      // The month's projection: month to date, scaled to the whole month.
      const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).getTime();
      const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).getTime();
      const share = Math.max(1e-6, (now.getTime() - start) / (end - start));
      const csvOf = (groupBy: string) =>
        `/cost?${new URLSearchParams({ format: "csv", groupBy, from, ...(to ? { to } : {}), timeZone: tz }).toString()}`;
      return send(
        reply,
        costPage(ctx, {
          q: { from, to },
          months,
          centreSeries: seriesOf(byCentre.rows, "costCenter"),
          typeSeries: seriesOf(byType.rows, "assetType"),
          centreRows: byCentre.rows.map((r) => [
            r.costCenter,
            r.month,
            money(r.amount, r.currency),
            r.orders,
          ]),
          typeRows: byType.rows.map((r) => [r.assetType, r.month, money(r.amount, r.currency), r.orders]),
          mtd: mtd.rows.map((r) => {
            const limit = th.get(r.costCenter ?? "");
            return {
              costCenter: r.costCenter ?? "",
              amount: money(r.amount, r.currency),
              projection: money(Number(r.amount) / share, r.currency),
              threshold: limit ? money(limit.amount, limit.currency) : "—",
              over: limit !== undefined && Number(r.amount) > Number(limit.amount),
            };
          }),
          format: (n) => money(n),
          csvCentre: csvOf("costCenter,month"),
          csvType: csvOf("assetType,month"),
          thresholds,
          canSetThreshold: can(req, "settings:write"),
          unpriced: new Set((byCentre.unpriced as { assetType?: string }[]).map((u) => u.assetType ?? ""))
            .size,
          notice: raw.done,
          error,
        }),
      );
    },
  );

  app.post(
    "/console/cost/thresholds",
    { ...page("settings:write"), schema: { hide: true, body: Form } },
    async (req, reply) => {
      const b = req.body as FormBody;
      const amount = (b.amount ?? "").trim();
      const currency = (b.currency ?? "").trim().toUpperCase();
      const costCenter = (b.costCenter ?? "").trim();
      if (!costCenter || costCenter.length > 100) throw new InputError("cost centre: 1 to 100 characters");
      if (!/^\d{1,12}(\.\d{1,2})?$/.test(amount))
        throw new InputError("amount: a decimal amount like 1000.00");
      if (!/^[A-Z]{3}$/.test(currency)) throw new InputError("currency: an ISO 4217 code like EUR");
      await setThreshold(req, { costCenter, amount, currency });
      const ctx = await ctxOf(req, reply);
      return redirect(reply, "/console/cost", ctx.t("cost.thresholdSaved"));
    },
  );

  // ---- admin users ----
  const showUsers = async (
    req: FastifyRequest,
    reply: FastifyReply,
    p: {
      errors?: FieldError[];
      form?: { username: string; email: string; role: string };
      notice?: string;
      error?: string;
      status?: number;
    } = {},
  ) => {
    const ctx = await ctxOf(req, reply);
    const users = await listAdminUsers(req);
    const withGrants = [];
    for (const u of users)
      withGrants.push({ ...u, grants: u.role === "admin" ? await grantsOf(req, u.id) : [] });
    return send(
      reply,
      usersPage(ctx, {
        users: withGrants,
        roles: ROLES,
        errors: p.errors ?? [],
        form: p.form ?? { username: "", email: "", role: "helpdesk" },
        notice: p.notice,
        error: p.error,
      }),
      p.status ?? 200,
    );
  };
  app.get(
    "/console/users",
    { ...page("users:admin"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => showUsers(req, reply, { notice: (req.query as { done?: string }).done }),
  );
  app.post(
    "/console/users",
    { ...page("users:admin"), schema: { hide: true, body: Form } },
    async (req, reply) => {
      const b = req.body as FormBody;
      const form = { username: (b.username ?? "").trim(), email: (b.email ?? "").trim(), role: b.role ?? "" };
      const errors: FieldError[] = [];
      if (!/^[a-z0-9][a-z0-9._@-]{1,63}$/.test(form.username))
        errors.push({
          field: "username",
          message: "username: 2-64 lower-case letters, digits, '.', '_', '-' or '@'",
        });
      if (form.email && !z.email().safeParse(form.email).success)
        errors.push({ field: "email", message: "e-mail: not a valid address" });
      if (!(ROLES as readonly string[]).includes(form.role))
        errors.push({ field: "role", message: "role: choose one" });
      if (errors.length > 0) return showUsers(req, reply, { errors, form, status: 400 });
      try {
        await createAdminUser(req, {
          username: form.username,
          email: form.email || undefined,
          role: form.role as AdminRole,
          password: b.password ?? "",
        });
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return showUsers(req, reply, {
          errors: [{ field: statusOf(err) === 409 ? "username" : "password", message: msg }],
          form,
          status: statusOf(err),
        });
      }
      return redirect(reply, "/console/users", (await ctxOf(req, reply)).t("c.created"));
    },
  );
  const userAction = (
    verb: string,
    run: (req: FastifyRequest, id: string, b: FormBody) => Promise<unknown>,
  ) =>
    app.post(
      `/console/users/:id/${verb}`,
      { ...page("users:admin"), schema: { hide: true, params: Id, body: Form.optional() } },
      async (req, reply) => {
        try {
          await run(req, req.params.id, (req.body as FormBody | undefined) ?? {});
        } catch (err) {
          const msg = messageOf(err);
          if (!msg || statusOf(err) === 404) throw err;
          return showUsers(req, reply, { error: msg, status: statusOf(err) });
        }
        return redirect(
          reply,
          "/console/users",
          (await ctxOf(req, reply)).t(verb === "unlock" ? "usr.lockoutDone" : "c.saved"),
        );
      },
    );
  userAction("role", async (req, id, b) => {
    if (!(ROLES as readonly string[]).includes(b.role ?? "")) throw new InputError("role: choose one");
    await updateAdminUser(req, id, { role: b.role as AdminRole });
  });
  userAction("disable", (req, id) => updateAdminUser(req, id, { disabled: true }));
  userAction("enable", (req, id) => updateAdminUser(req, id, { disabled: false }));
  userAction("unlock", (req, id) => unlockAdminUser(req, id));
  userAction("grants", (req, id, b) => setGrants(req, id, { assetTypes: lines(b.assetTypes) }));

  // ---- API tokens ----
  const showTokens = async (
    req: FastifyRequest,
    reply: FastifyReply,
    p: {
      minted?: { name: string; token: string };
      errors?: FieldError[];
      form?: { name: string; role: string; scopes: string; expiresAt: string };
      notice?: string;
      error?: string;
      status?: number;
    } = {},
  ) => {
    const ctx = await ctxOf(req, reply);
    return send(
      reply,
      tokensPage(ctx, {
        tokens: await listTokens(req),
        roles: ROLES,
        minted: p.minted,
        errors: p.errors ?? [],
        form: p.form ?? { name: "", role: "helpdesk", scopes: "", expiresAt: "" },
        notice: p.notice,
        error: p.error,
      }),
      p.status ?? 200,
    );
  };
  app.get(
    "/console/tokens",
    { ...page("tokens:write"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => showTokens(req, reply, { notice: (req.query as { done?: string }).done }),
  );
  app.post(
    "/console/tokens",
    { ...page("tokens:write"), schema: { hide: true, body: Form } },
    async (req, reply) => {
      const b = req.body as FormBody;
      const form = {
        name: (b.name ?? "").trim(),
        role: b.role ?? "",
        scopes: b.scopes ?? "",
        expiresAt: b.expiresAt ?? "",
      };
      const errors: FieldError[] = [];
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(form.name))
        errors.push({ field: "name", message: "name: 1-63 lower-case letters, digits, '.', '_' or '-'" });
      if (!(ROLES as readonly string[]).includes(form.role))
        errors.push({ field: "role", message: "role: choose one" });
      const scopes = form.scopes.split(/[\s,]+/).filter(Boolean);
      const { isScope } = await import("../../api/policy/permissions.ts");
      const bad = scopes.filter((s) => !isScope(s));
      if (scopes.length === 0 || bad.length > 0)
        errors.push({
          field: "scopes",
          message:
            bad.length > 0
              ? `unknown scope: ${bad.join(", ")} (a permission such as orders:read, <area>:* or admin:*)`
              : "scopes: at least one",
        });
      const expiresAt = form.expiresAt ? isoOf(form.expiresAt) : undefined;
      if (form.expiresAt && !expiresAt)
        errors.push({ field: "expiresAt", message: "expiry: not a date and time" });
      if (errors.length > 0) return showTokens(req, reply, { errors, form, status: 400 });
      try {
        const made = await mintToken(req, {
          name: form.name,
          role: form.role as AdminRole,
          scopes,
          expiresAt: expiresAt ? new Date(expiresAt) : undefined,
        });
        // Shown once, on this response only (never stored for a later page).
        return showTokens(req, reply, { minted: { name: made.name, token: made.token }, status: 201 });
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return showTokens(req, reply, {
          errors: [{ field: "role", message: msg }],
          form,
          status: statusOf(err),
        });
      }
    },
  );
  app.post(
    "/console/tokens/:id/revoke",
    { ...page("tokens:write"), schema: { hide: true, params: Id, body: Form.optional() } },
    async (req, reply) => {
      const r = await revokeToken(req, req.params.id);
      return redirect(
        reply,
        "/console/tokens",
        (await ctxOf(req, reply)).t("tok.revokedDone", { name: r.token.name }),
      );
    },
  );

  // ---- settings ----
  const showSettings = async (
    req: FastifyRequest,
    reply: FastifyReply,
    p: { errors?: FieldError[]; notice?: string; status?: number } = {},
  ) => {
    const ctx = await ctxOf(req, reply);
    const c = req.server.deps.config ?? {};
    return send(
      reply,
      settingsPage(ctx, {
        settings: await securitySettingsOf(req),
        channels: [
          { name: ctx.t("set.channelEmail"), configured: Boolean(c.IPSOLIS_SMTP_HOST) },
          { name: ctx.t("set.channelTeams"), configured: Boolean(c.IPSOLIS_TEAMS_WEBHOOK_URL) },
          { name: ctx.t("set.channelWebhook"), configured: Boolean(c.IPSOLIS_NOTIFY_WEBHOOK_URL) },
        ],
        errors: p.errors ?? [],
        notice: p.notice,
      }),
      p.status ?? 200,
    );
  };
  app.get(
    "/console/settings",
    { ...page("settings:write"), schema: { hide: true, querystring: Flash } },
    async (req, reply) => showSettings(req, reply, { notice: (req.query as { done?: string }).done }),
  );
  app.post(
    "/console/settings",
    { ...page("settings:write"), schema: { hide: true, body: Form } },
    async (req, reply) => {
      const b = req.body as FormBody;
      const parsed = SecuritySettings.safeParse(
        Object.fromEntries(
          Object.keys(SecuritySettings.shape).map((k) => [
            k,
            b[k] === undefined || b[k] === "" ? undefined : Number(b[k]),
          ]),
        ),
      );
      if (!parsed.success)
        return showSettings(req, reply, {
          errors: zodErrors(parsed.error.issues, (p) => p || "passwordMinLength"),
          status: 400,
        });
      await changeSecuritySettings(req, parsed.data);
      return redirect(reply, "/console/settings", (await ctxOf(req, reply)).t("c.saved"));
    },
  );
};
