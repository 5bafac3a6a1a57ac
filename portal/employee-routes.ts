// Employee pages: My IT, orders, the order page, cancel and return, the catalogue, the order
// form with its confirmation step, approvals, delegation and the leaver page.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AssetTypeSpec } from "../crds/generated/assettype.ts";
import { checkOrderForm, MAX_ATTRIBUTE_LENGTH } from "../api/policy/order-form.ts";
import {
  approvalInbox,
  assetTypeOf,
  canModify,
  cancelOrder,
  catalogueOf,
  currentAttributes,
  isRetryable,
  modifyOrder,
  retryOrder,
  createProvisionOrder,
  decideAsMe,
  displayNameOf,
  endMyDelegation,
  isCancellable,
  myDelegations,
  openDraft,
  orderableAssetType,
  orderLogOf,
  ordersOfPerson,
  pageOf,
  personOf,
  principalOf,
  recipientOf,
  resetGenerated,
  returnAsset,
  returnOrderOf,
  sealDraft,
  setMyDeputy,
  visibleOrder,
  type AssetTypeCr,
  type OrderCr,
  type Person,
} from "../api/portal/index.ts";
import { ctxOf, send } from "./context.ts";
import { formatMoney, leaseMonths } from "./format.ts";
import type { Ctx, FieldError } from "./layout.ts";
import { homePage, ordersPage, type Holding, type OrderRow } from "./pages/home.ts";
import {
  cataloguePage,
  orderConfirmPage,
  orderFormPage,
  type CatalogueAttribute,
  type CatalogueCard,
} from "./pages/catalogue.ts";
import { changePage, orderPage, type TimelineEntry } from "./pages/order.ts";
import type { AttributeProblem } from "../api/policy/order-form.ts";
import { approvalsPage, blockedPage, delegationPage } from "./pages/approvals.ts";
import { Form, messageOf, staffInstead, statusOf } from "./routes.ts";

const Name = z.object({ name: z.string().min(1).max(253) });
const OPEN = ["PendingApproval", "Scheduled", "Processing"];

