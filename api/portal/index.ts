// The services the employee pages call (issue #18), in one entry point: the portal imports this
// module and never a route file. Most are the areas' own service functions re-exported; the
// few no area had yet (one person's orders from the index, cancel, return, the approvals inbox
// from the index, one's own delegations) are thin functions here over the same policy code and
// record calls as the JSON routes. Reads of one person's orders and inbox select by the index
// labels (api/policy/order-index.ts) and never LIST the namespace (docs/decisions/0008).
import type { FastifyRequest } from "fastify";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import type { AssetTypeSpec } from "../../crds/generated/assettype.ts";
import { appendAudit } from "../../record/audit.ts";
import { withTransaction } from "../../record/db.ts";
import { readOrderLog, type StoredLine } from "../../record/step-output.ts";
import { ConflictError, InputError, NotFoundError } from "../../record/errors.ts";
import { findEmployee, isOrderingBlocked, type Employee } from "../../record/employees/store.ts";
import { checkApproval, exactNamesOf, type Approver } from "../policy/approvals.ts";
import { MANAGER_LABEL, REQUESTER_LABEL, personKey } from "../policy/order-index.ts";
import { decideEntitlement } from "../policy/entitlement.ts";
import { isVisible } from "../policy/acl.ts";
import { aclScopeFor } from "../plugins/acl.ts";
import { principalOf, type Principal } from "../plugins/auth.ts";
import { resourcesOf, type Cr } from "../plugins/resources.ts";
import { deprovisionOrderName } from "../leaver/decide.ts";
import {
  canModify,
  createProvisionOrder,
  currentAttributes,
  modifyOrder,
  ordererOf,
  retryOrder,
  visibleOrder,
  type NewOrder,
} from "../routes/orders/index.ts";
import { decideRetry } from "../policy/orders.ts";
import {
  assetTypeChanges,
  directoryFacts,
  deciderOf,
  decideOrder,
  delegationsFor,
  aliasesOf,
  escalatedOrdersFor,
  grantsFor,
  placerOf,
  recordDelegation,
} from "../routes/approvals/service.ts";
import { checkDelegationWindow } from "../policy/approvals-notify.ts";

export { createProvisionOrder, visibleOrder, type NewOrder };
// One-time passwords delivered to me, and the reset that makes one (#22).
export {
  myOneTimeSecret,
  myOneTimeSecretCounts,
  myOneTimeSecrets,
  recipientOf,
  revealOneTimeSecret,
  type OneTimeSecretView,
} from "../orders/one-time-secrets.ts";
export { resetGenerated } from "../orders/index.ts";
// Change and retry (#19): the JSON routes' own service functions.
export { canModify, currentAttributes, modifyOrder, retryOrder };

/** Whether the Retry button shows: the same rule POST /orders/:name/retry applies first. */
export const isRetryable = (o: OrderCr): boolean => decideRetry(o).ok;
export { decideOrder };
export { verifyApprovalLink } from "../routes/approvals/links.ts";
export {
  changeOwnPassword,
  isFirstRun,
  LEGACY_KEY_PASSWORD_REFUSAL,
  setUpFirstSuperadmin,
  signIn,
  signOut,
} from "../routes/auth/service.ts";
export { principalOf, type Principal };

export type OrderCr = Cr<OrderSpec, OrderStatus>;
export type AssetTypeCr = Cr<AssetTypeSpec>;

const byNewest = (a: OrderCr, b: OrderCr) =>
  new Date(b.metadata.creationTimestamp ?? 0).getTime() -
  new Date(a.metadata.creationTimestamp ?? 0).getTime();

const sameEmail = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * The signed-in employee's own Orders, newest first: a label-selected LIST (the requester key),
 * read from the API server (a quorum read, so an Order created a moment ago is in it), then
 * matched exactly by e-mail. Cost: this person's Orders, not the namespace's.
 */
