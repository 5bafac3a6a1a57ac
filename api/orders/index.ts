// The orders service (issues #5, #19): create (for oneself as an employee, or on behalf as
// admin), list/filter, detail, cancel (before Processing), revoke (creates the Deprovision Order
// `<target>-deprovision`, idempotent), modify, retry. Route handlers (api/routes/orders) and
// pages (portal/) call these functions; the rules are pure (api/policy/attributes.ts,
// api/policy/orders.ts). Orders are custom resources written by `ipsolis-api`; the operator
// runs them.
//
// Entitlement (api/policy/entitlement.ts): an employee orders only asset types they are entitled
// to; any other type answers exactly like a missing one (404, same body). Staff ordering on
// behalf may order beyond the entitlement (their exception): the `order_created` row records
// `data.entitled`. A revoke (Deprovision) is never gated by entitlement.
import type { FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import type { AssetTypeSpec } from "../../crds/generated/assettype.ts";
import { appendAudit } from "../../record/audit.ts";
import { needsCleanup } from "../../crds/order-cleanup.ts";
import { awaitedApprovals, policyForAction } from "../../crds/approval-policy.ts";
import { deprovisionOrderName } from "../leaver/decide.ts";
import { decideRetry } from "../policy/orders.ts";
import { ConflictError, ForbiddenError, InputError, UnprocessableError } from "../../record/errors.ts";
import { findEmployee, isOrderingBlocked } from "../../record/employees/store.ts";
import { groupsOfEmployee } from "../../record/employees/groups.ts";
import type { Queryable } from "../../record/db.ts";
import { decideEntitlement, type EntitlementDecision, type Orderer } from "../policy/entitlement.ts";
import { isVisible } from "../policy/acl.ts";
import { aclScopeFor, notFound } from "../plugins/acl.ts";
import { principalOf, type Principal } from "../plugins/auth.ts";
import { resourcesOf, type Cr } from "../plugins/resources.ts";
import { validateAttributes, type AttributeInput, type ValidateOptions } from "../policy/attributes.ts";
import { requesterFacts } from "../mover/facts.ts";
import {
  createWithSecretAttributes,
  secretAttributesRef,
  splitSecretAttributes,
} from "./secret-attributes.ts";
import { generateRequested, recordDeliveries } from "./one-time-secrets.ts";

export type OrderCr = Cr<OrderSpec, OrderStatus>;

export const OrderView = z.object({
  name: z.string(),
  /** The namespace the Order lives in (the API's product namespace). */
  namespace: z.string().optional(),
  assetType: z.string(),
  action: z.string(),
  target: z.string().optional(),
  requester: z.object({
    id: z.string(),
    email: z.string(),
    displayName: z.string().optional(),
    manager: z.string().optional(),
  }),
  /**
   * The asset's values now: for a Provision order, those of its last successful change (Modify)
   * or else as ordered; for a Modify order, the values it asks for.
   */
  attributes: z.record(z.string(), z.string()).optional(),
  /**
   * The names of the secret attributes given with the order (#15 item 4); their values are never
   * shown: they live in a Secret the operator deletes when the order finishes.
   */
  secretAttributes: z.array(z.string()).optional(),
  /** Provision orders changed by a Modify: the values as first ordered. */
  orderedAttributes: z.record(z.string(), z.string()).optional(),
  /** The Modify order whose values `attributes` shows, and when it was delivered. */
  modifiedBy: z.string().optional(),
  modifiedAt: z.string().optional(),
  reason: z.string().optional(),
  cancelRequested: z.boolean(),
  approvals: z.array(
    z.object({ approver: z.string(), decision: z.string(), at: z.string(), comment: z.string().optional() }),
  ),
  phase: z.string().optional(),
  message: z.string().optional(),
  steps: z.array(z.record(z.string(), z.unknown())),
  attempt: z.number().optional(),
  /** Earlier attempts of a retried order, oldest first. */
  previousAttempts: z.array(
    z.object({ attempt: z.number(), jobName: z.string(), message: z.string().optional() }),
  ),
  /**
   * Failed provisions only: whether a step ran, so something may have been granted and a revoke
   * (cleanup) is needed, or nothing ran and no cleanup is needed (#19).
   */
  cleanup: z.enum(["needed", "notNeeded"]).optional(),
  /**
   * PendingApproval only, in the list and detail views: whom the order waits for under its asset
   * type's policy for its action (crds/approval-policy.ts awaitedApprovals): the listed approvers
   * (or the manager) who have not approved yet, and how many more approvals are needed.
   */
  waitingFor: z
    .object({
      policy: z.enum(["Manager", "Approvers"]),
      approvers: z.array(z.string()),
      needed: z.number(),
    })
    .optional(),
  createdAt: z.string().optional(),
});
export type OrderView = z.infer<typeof OrderView>;

/**
 * The JSON view of an Order. With its asset type (`at`), a PendingApproval order also says whom
 * it waits for (`waitingFor`).
 */
export function orderView(o: OrderCr, at?: Pick<AssetTypeSpec, "approval">): OrderView {
  const waitingFor = at && o.status?.phase === "PendingApproval" ? waitingForOf(o, at) : undefined;
  return {
    name: o.metadata.name,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    assetType: o.spec.assetType,
    action: o.spec.action ?? "Provision",
    ...(o.spec.target ? { target: o.spec.target } : {}),
    requester: o.spec.requester,
    ...(currentAttributes(o) ? { attributes: currentAttributes(o) } : {}),
    ...(o.spec.secretAttributesFrom?.keys.length
      ? { secretAttributes: [...o.spec.secretAttributesFrom.keys] }
      : {}),
    ...(o.status?.modifiedBy
      ? {
          ...(o.spec.attributes ? { orderedAttributes: o.spec.attributes } : {}),
          modifiedBy: o.status.modifiedBy,
          ...(o.status.modifiedAt ? { modifiedAt: o.status.modifiedAt } : {}),
        }
      : {}),
    ...(o.spec.reason ? { reason: o.spec.reason } : {}),
    cancelRequested: o.spec.cancelRequested ?? false,
    approvals: o.spec.approvals ?? [],
    ...(o.status?.phase ? { phase: o.status.phase } : {}),
    ...(o.status?.message ? { message: o.status.message } : {}),
    steps: o.status?.steps ?? [],
    ...(o.status?.attempt !== undefined ? { attempt: o.status.attempt } : {}),
    previousAttempts: o.status?.previousAttempts ?? [],
    ...((o.spec.action ?? "Provision") === "Provision" && o.status?.phase === "Failed"
      ? { cleanup: needsCleanup(o) ? ("needed" as const) : ("notNeeded" as const) }
      : {}),
    ...(waitingFor ? { waitingFor } : {}),
    ...(o.metadata.creationTimestamp
      ? { createdAt: new Date(o.metadata.creationTimestamp).toISOString() }
      : {}),
  };
}

function waitingForOf(o: OrderCr, at: Pick<AssetTypeSpec, "approval">): OrderView["waitingFor"] {
  const policy = policyForAction(at.approval, o.spec.action);
  if (policy.policy === "None") return undefined;
  const a = awaitedApprovals(policy, o.spec.requester, o.spec.approvals ?? []);
  return a ? { policy: policy.policy, ...a } : undefined;
}

/**
 * Views of these Orders as the list and detail routes answer them: each PendingApproval one
 * with whom it waits for, from its asset type (read once per type; a type that is gone: none).
 */
export async function orderViews(req: FastifyRequest, orders: readonly OrderCr[]): Promise<OrderView[]> {
  const res = resourcesOf(req.server.deps);
  const types = new Map<string, AssetTypeSpec | undefined>();
  const out: OrderView[] = [];
  for (const o of orders) {
    if (o.status?.phase === "PendingApproval" && !types.has(o.spec.assetType))
      types.set(o.spec.assetType, (await res.get<AssetTypeSpec>("AssetType", o.spec.assetType))?.spec);
    out.push(orderView(o, types.get(o.spec.assetType)));
  }
  return out;
}

/**
 * The asset's attribute values now (#19): a Provision order's newest successful change
 * (status.attributes, written by the operator) or else what was ordered.
 */
export function currentAttributes(o: OrderCr): Record<string, string> | undefined {
  if ((o.spec.action ?? "Provision") === "Provision" && o.status?.modifiedBy)
    return o.status.attributes ?? {};
  return o.spec.attributes;
}

/** Labels that make list filters cheap (label values: ≤63 chars of [a-z0-9._-]). */
export function labelValue(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "")
      .slice(0, 63)
      .replace(/[^a-z0-9]+$/, "") || "x"
  );
}