/** A readable label from an attribute name ("costCentre" → "Cost centre"). */
function labelOf(name: string): string {
  const words = name
    .replace(/_/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The form check's problems as messages next to their fields, in the reader's language. */
function fieldErrorsOf(ctx: Ctx, attrs: CatalogueAttribute[], problems: AttributeProblem[]): FieldError[] {
  return problems.map((pr) => {
    const a = attrs.find((x) => x.name === pr.attribute);
    const label = a?.label ?? pr.attribute;
    const message =
      pr.reason === "Required"
        ? ctx.t("field.required", { label })
        : pr.reason === "NotNumber"
          ? ctx.t("field.number", { label })
          : pr.reason === "NotInteger"
            ? ctx.t("field.integer", { label })
            : pr.reason === "NotInEnum"
              ? ctx.t("field.enum", { label })
              : pr.reason === "NotBoolean"
                ? ctx.t("field.boolean", { label })
                : pr.reason === "Unknown"
                  ? ctx.t("field.unknown", { label })
                  : ctx.t("field.tooLong", { label, max: MAX_ATTRIBUTE_LENGTH });
    return { field: `attr_${pr.attribute}`, message };
  });
}

/** The fields a requester fills in: those that follow the employee record are filled by the API. */
function attributesOf(spec: AssetTypeSpec): CatalogueAttribute[] {
  return (spec.attributes ?? [])
    .filter((a) => !a.fromEmployee && !a.generated)
    .map((a) => ({
      name: a.name,
      label: labelOf(a.name),
      type: a.type,
      enum: a.enum,
      required: a.required ?? false,
      secret: a.secret ?? false,
      help: a.description,
    }));
}

async function approvalWords(
  req: FastifyRequest,
  ctx: Ctx,
  spec: AssetTypeSpec,
  person?: Person,
): Promise<string> {
  const a = spec.approval;
  if (a.policy === "None") return ctx.t("catalogue.approval.None");
  if (a.policy === "Manager") {
    const m = person?.manager;
    return m
      ? ctx.t("catalogue.approval.Manager", { manager: m.displayName ?? m.email })
      : ctx.t("catalogue.approval.ManagerUnknown");
  }
  const names = [];
  for (const n of a.approvers ?? [])
    names.push((n.includes("@") ? await displayNameOf(req, n) : undefined) ?? n);
  return ctx.t("catalogue.approval.Approvers", {
    quorum: a.quorum ?? 1,
    count: names.length,
    names: names.join(", "),
  });
}

async function cardOf(
  req: FastifyRequest,
  ctx: Ctx,
  at: AssetTypeCr,
  person?: Person,
): Promise<CatalogueCard> {
  const s = at.spec;
  const months = leaseMonths(s.leaseDuration);
  return {
    name: at.metadata.name,
    displayName: s.displayName,
    category: s.category,
    description: s.description,
    cost: ctx.t("common.perMonth", { amount: formatMoney(s.cost.amountPerMonth, s.cost.currency, ctx.lang) }),
    projection: months
      ? ctx.t("catalogue.projection", {
          amount: formatMoney(Number(s.cost.amountPerMonth) * months, s.cost.currency, ctx.lang),
          months,
        })
      : undefined,
    approval: await approvalWords(req, ctx, s, person),
    attributes: attributesOf(s),
    fromRecord: (s.attributes ?? []).filter((a) => a.fromEmployee).map((a) => labelOf(a.name)),
  };
}

function rowOf(o: OrderCr, names: Map<string, string>): OrderRow {
  return {
    name: o.metadata.name,
    what: names.get(o.spec.assetType) ?? o.spec.assetType,
    action: o.spec.action ?? "Provision",
    phase: o.status?.phase,
    createdAt: o.metadata.creationTimestamp,
    canCancel: isCancellable(o),
    message: o.status?.message,
  };
}

async function typeNames(req: FastifyRequest): Promise<Map<string, AssetTypeSpec>> {
  // The catalogue the person sees plus any type their orders name (an order outlives entitlement).
  return new Map((await catalogueOf(req)).map((a) => [a.metadata.name, a.spec]));
}

export const employeeRoutes: FastifyPluginAsyncZod = async (app) => {
  const Flash = z.object({
    done: z.string().max(300).optional(),
    page: z.coerce.number().int().min(1).optional(),
  });

  async function home(
    req: FastifyRequest,
    reply: FastifyReply,
    msg: { notice?: string; error?: string; status?: number } = {},
  ) {
    const staff = await staffInstead(req, reply);
    if (staff) return staff;
    const person = await personOf(req);
    const ctx = await ctxOf(req, reply);
    const orders = await ordersOfPerson(req, person.email);
    const types = await typeNames(req);
    for (const o of orders)
      if (!types.has(o.spec.assetType)) {
        const at = await assetTypeOf(req, o.spec.assetType);
        if (at) types.set(at.metadata.name, at.spec);
      }
    const names = new Map([...types].map(([k, v]) => [k, v.displayName]));
    const returns = new Map(
      orders.filter((o) => o.spec.action === "Deprovision" && o.spec.target).map((o) => [o.spec.target!, o]),
    );
    const holdings: Holding[] = [];
    let total = 0;
    let currency: string | undefined;
    for (const o of orders) {
      if ((o.spec.action ?? "Provision") !== "Provision" || o.status?.phase !== "Provisioned") continue;
      const spec = types.get(o.spec.assetType);
      const r = returns.get(o.metadata.name);
      if (spec) {
        total += Number(spec.cost.amountPerMonth);
        currency ??= spec.cost.currency;
      }
      holdings.push({
        order: o.metadata.name,
        what: names.get(o.spec.assetType) ?? o.spec.assetType,
        grantedAt: o.status?.provisionedAt ?? o.metadata.creationTimestamp,
        cost: spec
          ? ctx.t("common.perMonth", {
              amount: formatMoney(spec.cost.amountPerMonth, spec.cost.currency, ctx.lang),
            })
          : undefined,
        returning: r !== undefined && r.status?.phase !== "Failed",
        canReturn: r === undefined,
      });
    }
    const open = orders.filter((o) => o.status?.phase === undefined || OPEN.includes(o.status.phase));
    const failed = orders.filter((o) => o.status?.phase === "Failed").slice(0, 5);
    return send(
      reply,
      homePage(ctx, {
        name: person.displayName,
        holdings,
        open: open.map((o) => rowOf(o, names)),
        failed: failed.map((o) => rowOf(o, names)),
        total: currency && holdings.length > 1 ? formatMoney(total, currency, ctx.lang) : undefined,
        notice: msg.notice,
        error: msg.error,
      }),
      msg.status ?? 200,
    );
  }

  app.get(
    "/portal",
    { config: { permission: "self" }, schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const ctxT = (await ctxOf(req, reply, { nav: false })).t;
      return home(
        req,
        reply,
        req.query.done ? { notice: ctxT("order.placed", { name: req.query.done }) } : {},
      );
    },
  );

  app.get(
    "/portal/orders",
    { config: { permission: "orders:read" }, schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const staff = await staffInstead(req, reply);
      if (staff) return staff;
      const p = principalOf(req);
      const ctx = await ctxOf(req, reply);
      const all = await ordersOfPerson(req, p.email!);
      const types = await typeNames(req);
      const names = new Map([...types].map(([k, v]) => [k, v.displayName]));
      const pg = pageOf(all, req.query.page ?? 1, 20);
      return send(
        reply,
        ordersPage(ctx, { rows: pg.items.map((o) => rowOf(o, names)), page: pg.page, pages: pg.pages }),
      );
    },
  );

  async function orderView(
    req: FastifyRequest,
    reply: FastifyReply,
    name: string,
    msg: { notice?: string; error?: string; status?: number } = {},
  ) {
    const staff = await staffInstead(req, reply);
    if (staff) return staff;
    const o = await visibleOrder(req, name);
    const ctx = await ctxOf(req, reply);
    const t = ctx.t;
    const at = await assetTypeOf(req, o.spec.assetType);
    const what = at?.spec.displayName ?? o.spec.assetType;
    const phase = o.status?.phase;
    const timeline: TimelineEntry[] = [
      {
        tone: "ok",
        text: t("detail.requested", { name: o.spec.requester.displayName ?? o.spec.requester.email }),
        at: o.metadata.creationTimestamp,
      },
    ];
    for (const a of o.spec.approvals ?? [])
      timeline.push({
        tone: a.decision === "Approved" ? "ok" : "bad",
        text: t(a.decision === "Approved" ? "detail.approved" : "detail.declined", {
          name: (a.approver.includes("@") ? await displayNameOf(req, a.approver) : undefined) ?? a.approver,
        }),
        at: a.at,
        detail: a.comment,
      });
    if (phase === "PendingApproval" && at)
      timeline.push({
        tone: "wait",
        text: t("detail.waitingFor", { who: await approvalWords(req, ctx, at.spec, await personOf(req)) }),
      });
    if (o.spec.cancelRequested && phase !== "Cancelled")
      timeline.push({ tone: "wait", text: t("detail.cancelRequested") });
    if (phase === "Scheduled") timeline.push({ tone: "wait", text: t("detail.scheduled") });
    for (const s of o.status?.steps ?? [])
      timeline.push({
        tone:
          s.state === "Succeeded"
            ? "ok"
            : s.state === "Failed"
              ? "bad"
              : s.state === "Skipped"
                ? "off"
                : "wait",
        text: t("detail.step", { name: s.name, state: t(`step.${s.state}`) }),
        at: s.finishedAt ?? s.startedAt,
        detail: [s.attempts && s.attempts > 1 ? t("detail.attempts", { n: s.attempts }) : "", s.message ?? ""]
          .filter(Boolean)
          .join(" · "),
      });
    if (phase === "Provisioned")
      timeline.push({ tone: "ok", text: t("detail.provisioned"), at: o.status?.provisionedAt });
    if (phase === "Failed")
      timeline.push({ tone: "bad", text: t("detail.failed", { message: o.status?.message ?? "" }) });
    if (phase === "Cancelled") timeline.push({ tone: "off", text: t("detail.cancelled") });
    if (phase === "Revoked")
      timeline.push({ tone: "off", text: t("detail.revoked"), at: o.status?.revokedAt });
    const ret =
      (o.spec.action ?? "Provision") === "Provision" ? await returnOrderOf(req, o.metadata.name) : undefined;
    const secret = new Set((at?.spec.attributes ?? []).filter((a) => a.secret).map((a) => a.name));
    const canChange = ret === undefined && (await canModify(req, o));
    // Reset password (#22): only where the type generates a value; without a manager in the
    // directory nobody could receive it, so the page says whom to ask instead of a button.
    const generates = canChange && (at?.spec.attributes ?? []).some((a) => a.generated);
    // Who would receive a new value now: the same check the reset itself makes.
    const recipient = generates ? await recipientOf(req.server.deps.db, o.spec.requester) : undefined;
    const log = (await orderLogOf(req, o.metadata.name)).map((l) => ({
      id: `${l.job}:${l.seq}`,
      kind: l.kind,
      step: l.step,
      stream: l.stream,
      text: l.text,
      state: l.state,
      exitCode: l.exitCode,
    }));
    return send(
      reply,
      orderPage(ctx, {
        name: o.metadata.name,
        what,
        action: o.spec.action ?? "Provision",
        phase,
        message: phase === "Failed" ? undefined : o.status?.message,
        attributes: Object.entries(currentAttributes(o) ?? {}).map(([k, v]) => ({
          label: labelOf(k),
          value: secret.has(k) ? t("order.secretHidden") : v,
        })),
        reason: o.spec.reason,
        timeline,
        log,
        isLive:
          phase === undefined ||
          OPEN.includes(phase) ||
          (o.spec.cancelRequested === true && phase !== "Cancelled"),
        canCancel: isCancellable(o),
        canReturn:
          phase === "Provisioned" && (o.spec.action ?? "Provision") === "Provision" && ret === undefined,
        returning: ret?.metadata.name,
        canChange,
        resetHelp: !recipient
          ? undefined
          : recipient.ok
            ? t("secrets.resetHelp", { manager: recipient.name })
            : recipient.reason === "ManagerInactive"
              ? t("secrets.resetManagerInactive", { manager: recipient.name })
              : t("secrets.resetNoManager"),
        canReset: recipient?.ok === true,
        canRetry: isRetryable(o),
        modifiedBy: o.status?.modifiedBy,
        notice: msg.notice,
        error: msg.error,
      }),
      msg.status ?? 200,
    );
  }

  app.get(
    "/portal/orders/:name",
    {
      config: { permission: "orders:read" },
      schema: { hide: true, params: Name, querystring: z.object({ reset: z.literal("1").optional() }) },
    },
    async (req, reply) =>
      orderView(
        req,
        reply,
        req.params.name,
        req.query.reset ? { notice: (await ctxOf(req, reply, { nav: false })).t("secrets.resetDone") } : {},
      ),
  );

  // Reset password (#22): new generated values of my asset, delivered to my manager.
  app.post(
    "/portal/orders/:name/reset",
    {
      config: { permission: "orders:write" },
      schema: { hide: true, params: Name, body: Form({}).optional() },
    },
    async (req, reply) => {
      try {
        const made = await resetGenerated(req, req.params.name, {});
        return reply.redirect(`/portal/orders/${made.metadata.name}?reset=1`, 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || statusOf(err) === 404) throw err;
        return orderView(req, reply, req.params.name, { error: msg, status: statusOf(err) });
      }
    },
  );

  for (const verb of ["cancel", "return"] as const)
    app.post(
      `/portal/orders/:name/${verb}`,
      {
        config: { permission: "orders:write" },
        schema: { hide: true, params: Name, body: Form({}).optional() },
      },
      async (req, reply) => {
        try {
          if (verb === "cancel") await cancelOrder(req, req.params.name);
          else {
            const r = await returnAsset(req, req.params.name);
            return reply.redirect(`/portal/orders/${r.metadata.name}`, 303);
          }
          return reply.redirect(`/portal/orders/${req.params.name}`, 303);
        } catch (err) {
          const msg = messageOf(err);
          if (!msg || statusOf(err) === 404) throw err;
          return orderView(req, reply, req.params.name, { error: msg, status: statusOf(err) });
        }
      },
    );

  // Change (#19): the form, prefilled with the asset's current non-secret values.
  async function changeView(
    req: FastifyRequest,
    reply: FastifyReply,
    name: string,
    state: {
      values?: Record<string, string>;
      reason?: string;
      errors?: FieldError[];
      general?: string;
      status?: number;
    } = {},
  ) {
    const staff = await staffInstead(req, reply);
    if (staff) return staff;
    const o = await visibleOrder(req, name);
    const ctx = await ctxOf(req, reply);
    const at = await assetTypeOf(req, o.spec.assetType);
    const attrs = at ? attributesOf(at.spec) : [];
    const secret = new Set(attrs.filter((a) => a.secret).map((a) => a.name));
    const current = Object.fromEntries(
      Object.entries(currentAttributes(o) ?? {}).filter(([k]) => !secret.has(k)),
    );
    return send(
      reply,
      changePage(ctx, {
        name: o.metadata.name,
        what: at?.spec.displayName ?? o.spec.assetType,
        attributes: attrs,
        values: state.values ?? current,
        reason: state.reason ?? "",
        errors: state.errors ?? [],
        general: state.general,
      }),
      state.status ?? 200,
    );
  }

  app.get(
    "/portal/orders/:name/change",
    { config: { permission: "orders:write" }, schema: { hide: true, params: Name } },
    async (req, reply) => changeView(req, reply, req.params.name),
  );

  app.post(
    "/portal/orders/:name/change",
    {
      config: { permission: "orders:write" },
      schema: {
        hide: true,
        params: Name,
        // Attribute fields arrive as attr_<name>; an empty one keeps its current value.
        body: Form({ reason: z.string().max(1024).optional() }).catchall(z.string().max(4000)),
      },
    },
    async (req, reply) => {
      const staff = await staffInstead(req, reply);
      if (staff) return staff;
      const name = req.params.name;
      const body = req.body as Record<string, string | undefined>;
      const reason = (body.reason ?? "").trim();
      const given: Record<string, string> = {};
      for (const [k, v] of Object.entries(body))
        if (k.startsWith("attr_") && v !== undefined && v !== "") given[k.slice(5)] = v;
      const o = await visibleOrder(req, name);
      const at = await assetTypeOf(req, o.spec.assetType);
      const ctx = await ctxOf(req, reply);
      const attrs = at ? attributesOf(at.spec) : [];
      const secret = new Set(attrs.filter((a) => a.secret).map((a) => a.name));
      const refill = Object.fromEntries(Object.entries(given).filter(([k]) => !secret.has(k)));
      // The form's localised messages come from the same checkAttribute rules the service runs.
      const check = checkOrderForm(at?.spec.attributes ?? [], { ...(currentAttributes(o) ?? {}), ...given });
      if (!check.ok) {
        return changeView(req, reply, name, {
          values: refill,
          reason,
          errors: fieldErrorsOf(ctx, attrs, check.problems),
          status: 422,
        });
      }
      try {
        const made = await modifyOrder(req, name, { attributes: given, ...(reason ? { reason } : {}) });
        return reply.redirect(`/portal/orders/${made.metadata.name}`, 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || statusOf(err) === 404) throw err;
        const general =
          err instanceof Error && "reason" in err && err.reason === "NoChange"
            ? ctx.t("change.nothing")
            : msg;
        return changeView(req, reply, name, { values: refill, reason, general, status: statusOf(err) });
      }
    },
  );

  app.post(
    "/portal/orders/:name/retry",
    {
      config: { permission: "orders:write" },
      schema: { hide: true, params: Name, body: Form({}).optional() },
    },
    async (req, reply) => {
      const staff = await staffInstead(req, reply);
      if (staff) return staff;
      try {
        await retryOrder(req, req.params.name);
        return reply.redirect(`/portal/orders/${req.params.name}`, 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || statusOf(err) === 404) throw err;
        return orderView(req, reply, req.params.name, { error: msg, status: statusOf(err) });
      }
    },
  );

  app.get(
    "/portal/catalogue",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        querystring: z.object({
          q: z.string().max(200).optional(),
          category: z.string().max(200).optional(),
        }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const ctx = await ctxOf(req, reply);
      const person = p.role === "employee" ? await personOf(req) : undefined;
      const all = await catalogueOf(req);
      const q = (req.query.q ?? "").trim().toLowerCase();
      const category = req.query.category ?? "";
      const shown = all.filter(
        (a) =>
          (!category || a.spec.category === category) &&
          (!q ||
            `${a.spec.displayName} ${a.spec.description ?? ""} ${a.spec.category}`.toLowerCase().includes(q)),
      );
      const cards = [];
      for (const a of shown) cards.push(await cardOf(req, ctx, a, person));
      return send(
        reply,
        cataloguePage(ctx, {
          cards,
          categories: [...new Set(all.map((a) => a.spec.category))].sort(),
          q: req.query.q ?? "",
          category,
          canOrder: p.role === "employee",
          blocked: person?.isBlocked ?? false,
        }),
      );
    },
  );

  const TypeParams = z.object({ type: z.string().min(1).max(253) });

  /** Employees who may order at all; a leaver is sent to the page that says why. */
  async function orderer(req: FastifyRequest, reply: FastifyReply): Promise<Person | FastifyReply> {
    const staff = await staffInstead(req, reply);
    if (staff) return staff;
    const person = await personOf(req);
    if (person.isBlocked)
      return send(
        reply,
        blockedPage(await ctxOf(req, reply), {
          manager: person.manager?.displayName ?? person.manager?.email,
        }),
        409,
      );
    return person;
  }

  app.get(
    "/portal/catalogue/:type/order",
    { config: { permission: "orders:write" }, schema: { hide: true, params: TypeParams } },
    async (req, reply) => {
      const who = await orderer(req, reply);
      if (!("email" in who)) return who;
      const at = await orderableAssetType(req, req.params.type);
      const ctx = await ctxOf(req, reply);
      return send(
        reply,
        orderFormPage(ctx, { card: await cardOf(req, ctx, at, who), values: {}, reason: "", errors: [] }),
      );
    },
  );

  app.post(
    "/portal/catalogue/:type/order",
    {
      config: { permission: "orders:write" },
      schema: {
        hide: true,
        params: TypeParams,
        // Attribute fields arrive as attr_<name> (the AssetType's attribute names).
        body: Form({
          step: z.enum(["review", "edit", "confirm"]),
          reason: z.string().max(2000).optional(),
          sealed: z.string().max(20_000).optional(),
        }).catchall(z.string().max(4000)),
      },
    },
    async (req, reply) => {
      const who = await orderer(req, reply);
      if (!("email" in who)) return who;
      const at = await orderableAssetType(req, req.params.type);
      const ctx = await ctxOf(req, reply);
      const card = await cardOf(req, ctx, at, who);
      const body = req.body as Record<string, string | undefined>;
      let values: Record<string, string> = {};
      let reason = (body.reason ?? "").trim();
      if (body.step === "review") {
        for (const [k, v] of Object.entries(body))
          if (k.startsWith("attr_") && v !== undefined) values[k.slice(5)] = v;
      } else {
        const d = openDraft(req, body.sealed ?? "", at.metadata.name);
        values = d.values;
        reason = d.reason;
      }
      const check = checkOrderForm(at.spec.attributes ?? [], values);
      const secretNames = new Set(card.attributes.filter((a) => a.secret).map((a) => a.name));
      const refill = Object.fromEntries(Object.entries(values).filter(([k]) => !secretNames.has(k)));
      if (!check.ok || body.step === "edit") {
        const errors: FieldError[] = check.ok ? [] : fieldErrorsOf(ctx, card.attributes, check.problems);
        return send(
          reply,
          orderFormPage(ctx, { card, values: refill, reason, errors }),
          errors.length ? 422 : 200,
        );
      }
      if (body.step === "review") {
        return send(
          reply,
          orderConfirmPage(ctx, {
            card,
            reason,
            values: refill,
            sealed: sealDraft(req, { assetType: at.metadata.name, values, reason }),
            shown: card.attributes.map((a) => ({
              label: a.label,
              value:
                check.attributes[a.name] === undefined
                  ? ctx.t("order.notEntered")
                  : a.secret
                    ? ctx.t("order.secretHidden")
                    : a.type === "boolean"
                      ? ctx.t(check.attributes[a.name] === "true" ? "common.yes" : "common.no")
                      : check.attributes[a.name]!,
            })),
          }),
        );
      }
      try {
        const made = await createProvisionOrder(req, {
          assetType: at.metadata.name,
          ...(Object.keys(check.attributes).length > 0 ? { attributes: check.attributes } : {}),
          ...(reason ? { reason } : {}),
        });
        return reply.redirect(`/portal/orders/${made.metadata.name}`, 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || statusOf(err) === 404) throw err;
        return send(
          reply,
          orderFormPage(ctx, { card, values: refill, reason, errors: [], general: msg }),
          statusOf(err),
        );
      }
    },
  );

  app.get(
    "/portal/blocked",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      const staff = await staffInstead(req, reply);
      if (staff) return staff;
      const person = await personOf(req);
      return send(
        reply,
        blockedPage(await ctxOf(req, reply), {
          manager: person.manager?.displayName ?? person.manager?.email,
        }),
      );
    },
  );

  async function approvals(
    req: FastifyRequest,
    reply: FastifyReply,
    msg: { notice?: string; error?: string; status?: number } = {},
  ) {
    const ctx = await ctxOf(req, reply);
    const items = await approvalInbox(req);
    const rows = [];
    for (const i of items) {
      const at = await assetTypeOf(req, i.order.spec.assetType);
      rows.push({
        name: i.order.metadata.name,
        what: at?.spec.displayName ?? i.order.spec.assetType,
        requester: i.order.spec.requester.displayName ?? i.order.spec.requester.email,
        cost: at
          ? ctx.t("common.perMonth", {
              amount: formatMoney(at.spec.cost.amountPerMonth, at.spec.cost.currency, ctx.lang),
            })
          : "—",
        reason: i.order.spec.reason,
        createdAt: i.order.metadata.creationTimestamp,
        forPrincipal: i.viaDeputy ? i.approver : undefined,
        canApprove: i.canApprove,
        approveRefusal: i.approveRefusal,
      });
    }
    return send(reply, approvalsPage(ctx, { rows, notice: msg.notice, error: msg.error }), msg.status ?? 200);
  }

  app.get(
    "/portal/approvals",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        querystring: z.object({
          done: z.enum(["Approved", "Declined"]).optional(),
          order: z.string().max(253).optional(),
        }),
      },
    },
    async (req, reply) => {
      const t = (await ctxOf(req, reply, { nav: false })).t;
      const { done, order } = req.query;
      return approvals(req, reply, done && order ? { notice: t(`approvals.done.${done}`, { order }) } : {});
    },
  );

  app.post(
    "/portal/approvals/:name",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        params: Name,
        body: Form({ decision: z.enum(["Approved", "Declined"]), comment: z.string().max(2000).optional() }),
      },
    },
    async (req, reply) => {
      const b = req.body as { decision: "Approved" | "Declined"; comment?: string };
      try {
        await decideAsMe(req, req.params.name, b.decision, b.comment?.trim() || undefined);
        // Post/redirect/get: a reload does not decide twice, and the page has a URL to return to.
        return reply.redirect(
          `/portal/approvals?done=${b.decision}&order=${encodeURIComponent(req.params.name)}`,
          303,
        );
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return approvals(req, reply, { error: msg, status: statusOf(err) });
      }
    },
  );

  async function delegation(
    req: FastifyRequest,
    reply: FastifyReply,
    p: {
      values?: { deputy: string; startsAt: string; endsAt: string };
      errors?: FieldError[];
      general?: string;
      notice?: string;
      status?: number;
    } = {},
  ) {
    const staff = await staffInstead(req, reply);
    if (staff) return staff;
    const ctx = await ctxOf(req, reply);
    const d = await myDelegations(req);
    return send(
      reply,
      delegationPage(ctx, {
        mine: d.mine.map((x) => ({ id: x.id, who: x.deputy, startsAt: x.startsAt, endsAt: x.endsAt })),
        toMe: d.toMe.map((x) => ({ id: x.id, who: x.principal, startsAt: x.startsAt, endsAt: x.endsAt })),
        values: p.values ?? { deputy: "", startsAt: "", endsAt: "" },
        errors: p.errors ?? [],
        general: p.general,
        notice: p.notice,
      }),
      p.status ?? 200,
    );
  }

  app.get(
    "/portal/delegation",
    { config: { permission: "self" }, schema: { hide: true, querystring: Flash } },
    async (req, reply) => {
      const t = (await ctxOf(req, reply, { nav: false })).t;
      return delegation(
        req,
        reply,
        req.query.done
          ? { notice: t(req.query.done === "ended" ? "delegation.ended" : "delegation.saved") }
          : {},
      );
    },
  );

  // datetime-local values are wall-clock times in the installation's time zone.
  const parseLocal = (v: string, tz: string | undefined): Date | undefined => {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return undefined;
    const asUtc = new Date(`${v}:00Z`);
    if (Number.isNaN(asUtc.getTime())) return undefined;
    const zone = tz ?? "UTC";
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    }).formatToParts(asUtc);
    const get = (type: string) => Number(parts.find((x) => x.type === type)?.value);
    const shown = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
    return new Date(asUtc.getTime() - (shown - asUtc.getTime()));
  };

  app.post(
    "/portal/delegation",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        body: Form({ deputy: z.string().max(254), startsAt: z.string().max(40), endsAt: z.string().max(40) }),
      },
    },
    async (req, reply) => {
      const b = req.body as { deputy: string; startsAt: string; endsAt: string };
      const ctx = await ctxOf(req, reply, { nav: false });
      const tz = req.server.deps.config?.IPSOLIS_TIME_ZONE;
      const errors: FieldError[] = [];
      const startsAt = parseLocal(b.startsAt, tz);
      const endsAt = parseLocal(b.endsAt, tz);
      if (!/^[^@\s]+@[^@\s]+$/.test(b.deputy.trim()))
        errors.push({
          field: "deputy",
          message: ctx.t("field.required", { label: ctx.t("delegation.deputy") }),
        });
      if (!startsAt) errors.push({ field: "startsAt", message: ctx.t("delegation.badDate") });
      if (!endsAt) errors.push({ field: "endsAt", message: ctx.t("delegation.badDate") });
      if (startsAt && endsAt && endsAt <= startsAt)
        errors.push({ field: "endsAt", message: ctx.t("delegation.badWindow") });
      if (errors.length > 0) return delegation(req, reply, { values: b, errors, status: 422 });
      try {
        await setMyDeputy(req, { deputy: b.deputy, startsAt: startsAt!, endsAt: endsAt! });
        return reply.redirect("/portal/delegation?done=saved", 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return delegation(req, reply, {
          values: b,
          errors: [{ field: "deputy", message: msg }],
          status: statusOf(err),
        });
      }
    },
  );

  app.post(
    "/portal/delegation/:id/end",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        params: z.object({ id: z.string().regex(/^\d{1,18}$/) }),
        body: Form({}).optional(),
      },
    },
    async (req, reply) => {
      await endMyDelegation(req, req.params.id);
      return reply.redirect("/portal/delegation?done=ended", 303);
    },
  );
};