export async function ordersOfPerson(req: FastifyRequest, email: string): Promise<OrderCr[]> {
  // Once per request: the page and its navigation counts share the read.
  const key = `orders:${email.toLowerCase()}`;
  const memo = memoOf(req);
  const hit = memo.get(key) as Promise<OrderCr[]> | undefined;
  if (hit) return hit;
  const p = readOrdersOfPerson(req, email);
  memo.set(key, p);
  return p;
}

const memos = new WeakMap<FastifyRequest, Map<string, Promise<unknown>>>();
function memoOf(req: FastifyRequest): Map<string, Promise<unknown>> {
  let m = memos.get(req);
  if (!m) memos.set(req, (m = new Map<string, Promise<unknown>>()));
  return m;
}

async function readOrdersOfPerson(req: FastifyRequest, email: string): Promise<OrderCr[]> {
  const list = await resourcesOf(req.server.deps).list<OrderSpec, OrderStatus>(
    "Order",
    `${REQUESTER_LABEL}=${personKey(email)}`,
    { unpaged: true },
  );
  return list.filter((o) => sameEmail(o.spec.requester.email, email)).sort(byNewest);
}

/** One page of a list (1-based), with whether there are more. */
export function pageOf<T>(
  items: T[],
  page: number,
  size: number,
): { items: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const p = Math.min(Math.max(1, Math.trunc(page) || 1), pages);
  return { items: items.slice((p - 1) * size, p * size), page: p, pages };
}

export type Person = {
  email: string;
  id: string;
  displayName: string;
  employee: Employee | undefined;
  /** Leaving or deactivated: no new orders (record/employees/store.ts isOrderingBlocked). */
  isBlocked: boolean;
  /** The manager's name and e-mail as SCIM knows them. */
  manager: { email: string; displayName?: string | undefined } | undefined;
  preferredLanguage: unknown;
};

/** The signed-in employee as the record knows them. */
export async function personOf(req: FastifyRequest): Promise<Person> {
  const p = principalOf(req);
  const { db, now } = req.server.deps;
  const email = p.email!;
  const employee =
    (await findEmployee(db, email)) ?? (p.employeeId ? await findEmployee(db, p.employeeId) : undefined);
  let manager: Person["manager"];
  if (employee?.manager) {
    const m = await findEmployee(db, employee.manager);
    const memail = m?.emails[0] ?? (employee.manager.includes("@") ? employee.manager : undefined);
    if (memail) manager = { email: memail, displayName: m?.displayName ?? undefined };
  }
  return {
    email,
    id: p.employeeId ?? employee?.userName ?? email,
    displayName: employee?.displayName ?? p.displayName ?? email,
    employee,
    isBlocked: await isOrderingBlocked(db, { id: p.employeeId ?? employee?.userName, email }, now()),
    manager,
    preferredLanguage: employee?.resource.preferredLanguage,
  };
}

/** SCIM preferredLanguage of a person by e-mail (for pages rendered before a Person is built). */
export async function preferredLanguageOf(req: FastifyRequest, email: string): Promise<unknown> {
  return (await findEmployee(req.server.deps.db, email))?.resource.preferredLanguage;
}

/**
 * The asset types the caller may see: an employee the ones they are entitled to, staff the ones
 * in their ACL scope. Sorted by category, then name.
 */
export async function catalogueOf(req: FastifyRequest): Promise<AssetTypeCr[]> {
  const p = principalOf(req);
  const all = await resourcesOf(req.server.deps).list<AssetTypeSpec>("AssetType");
  const who =
    p.role === "employee"
      ? await ordererOf(req.server.deps.db, { id: p.employeeId, email: p.email! })
      : undefined;
  const scope = p.role === "employee" ? undefined : await aclScopeFor(req);
  return all
    .filter((at) =>
      scope === undefined
        ? decideEntitlement(at.spec.entitlement, who).ok
        : isVisible(scope, at.metadata.name),
    )
    .sort(
      (a, b) =>
        a.spec.category.localeCompare(b.spec.category) ||
        a.spec.displayName.localeCompare(b.spec.displayName),
    );
}