function newOrderName(assetType: string, requesterId: string): string {
  const who = labelValue(requesterId).replace(/[._]/g, "-");
  return `${assetType.slice(0, 24).replace(/[.-]+$/, "")}-${who.slice(0, 16).replace(/-+$/, "")}-${randomBytes(3).toString("hex")}`;
}

const isOwn = (p: Principal, o: OrderCr) =>
  p.email !== undefined && o.spec.requester.email.toLowerCase() === p.email.toLowerCase();

/**
 * The Order, or the same 404 whether it is missing, an employee's view of someone else's, or
 * of an asset type outside a scoped admin's ACL.
 */
export async function visibleOrder(req: FastifyRequest, name: string): Promise<OrderCr> {
  const p = principalOf(req);
  const o = await resourcesOf(req.server.deps).get<OrderSpec, OrderStatus>("Order", name);
  if (!o) throw notFound("order", name);
  if (p.role === "employee" && !isOwn(p, o)) throw notFound("order", name);
  if (!isVisible(await aclScopeFor(req), o.spec.assetType)) throw notFound("order", name);
  return o;
}

/** Orders the caller may see (own for employees, ACL for scoped admins), filtered, newest first. */
export async function listVisibleOrders(
  req: FastifyRequest,
  q: { phase?: string | undefined; assetType?: string | undefined; requester?: string | undefined },
): Promise<OrderCr[]> {
  const p = principalOf(req);
  const scope = await aclScopeFor(req);
  const all = await resourcesOf(req.server.deps).list<OrderSpec, OrderStatus>("Order");
  return all
    .filter((o) => (p.role === "employee" ? isOwn(p, o) : true))
    .filter((o) => isVisible(scope, o.spec.assetType))
    .filter((o) => !q.phase || o.status?.phase === q.phase)
    .filter((o) => !q.assetType || o.spec.assetType === q.assetType)
    .filter(
      (o) =>
        !q.requester ||
        o.spec.requester.id === q.requester ||
        o.spec.requester.email.toLowerCase() === q.requester.toLowerCase(),
    )
    .sort(
      (a, b) =>
        new Date(b.metadata.creationTimestamp ?? 0).getTime() -
        new Date(a.metadata.creationTimestamp ?? 0).getTime(),
    );
}