/** One asset type the caller may order, or the missing type's 404 (entitlement, as POST /orders). */
export async function orderableAssetType(req: FastifyRequest, name: string): Promise<AssetTypeCr> {
  const at = (await catalogueOf(req)).find((a) => a.metadata.name === name);
  if (!at) throw new NotFoundError(`assettype "${name}" not found`);
  return at;
}

export async function assetTypeOf(req: FastifyRequest, name: string): Promise<AssetTypeCr | undefined> {
  return resourcesOf(req.server.deps).get<AssetTypeSpec>("AssetType", name);
}

export const CANCELLABLE = ["PendingApproval", "Scheduled"] as const;
export const isCancellable = (o: OrderCr) =>
  !o.spec.cancelRequested &&
  (o.status?.phase === undefined || (CANCELLABLE as readonly string[]).includes(o.status.phase));

/** Cancels an Order before Processing (the same rule and audit row as POST /orders/:name/cancel). */
export async function cancelOrder(req: FastifyRequest, name: string): Promise<OrderCr> {
  const p = principalOf(req);
  const o = await visibleOrder(req, name);
  const phase = o.status?.phase;
  if (phase !== undefined && phase !== "PendingApproval" && phase !== "Scheduled") {
    throw new ConflictError(`the order is ${phase}: it can be cancelled only before Processing`, {
      reason: "TooLateToCancel",
    });
  }
  const after = await resourcesOf(req.server.deps).mergePatch<OrderSpec, OrderStatus>(
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
    source: "portal",
  });
  return after;
}

/**
 * Returns an asset: the Deprovision Order `<order>-deprovision` for a Provisioned order
 * (idempotent: a second return finds the first one's Order), as POST /orders/:name/revoke.
 */
export async function returnAsset(req: FastifyRequest, name: string, reason?: string): Promise<OrderCr> {
  const p = principalOf(req);
  const res = resourcesOf(req.server.deps);
  const o = await visibleOrder(req, name);
  if ((o.spec.action ?? "Provision") !== "Provision") {
    throw new ConflictError("only a Provision order can be returned", { reason: "NotProvision" });
  }
  const dep = deprovisionOrderName(o.metadata.name);
  const existing = await res.get<OrderSpec, OrderStatus>("Order", dep);
  if (existing) return existing;
  if (o.status?.phase !== "Provisioned") {
    throw new ConflictError(
      `the order is ${o.status?.phase ?? "not yet processed"}: only a Provisioned order can be returned`,
      { reason: "NotProvisioned" },
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
      ...(o.metadata.labels?.["ipsolis.io/asset-type"]
        ? { "ipsolis.io/asset-type": o.metadata.labels["ipsolis.io/asset-type"] }
        : {}),
      ...(o.metadata.labels?.["ipsolis.io/requester"]
        ? { "ipsolis.io/requester": o.metadata.labels["ipsolis.io/requester"] }
        : {}),
    });
  } catch (err) {
    if (err instanceof ConflictError) {
      const again = await res.get<OrderSpec, OrderStatus>("Order", dep);
      if (again) return again;
    }
    throw err;
  }
  await appendAudit(req.server.deps.db, {
    actor: p.actor,
    action: "order_revoke_requested",
    target: `order:${o.metadata.name}`,
    order: dep,
    requestId: req.id,
    source: "portal",
    data: { deprovisionOrder: dep },
  });
  return made;
}

export type InboxItem = {
  order: OrderCr;
  /** Whose approval this decision counts as (the listed approver, or the deputy's principal). */
  approver: string;
  viaDeputy: boolean;
  canApprove: boolean;
  approveRefusal?: string | undefined;
};