/** What a Provision order asks for (the POST /orders body; the portal's order form). */
export type NewOrder = {
  assetType: string;
  /** Checked against the asset type's attribute schema (api/policy/attributes.ts). */
  attributes?: AttributeInput | undefined;
  reason?: string | undefined;
  requester?: OrderSpec["requester"] | undefined;
  /** Generated attributes to make for this order (api/orders/one-time-secrets.ts). */
  generate?: readonly string[] | undefined;
};

/**
 * The asset type's attribute schema applied to `input` (api/policy/attributes.ts): the values to
 * store, or a 400 whose body lists every bad field (`fields: [{ path, message }]`), the same
 * shape as a request-schema 400.
 */
export function validateOrderAttributes(
  at: { metadata?: { name?: string }; spec: Pick<AssetTypeSpec, "attributes"> },
  input: AttributeInput | undefined,
  opts: ValidateOptions = {},
): Record<string, string> {
  const r = validateAttributes(at.spec.attributes, input, opts);
  if (!r.ok) throw new InputError(r.message, { reason: "InvalidAttributes", details: { fields: r.fields } });
  return r.values;
}

/** The record's view of a person for entitlement; undefined when SCIM never provisioned them. */
export async function ordererOf(
  q: Queryable,
  who: { id?: string; email: string },
): Promise<Orderer | undefined> {
  const emp = (await findEmployee(q, who.email)) ?? (who.id ? await findEmployee(q, who.id) : undefined);
  if (!emp) return undefined;
  return { active: emp.active, department: emp.department, groups: await groupsOfEmployee(q, emp.id) };
}

/** Whether this person may order this asset type (api/policy/entitlement.ts). */
export async function entitlementOf(
  q: Queryable,
  at: { spec: Pick<AssetTypeSpec, "entitlement"> },
  who: { id?: string; email: string },
): Promise<EntitlementDecision> {
  return decideEntitlement(at.spec.entitlement, await ordererOf(q, who));
}