/**
 * What waits for the caller's decision: Orders whose requester's manager they are, Orders of
 * asset types that list them as approver, and the same for everyone who made them their deputy
 * (an active delegation). Selected by the index labels (manager key, asset type), never a LIST
 * of the namespace; then decided by the same policy check as POST /orders/:name/approve.
 */
export async function approvalInbox(req: FastifyRequest): Promise<InboxItem[]> {
  const memo = memoOf(req);
  const hit = memo.get("inbox") as Promise<InboxItem[]> | undefined;
  if (hit) return hit;
  const p = readApprovalInbox(req);
  memo.set("inbox", p);
  return p;
}

async function readApprovalInbox(req: FastifyRequest): Promise<InboxItem[]> {
  const p = principalOf(req);
  const { db, now } = req.server.deps;
  const res = resourcesOf(req.server.deps);
  const d = await deciderOf(db, p);
  const base = { username: d.username, email: d.email };
  const approver: Approver = { ...base, aliases: await aliasesOf(db, base) };
  const delegations = await delegationsFor(db, exactNamesOf(approver));
  const at = now();
  const active = delegations.filter((x) => x.startsAt <= at && at < x.endsAt);
  // Everyone whose approvals may reach the caller: themself, and each active principal.
  const people = [
    ...exactNamesOf(approver),
    ...active.flatMap((x) => [x.principal, ...(x.principalAliases ?? [])]),
  ].map((n) => n.toLowerCase());
  const emails = [...new Set(people.filter((n) => n.includes("@")))];
  const types = await res.list<AssetTypeSpec>("AssetType");
  const listedTypes = types.filter(
    (t) =>
      t.spec.approval.policy === "Approvers" &&
      (t.spec.approval.approvers ?? []).some((a) => people.includes(a.toLowerCase())),
  );
  const seen = new Map<string, OrderCr>();
  const selectors = [
    ...emails.map((e) => `${MANAGER_LABEL}=${personKey(e)}`),
    ...listedTypes.map((t) => `ipsolis.io/asset-type=${t.metadata.name}`),
  ];
  for (const sel of selectors) {
    for (const o of await res.list<OrderSpec, OrderStatus>("Order", sel, { unpaged: true })) {
      if (o.status?.phase === "PendingApproval") seen.set(o.metadata.name, o);
    }
  }
  // Escalated to the caller (the manager's manager, an `escalateTo` person): by their grant.
  for (const name of await escalatedOrdersFor(db, people)) {
    if (seen.has(name)) continue;
    const o = await res.get<OrderSpec, OrderStatus>("Order", name);
    if (o?.status?.phase === "PendingApproval") seen.set(name, o);
  }
  const scope = p.role === "employee" ? undefined : await aclScopeFor(req);
  const typeOf = new Map(types.map((t) => [t.metadata.name, t.spec]));
  const items: InboxItem[] = [];
  for (const o of [...seen.values()].sort(byNewest).reverse()) {
    const spec = typeOf.get(o.spec.assetType);
    if (!spec) continue;
    if (scope !== undefined && !isVisible(scope, o.spec.assetType)) continue;
    const facts = await directoryFacts(db, o.spec.requester, approver, at);
    const input = {
      approver,
      approverIsLeaver: facts.approverIsLeaver,
      order: {
        phase: o.status?.phase,
        requesterEmail: o.spec.requester.email,
        manager: o.spec.requester.manager,
        approvals: o.spec.approvals ?? [],
        requesterIdentities: facts.requesterIdentities,
        placedBy: await placerOf(db, o.metadata.name),
      },
      policy: { kind: spec.approval.policy, approvers: spec.approval.approvers ?? [] },
      delegations,
      grants: await grantsFor(db, o.metadata.name),
      now: at,
    };
    const mayDecide = checkApproval({ ...input, decision: "Declined", assetTypeChanges: [] });
    if (!mayDecide.ok) continue;
    const mayApprove = checkApproval({
      ...input,
      decision: "Approved",
      assetTypeChanges: await assetTypeChanges(db, o.spec.assetType, spec),
    });
    items.push({
      order: o,
      approver: mayDecide.approverKey,
      viaDeputy: mayDecide.viaDeputy,
      canApprove: mayApprove.ok,
      ...(mayApprove.ok ? {} : { approveRefusal: mayApprove.message }),
    });
  }
  return items;
}

/** Decides one Order as the signed-in person (the same policy path as the JSON route). */
export async function decideAsMe(
  req: FastifyRequest,
  name: string,
  decision: "Approved" | "Declined",
  comment?: string,
): Promise<OrderCr> {
  const p = principalOf(req);
  return decideOrder(req, {
    order: name,
    approver: await deciderOf(req.server.deps.db, p),
    decision,
    comment,
    source: "portal",
  });
}

export type DelegationRow = {
  id: string;
  principal: string;
  deputy: string;
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
};

async function namesOfMe(req: FastifyRequest): Promise<string[]> {
  const db = req.server.deps.db;
  const d = await deciderOf(db, principalOf(req));
  const me = { username: d.username, email: d.email };
  const names = exactNamesOf({ ...me, aliases: await aliasesOf(db, me) });
  return [...new Set([...names, d.email ?? d.username ?? d.actor].map((n) => n.toLowerCase()))];
}

/** The caller's delegations: those they set (as principal) and those naming them deputy. */
export async function myDelegations(
  req: FastifyRequest,
): Promise<{ mine: DelegationRow[]; toMe: DelegationRow[] }> {
  const names = await namesOfMe(req);
  const r = await req.server.deps.db.query<{
    id: string;
    principal: string;
    deputy: string;
    starts_at: Date;
    ends_at: Date;
    created_by: string;
  }>(
    `SELECT id::text AS id, principal, deputy, starts_at, ends_at, created_by FROM delegations
      WHERE (lower(principal) = ANY($1) OR lower(deputy) = ANY($1)) AND ends_at > $2 ORDER BY starts_at`,
    [names, req.server.deps.now()],
  );
  const rows = r.rows.map((d) => ({
    id: d.id,
    principal: d.principal,
    deputy: d.deputy,
    startsAt: d.starts_at,
    endsAt: d.ends_at,
    createdBy: d.created_by,
  }));
  return {
    mine: rows.filter((d) => names.includes(d.principal.toLowerCase())),
    toMe: rows.filter((d) => names.includes(d.deputy.toLowerCase())),
  };
}

/** Sets a deputy for the caller's own approvals (the rules of POST /delegations). */
export async function setMyDeputy(
  req: FastifyRequest,
  i: { deputy: string; startsAt: Date; endsAt: Date; reason?: string | undefined },
): Promise<DelegationRow> {
  const p = principalOf(req);
  const d = await deciderOf(req.server.deps.db, p);
  const principal = d.email ?? d.username ?? d.actor;
  const deputy = i.deputy.trim();
  if (i.endsAt.getTime() <= i.startsAt.getTime()) {
    throw new InputError("endsAt must be after startsAt", {
      details: { fields: [{ path: "body.endsAt", message: "must be after startsAt" }] },
    });
  }
  if ((await namesOfMe(req)).includes(deputy.toLowerCase())) {
    throw new InputError("a deputy must be someone else", {
      reason: "SelfDeputy",
      details: { fields: [{ path: "body.deputy", message: "must be someone else" }] },
    });
  }
  const window = checkDelegationWindow(i.startsAt, i.endsAt, req.server.deps.now());
  if (!window.ok) {
    throw new InputError(window.message, {
      reason: "BadWindow",
      details: { fields: [{ path: "body.endsAt", message: window.message }] },
    });
  }
  const id = await recordDelegation(req, {
    principal,
    deputy,
    startsAt: i.startsAt,
    endsAt: i.endsAt,
    reason: i.reason,
    source: "portal",
  });
  return { id, principal, deputy, startsAt: i.startsAt, endsAt: i.endsAt, createdBy: p.actor };
}