/**
 * Creates a Provision Order: for the signed-in employee (who must be entitled to the type, or
 * gets the missing type's 404), or on behalf of an employee by staff (entitled or not; the
 * audit row says which).
 */
export async function createProvisionOrder(req: FastifyRequest, input: NewOrder): Promise<OrderCr> {
  const p = principalOf(req);
  const { db, now } = req.server.deps;
  const res = resourcesOf(req.server.deps);
  let requester: OrderSpec["requester"];
  let ignoredManager: string | undefined;
  if (p.role === "employee") {
    if (input.requester && input.requester.email.toLowerCase() !== p.email?.toLowerCase()) {
      throw new ForbiddenError("employees order for themselves only", { reason: "NotOwn" });
    }
    const emp = await findEmployee(db, p.email!);
    let manager = emp?.manager ?? undefined;
    if (manager && !manager.includes("@"))
      manager = (await findEmployee(db, manager))?.emails[0] ?? undefined;
    requester = {
      id: p.employeeId ?? emp?.userName ?? p.email!,
      email: p.email!,
      ...(p.displayName ? { displayName: p.displayName } : {}),
      ...(manager ? { manager } : {}),
    };
  } else {
    if (!input.requester) {
      throw new InputError("requester is required when ordering on behalf of an employee", {
        details: { fields: [{ path: "body.requester", message: "required" }] },
      });
    }
    // On someone's behalf: the person must be known to the directory (SCIM), and who they are
    // and who their manager is come from there, never from the body (#15 item 3).
    const emp =
      (await findEmployee(db, input.requester.email)) ??
      (input.requester.id ? await findEmployee(db, input.requester.id) : undefined);
    if (!emp) {
      throw new UnprocessableError(
        `requester ${input.requester.email} is not a known person: on-behalf orders are for people the directory (SCIM) provisioned`,
        {
          reason: "UnknownRequester",
          details: { fields: [{ path: "body.requester", message: "unknown person" }] },
        },
      );
    }
    let manager = emp.manager ?? undefined;
    if (manager && !manager.includes("@"))
      manager = (await findEmployee(db, manager))?.emails[0] ?? undefined;
    const email =
      emp.emails.find((e) => e.toLowerCase() === input.requester!.email.toLowerCase()) ??
      emp.emails[0] ??
      input.requester.email;
    requester = {
      id: emp.userName,
      email,
      ...(emp.displayName ? { displayName: emp.displayName } : {}),
      ...(manager ? { manager } : {}),
    };
    if (input.requester.manager && input.requester.manager.toLowerCase() !== manager?.toLowerCase())
      ignoredManager = input.requester.manager;
  }
  if (!isVisible(await aclScopeFor(req), input.assetType)) throw notFound("assettype", input.assetType);
  const at = await res.get<AssetTypeSpec>("AssetType", input.assetType);
  if (!at) throw notFound("assettype", input.assetType);
  const entitled = await entitlementOf(db, at, requester);
  // Not entitled looks exactly like missing to an employee: the catalogue is not probed this
  // way. A deactivated employee instead gets the leaver answer below (409), as before.
  const isEmployee = p.role === "employee";
  if (isEmployee && !entitled.ok && entitled.reason !== "Inactive")
    throw notFound("assettype", input.assetType);
  if (await isOrderingBlocked(db, { id: requester.id, email: requester.email }, now())) {
    throw new ConflictError(`${requester.email} is leaving or deactivated: new orders are blocked`, {
      reason: "OrderingBlocked",
    });
  }
  if (isEmployee && !entitled.ok) throw notFound("assettype", input.assetType);
  // Attributes that follow the employee record (fromEmployee) take its values (#22 mover);
  // generated ones are made here and go to the manager (#22 password reset).
  const generated = await generateRequested(db, at, input.generate, requester);
  const validated = validateOrderAttributes(at, input.attributes, {
    employee: await requesterFacts(db, requester),
    generated: generated.values,
  });
  // Secret attributes go into the Order's own Secret, never into its spec (#15 item 4).
  const { plain: attributes, secret } = splitSecretAttributes(at.spec.attributes, validated);
  const name = newOrderName(input.assetType, requester.id);
  const undoDeliveries = await recordDeliveries(
    req,
    { name, assetType: input.assetType, what: at.spec.displayName },
    requester,
    generated,
  );
  const spec: OrderSpec = {
    assetType: input.assetType,
    action: "Provision",
    requester,
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...secretAttributesRef(name, secret),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const made = await createWithSecretAttributes(
    req.server.deps,
    secret,
    () =>
      res.create<OrderSpec, OrderStatus>(
        "Order",
        name,
        spec,
        {
          "ipsolis.io/asset-type": labelValue(input.assetType),
          "ipsolis.io/requester": labelValue(requester.id),
        },
        // Who placed it for someone else (shown; the audit row below is what approvals check).
        isEmployee ? undefined : { "ipsolis.io/placed-by": p.actor },
      ),
    (n) => res.remove("Order", n),
  ).catch(undoDeliveries);
  await appendAudit(db, {
    actor: p.actor,
    action: "order_created",
    target: `order:${name}`,
    order: name,
    requestId: req.id,
    source: p.role === "employee" ? "portal" : "api",
    data: {
      assetType: spec.assetType,
      requester: requester.email,
      onBehalf: !isEmployee,
      ...(ignoredManager ? { managerFromBodyIgnored: ignoredManager } : {}),
      // Staff may order beyond the requester's entitlement; the record says when they did.
      entitled: entitled.ok,
      ...(entitled.ok ? { entitledVia: entitled.via } : { notEntitledReason: entitled.reason }),
    },
  });
  return made;
}

/** Requests the cancel of an order that has not started (the CRD refuses it once Processing). */
export async function cancelOrder(req: FastifyRequest, name: string): Promise<OrderCr> {
  const p = principalOf(req);
  const res = resourcesOf(req.server.deps);
  const o = await visibleOrder(req, name);
  const phase = o.status?.phase;
  if (phase !== undefined && phase !== "PendingApproval" && phase !== "Scheduled") {
    throw new ConflictError(`the order is ${phase}: it can be cancelled only before Processing`, {
      reason: "TooLateToCancel",
    });
  }
  const after = await res.mergePatch<OrderSpec, OrderStatus>(
    "Order",
    o.metadata.name,
    { spec: { cancelRequested: true } },
    o.metadata.resourceVersion,
  );
  await appendAudit(req.server.deps.db, {
    actor: p.actor,
    action: "order_cancel_requested",
    target: `order:${o.metadata.name}`,
    order: o.metadata.name,
    requestId: req.id,
    source: "api",
  });
  return after;
}

/**
 * Asks for one new attempt of a Failed order whose run failed (#19): admins for any visible
 * order, employees for their own (visibleOrder). 409 while an attempt runs, for a decline or a
 * policy refusal, and when the asset type or its runbook no longer exists. Audited.
 */
export async function retryOrder(req: FastifyRequest, name: string): Promise<OrderCr> {
  const p = principalOf(req);
  const res = resourcesOf(req.server.deps);
  const o = await visibleOrder(req, name);
  const d = decideRetry(o);
  if (!d.ok) throw new ConflictError(d.message, { reason: d.reason });
  const at = await res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
  if (!at) {
    throw new ConflictError(`asset type ${o.spec.assetType} no longer exists: the order cannot run again`, {
      reason: "AssetTypeNotFound",
    });
  }
  const action = o.spec.action ?? "Provision";
  const rb =
    action === "Provision"
      ? at.spec.runbooks.provision
      : action === "Modify"
        ? at.spec.runbooks.modify
        : at.spec.runbooks.deprovision;
  if (!rb || !(await res.get("Runbook", rb))) {
    throw new ConflictError(
      `runbook ${rb ?? `(${action.toLowerCase()})`} of asset type ${o.spec.assetType} no longer exists: the order cannot run again`,
      { reason: "RunbookNotFound" },
    );
  }
  const retry = (o.spec.retry ?? 0) + 1;
  const after = await res.mergePatch<OrderSpec, OrderStatus>(
    "Order",
    o.metadata.name,
    { spec: { retry } },
    o.metadata.resourceVersion,
  );
  await appendAudit(req.server.deps.db, {
    actor: p.actor,
    action: "order_retry_requested",
    target: `order:${o.metadata.name}`,
    order: o.metadata.name,
    requestId: req.id,
    source: "api",
    data: { retry, failedAttempt: o.status?.attempt ?? 1, failedJob: o.status?.jobName },
  });
  return after;
}

/**
 * Revokes an asset: the Deprovision Order `<order>-deprovision` for a Provisioned order, or for
 * a Failed provision whose steps may have granted something (#19); idempotent (a second call
 * finds the first one's Order, `created: false`). The revoke route, the portal's Return and the
 * console call this.
 */
export async function revokeOrder(
  req: FastifyRequest,
  name: string,
  reason?: string,
): Promise<{ order: OrderCr; created: boolean }> {
  const res = resourcesOf(req.server.deps);
  const p = principalOf(req);
  const o = await visibleOrder(req, name);
  if ((o.spec.action ?? "Provision") !== "Provision") {
    throw new ConflictError("only a Provision order can be revoked", { reason: "NotProvision" });
  }
  const dep = deprovisionOrderName(o.metadata.name);
  const existing = await res.get<OrderSpec, OrderStatus>("Order", dep);
  if (existing) return { order: existing, created: false };
  if (o.status?.phase === "Failed" && !needsCleanup(o)) {
    throw new ConflictError(
      "the order failed before any step ran: nothing was granted, no cleanup is needed",
      {
        reason: "NoCleanupNeeded",
      },
    );
  }
  // Provisioned, or a Failed provision whose steps may have granted something (#19).
  if (o.status?.phase !== "Provisioned" && !needsCleanup(o)) {
    throw new ConflictError(
      `the order is ${o.status?.phase ?? "not yet processed"}: only a Provisioned order can be revoked`,
      {
        reason: "NotProvisioned",
      },
    );
  }
  // Without a deprovision runbook nothing could take the asset back: say so now instead of
  // creating a Deprovision Order that fails (crds/assettypes.yaml runbooks.deprovision).
  const at = await res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
  if (!at) {
    throw new ConflictError(`asset type ${o.spec.assetType} no longer exists: nothing can revoke the asset`, {
      reason: "AssetTypeNotFound",
    });
  }
  if (!at.spec.runbooks.deprovision) {
    throw new ConflictError(
      `asset type ${o.spec.assetType} has no deprovision runbook: nothing can take the asset back`,
      { reason: "NoDeprovisionRunbook" },
    );
  }
  const spec: OrderSpec = {
    assetType: o.spec.assetType,
    action: "Deprovision",
    target: o.metadata.name,
    requester: o.spec.requester,
    ...(reason ? { reason } : {}),
  };
  let made: OrderCr;
  try {
    made = await res.create<OrderSpec, OrderStatus>("Order", dep, spec, {
      "ipsolis.io/asset-type": labelValue(o.spec.assetType),
      "ipsolis.io/requester": labelValue(o.spec.requester.id),
    });
  } catch (err) {
    // Two revokes at once: the second finds the first one's Order (idempotent).
    if (err instanceof ConflictError) {
      const again = await res.get<OrderSpec, OrderStatus>("Order", dep);
      if (again) return { order: again, created: false };
    }
    throw err;
  }
  await appendAudit(req.server.deps.db, {
    actor: p.actor,
    action: "order_revoke_requested",
    target: `order:${o.metadata.name}`,
    order: dep,
    requestId: req.id,
    source: req.url.startsWith("/portal") || req.url.startsWith("/console") ? "portal" : "api",
    data: { deprovisionOrder: dep },
  });
  return { order: made, created: true };
}

/** What a change (Modify order) asks for: the POST /orders/:name/modify body; the portal form. */
export type ModifyInput = {
  /** Only the changed ones need sending; the rest stay as they are. */
  attributes?: AttributeInput | undefined;
  reason?: string | undefined;
  /** Generated attributes to make anew, e.g. a password reset (api/orders/one-time-secrets.ts). */
  generate?: readonly string[] | undefined;
};

const OPEN_PHASES: ReadonlySet<string | undefined> = new Set([
  undefined,
  "PendingApproval",
  "Scheduled",
  "Processing",
]);

/** A Modify order's name: `<target>-m-<6 hex>`, at most 63 characters (a label value). */
function modifyOrderName(target: string): string {
  return `${target.slice(0, 52).replace(/[.-]+$/, "")}-m-${randomBytes(3).toString("hex")}`;
}

/**
 * Why a change of this Provision order cannot be asked for now, or undefined: it must be
 * Provisioned, its type must have a modify runbook, and no change or revoke may be open on it.
 * Pure over what was read; the portal uses it to show (or not) its Change button.
 */
export function modifyRefusal(
  o: OrderCr,
  at: { spec: Pick<AssetTypeSpec, "runbooks"> } | undefined,
  related: readonly OrderCr[],
): { reason: string; message: string } | undefined {
  if ((o.spec.action ?? "Provision") !== "Provision")
    return { reason: "NotProvision", message: "only a Provision order can be changed" };
  if (o.status?.phase !== "Provisioned") {
    return {
      reason: "NotProvisioned",
      message: `the order is ${o.status?.phase ?? "not yet processed"}: only a Provisioned order can be changed`,
    };
  }
  if (!at) {
    return {
      reason: "AssetTypeNotFound",
      message: `asset type ${o.spec.assetType} no longer exists: the asset cannot be changed`,
    };
  }
  if (!at.spec.runbooks.modify) {
    return {
      reason: "NoModifyRunbook",
      message: `asset type ${o.spec.assetType} has no modify runbook: its assets cannot be changed (revoke and order again instead)`,
    };
  }
  const open = related.find(
    (r) =>
      r.spec.target === o.metadata.name && r.spec.action !== "Provision" && OPEN_PHASES.has(r.status?.phase),
  );
  if (open) {
    const what = open.spec.action === "Modify" ? "a change" : "a revoke";
    return {
      reason: open.spec.action === "Modify" ? "ModifyOpen" : "DeprovisionOpen",
      message: `${what} of this order is already open (order ${open.metadata.name}, ${open.status?.phase ?? "new"}): wait for it to finish`,
    };
  }
  return undefined;
}

/**
 * The Modify and Deprovision orders that target `name`: Modify orders by their target label
 * (a label-selected LIST, never the namespace), the revoke by its deterministic name.
 */
async function ordersTargeting(req: FastifyRequest, name: string): Promise<OrderCr[]> {
  const res = resourcesOf(req.server.deps);
  const mods = await res.list<OrderSpec, OrderStatus>("Order", `${TARGET_LABEL}=${labelValue(name)}`);
  const revoke = await res.get<OrderSpec, OrderStatus>("Order", deprovisionOrderName(name));
  return [...mods, ...(revoke ? [revoke] : [])].filter((x) => x.spec.target === name);
}

/** The label every Modify order carries: its target's name (as a label value). */
export const TARGET_LABEL = "ipsolis.io/target";

/** Whether the asset type can change this order's asset now (for the portal's Change button). */
export async function canModify(req: FastifyRequest, o: OrderCr): Promise<boolean> {
  if ((o.spec.action ?? "Provision") !== "Provision" || o.status?.phase !== "Provisioned") return false;
  const at = await resourcesOf(req.server.deps).get<AssetTypeSpec>("AssetType", o.spec.assetType);
  return modifyRefusal(o, at, await ordersTargeting(req, o.metadata.name)) === undefined;
}

/**
 * Asks for a change of a Provisioned asset (#19): a Modify Order on the target, with the full
 * new set of values (the changed ones validated with the one attribute validation, the rest
 * kept), through the type's `approval.onModify` (the operator decides it). Same permission as
 * ordering: the requester for their own, staff in their ACL scope (else 404). 409 when the type
 * has no modify runbook, the target is not Provisioned, or a change or revoke is open; 422
 * naming the bad fields, or when nothing would change. Audited: who, which fields (values only
 * of non-secret attributes).
 */
export async function modifyOrder(req: FastifyRequest, name: string, input: ModifyInput): Promise<OrderCr> {
  const p = principalOf(req);
  const { db, now } = req.server.deps;
  const res = resourcesOf(req.server.deps);
  const o = await visibleOrder(req, name);
  const at = await res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
  const refused = modifyRefusal(o, at, await ordersTargeting(req, name));
  if (refused || !at)
    throw new ConflictError(refused?.message ?? "cannot change", { reason: refused?.reason });
  const requester = o.spec.requester;
  if (await isOrderingBlocked(db, { id: requester.id, email: requester.email }, now())) {
    throw new ConflictError(`${requester.email} is leaving or deactivated: changes are blocked`, {
      reason: "OrderingBlocked",
    });
  }
  const current = currentAttributes(o) ?? {};
  const secret = new Set((at.spec.attributes ?? []).filter((d) => d.secret).map((d) => d.name));
  // A secret value is never read back: a secret attribute is held (a required one need not be
  // sent again) and changes only when a new value is given.
  const generated = await generateRequested(db, at, input.generate, requester);
  const r = validateAttributes(at.spec.attributes, input.attributes, {
    current,
    held: secret,
    employee: await requesterFacts(db, requester),
    generated: generated.values,
  });
  // Bad values are bad input, as on every order path (400 with the fields); a change that
  // changes nothing is well-formed but cannot be done (422 NoChange, below).
  if (!r.ok) throw new InputError(r.message, { reason: "InvalidAttributes", details: { fields: r.fields } });
  const values = r.values;
  const names = [...new Set([...Object.keys(current), ...Object.keys(values)])].sort();
  const changed = names.filter((k) => current[k] !== values[k]);
  if (changed.length === 0) {
    throw new UnprocessableError("nothing to change: the attributes are as they are now", {
      reason: "NoChange",
      details: { fields: [{ path: "body.attributes", message: "changes no value" }] },
    });
  }
  const modName = modifyOrderName(o.metadata.name);
  const split = splitSecretAttributes(at.spec.attributes, values);
  const undoDeliveries = await recordDeliveries(
    req,
    { name: modName, assetType: o.spec.assetType, what: at.spec.displayName },
    requester,
    generated,
  );
  const spec: OrderSpec = {
    assetType: o.spec.assetType,
    action: "Modify",
    target: o.metadata.name,
    requester,
    ...(Object.keys(split.plain).length > 0 ? { attributes: split.plain } : {}),
    ...secretAttributesRef(modName, split.secret),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const made = await createWithSecretAttributes(
    req.server.deps,
    split.secret,
    () =>
      res.create<OrderSpec, OrderStatus>("Order", modName, spec, {
        "ipsolis.io/asset-type": labelValue(o.spec.assetType),
        "ipsolis.io/requester": labelValue(requester.id),
        [TARGET_LABEL]: labelValue(o.metadata.name),
      }),
    (n) => res.remove("Order", n),
  ).catch(undoDeliveries);
  await appendAudit(db, {
    actor: p.actor,
    action: "order_modify_requested",
    target: `order:${o.metadata.name}`,
    order: modName,
    requestId: req.id,
    source: p.role === "employee" ? "portal" : "api",
    data: {
      modifyOrder: modName,
      target: o.metadata.name,
      assetType: o.spec.assetType,
      requester: requester.email,
      changed,
      // Old and new values of the non-secret fields only; a secret field is named, never shown.
      changes: Object.fromEntries(
        changed
          .filter((k) => !secret.has(k))
          .map((k) => [k, { from: current[k] ?? null, to: values[k] ?? null }]),
      ),
      ...(changed.some((k) => secret.has(k)) ? { secretChanged: changed.filter((k) => secret.has(k)) } : {}),
    },
  });
  return made;
}

/**
 * New generated values for an asset (the helpdesk's password reset, POST /orders/:name/reset):
 * a Modify that changes nothing but the generated attributes named (default: every one the
 * type has), which go to the person's manager (api/orders/one-time-secrets.ts). 409
 * NothingToReset when the type generates nothing; the rest as modifyOrder.
 */
export async function resetGenerated(
  req: FastifyRequest,
  name: string,
  input: { attributes?: readonly string[] | undefined; reason?: string | undefined },
): Promise<OrderCr> {
  const o = await visibleOrder(req, name);
  const at = await resourcesOf(req.server.deps).get<AssetTypeSpec>("AssetType", o.spec.assetType);
  const all = (at?.spec.attributes ?? []).filter((a) => a.generated).map((a) => a.name);
  if (all.length === 0)
    throw new ConflictError(
      `asset type ${o.spec.assetType} has no generated attribute: there is nothing to reset`,
      {
        reason: "NothingToReset",
      },
    );
  return modifyOrder(req, name, { generate: input.attributes ?? all, reason: input.reason });
}