/** Ends one of the caller's own delegations now (deleted, audited); 404 if not theirs. */
export async function endMyDelegation(req: FastifyRequest, id: string): Promise<void> {
  const p = principalOf(req);
  const names = await namesOfMe(req);
  await withTransaction(req.server.deps.db, async (c) => {
    const r = await c.query(
      "DELETE FROM delegations WHERE id = $1 AND lower(principal) = ANY($2) RETURNING id",
      [id, names],
    );
    if (!r.rowCount) throw new NotFoundError(`delegation ${id} not found`);
    await appendAudit(c, {
      actor: p.actor,
      action: "delegation_deleted",
      target: `delegation:${id}`,
      requestId: req.id,
      source: "portal",
    });
  });
}

/** How many orders are open and how many approvals wait: the navigation's counts. */
export async function countsOf(
  req: FastifyRequest,
  email: string,
): Promise<{ open: number; waiting: number }> {
  const own = await ordersOfPerson(req, email);
  const open = own.filter(
    (o) => !["Provisioned", "Failed", "Cancelled", "Revoked"].includes(o.status?.phase ?? ""),
  );
  return { open: open.length, waiting: (await approvalInbox(req)).length };
}

/** The display name of a person by e-mail, when SCIM knows them. */
export async function displayNameOf(req: FastifyRequest, email: string): Promise<string | undefined> {
  return (await findEmployee(req.server.deps.db, email))?.displayName ?? undefined;
}

/** The step output of an Order the caller may see (the same rule as GET /orders/:name/log). */
export async function orderLogOf(req: FastifyRequest, name: string): Promise<StoredLine[]> {
  await visibleOrder(req, name);
  return readOrderLog(req.server.deps.db, req.server.deps.namespace, name);
}

/** The Deprovision Order that returns this one, if any. */
export async function returnOrderOf(req: FastifyRequest, name: string): Promise<OrderCr | undefined> {
  return resourcesOf(req.server.deps).get<OrderSpec, OrderStatus>("Order", deprovisionOrderName(name));
}

export { deprovisionOrderName };

// The order form's confirmation step carries what was entered, sealed (AES-256-GCM under a key
// derived from the session secret): a secret attribute is never echoed into the page, and the
// values cannot be changed between review and confirm. Valid for 30 minutes, for one person.
const SEAL_TTL_MS = 30 * 60_000;
const sealKey = (req: FastifyRequest) =>
  Buffer.from(hkdfSync("sha256", req.server.security.sessionSecret, "", "ipsolis portal order review", 32));

export type OrderDraft = { assetType: string; values: Record<string, string>; reason: string };

export function sealDraft(req: FastifyRequest, d: OrderDraft): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", sealKey(req), iv);
  const body = JSON.stringify({ ...d, who: principalOf(req).actor, at: req.server.deps.now().getTime() });
  const enc = Buffer.concat([c.update(body, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), enc]).toString("base64url");
}

export function openDraft(req: FastifyRequest, sealed: string, assetType: string): OrderDraft {
  const bad = () =>
    new InputError("the order form expired or was changed: please fill it in again", {
      reason: "DraftInvalid",
    });
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length < 29) throw bad();
  let body: { assetType: string; values: Record<string, string>; reason: string; who: string; at: number };
  try {
    const d = createDecipheriv("aes-256-gcm", sealKey(req), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    body = JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8")) as typeof body;
  } catch (err) {
    throw new InputError("the order form expired or was changed: please fill it in again", {
      reason: "DraftInvalid",
      cause: err,
    });
  }
  const age = req.server.deps.now().getTime() - body.at;
  if (body.who !== principalOf(req).actor || body.assetType !== assetType || age < 0 || age > SEAL_TTL_MS)
    throw bad();
  return { assetType: body.assetType, values: body.values, reason: body.reason };
}
