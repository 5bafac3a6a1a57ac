// Approve/decline an Order: gather (Order, AssetType, delegations, audit rows of the asset
// type), decide with api/policy/approvals.ts, then append the decision to spec.approvals with
// a merge patch guarded by resourceVersion (a concurrent decision makes the second one retry
// on fresh state). N-of-M quorum is the operator's to evaluate.
import { policyForAction } from "../../../crds/approval-policy.ts";
import type { FastifyRequest } from "fastify";
import type { OrderSpec, OrderStatus } from "../../../crds/generated/order.ts";
import type { AssetTypeSpec } from "../../../crds/generated/assettype.ts";
import { withTransaction, type Queryable } from "../../../record/db.ts";
import { appendAudit, lockOrderDecisions } from "../../../record/audit.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../../../record/errors.ts";
import {
  checkApproval,
  exactNamesOf,
  SOD_ACTIONS,
  SOD_RUNBOOK_ACTIONS,
  type Approver,
  type AuditRowRef,
  type Decision,
  type Delegation,
} from "../../policy/approvals.ts";
import { personBehindActor } from "../../../record/identity/tokens.ts";
import { findEmployee, isOrderingBlocked } from "../../../record/employees/store.ts";
import { resourcesOf, type Cr } from "../../plugins/resources.ts";
import { runbooksOf } from "../../policy/acl.ts";
import { notifyDelegationStarted } from "../../notify/delegations.ts";
import { channelNamesOf } from "../../notify/settings.ts";
import { principalOf } from "../../plugins/auth.ts";

type OrderCr = Cr<OrderSpec, OrderStatus>;

/**
 * Audit rows that created, updated or cloned the asset type or a runbook it runs (provision,
 * modify, deprovision: #15 item 7), each with the person behind a token row: `data.onBehalfOf`
 * as recorded at the time, else the token's creator (token names are unique forever,
 * record/identity/tokens.ts).
 */
export async function assetTypeChanges(
  q: Queryable,
  assetType: string,
  spec?: { runbooks?: { provision?: string; modify?: string; deprovision?: string } },
): Promise<AuditRowRef[]> {
  const runbooks = spec ? runbooksOf(spec).map((n) => `runbook:${n}`) : [];
  const r = await q.query<{
    id: string;
    action: string;
    actor: string;
    at: Date;
    target: string;
    on_behalf_of: string | null;
  }>(
    `SELECT id::text AS id, action, actor, at, target, data->>'onBehalfOf' AS on_behalf_of FROM audit_events
      WHERE (target = $1 AND action = ANY($2)) OR (target = ANY($3) AND action = ANY($4)) ORDER BY id`,
    [`assettype:${assetType}`, SOD_ACTIONS, runbooks, SOD_RUNBOOK_ACTIONS],
  );
  const rows: AuditRowRef[] = [];
  for (const { on_behalf_of, ...row } of r.rows) {
    const behind =
      on_behalf_of ?? (row.actor.startsWith("token:") ? await personBehindActor(q, row.actor) : undefined);
    rows.push(behind !== undefined && behind !== row.actor ? { ...row, onBehalfOf: behind } : row);
  }
  return rows;
}

/** Delegations to a deputy known by these exact names, with each principal's account names. */
export async function delegationsFor(q: Queryable, deputyNames: string[]): Promise<Delegation[]> {
  const r = await q.query<{ principal: string; deputy: string; starts_at: Date; ends_at: Date }>(
    "SELECT principal, deputy, starts_at, ends_at FROM delegations WHERE lower(deputy) = ANY($1)",
    [deputyNames.map((n) => n.toLowerCase())],
  );
  const out: Delegation[] = [];
  for (const d of r.rows) {
    out.push({
      principal: d.principal,
      deputy: d.deputy,
      startsAt: d.starts_at,
      endsAt: d.ends_at,
      principalAliases: await aliasesOf(
        q,
        d.principal.includes("@") ? { email: d.principal } : { username: d.principal },
      ),
    });
  }
  return out;
}

/**
 * The person behind an API token actor (`token:<name>` → the account that created it), as an
 * Approver with their account names; undefined for any other actor.
 */
export async function personBehind(q: Queryable, actor: string): Promise<Approver | undefined> {
  if (!actor.startsWith("token:")) return undefined;
  const who = await personBehindActor(q, actor);
  if (who === undefined) return undefined;
  const p = approverOfActor(who);
  return { username: p.username, email: p.email, aliases: await aliasesOf(q, p) };
}

/**
 * Whom a principal decides, delegates and queues approvals as: itself, or for an API token the
 * account that created it. A token's name is not a person: a token named `bert` must not count
 * as the listed approver `bert` (it decides as its creator, and is audited as `token:<name>`).
 */
export async function deciderOf(
  q: Queryable,
  p: { actor: string; kind: string; username?: string | undefined; email?: string | undefined },
): Promise<Approver & { actor: string }> {
  if (p.kind !== "token") return { actor: p.actor, username: p.username, email: p.email };
  const person = await personBehind(q, p.actor);
  return { actor: p.actor, username: person?.username, email: person?.email };
}

/** The name a decider goes by in delegations: e-mail, else username, else the actor itself. */
export function ownNameOf(d: Approver & { actor: string }): string {
  return d.email ?? d.username ?? d.actor;
}

/**
 * The other names (username, e-mail) of the admin accounts a person goes by, matched exactly
 * by username or e-mail: separation of duties then matches an e-mail to its account's
 * username's audit rows and vice versa.
 */
export async function aliasesOf(q: Queryable, a: Approver): Promise<string[]> {
  const names = [a.username, a.email].filter((x): x is string => !!x).map((n) => n.toLowerCase());
  if (names.length === 0) return [];
  const r = await q.query<{ username: string; email: string | null }>(
    "SELECT username, email FROM users WHERE lower(username) = ANY($1) OR lower(email) = ANY($1)",
    [names],
  );
  return r.rows.flatMap((u) => [u.username, ...(u.email ? [u.email] : [])]);
}

/** A plain name (a listed entry, a delegation's principal) as an Approver to look up. */
export function approverOfName(name: string): Approver {
  return name.includes("@") ? { email: name } : { username: name };
}

/**
 * What the directory says about an order's people, for the approval rules: every identity of
 * the requester (SCIM id, userName, externalId, e-mails: a self-approval is caught whichever
 * one the approver's account carries, #15 item 5), and whether the approver is a leaver whose
 * leaver event has taken effect (nothing of theirs counts any more, item 20).
 */
export async function directoryFacts(
  q: Queryable,
  requester: { id?: string | undefined; email: string },
  approver: Approver,
  now: Date,
): Promise<{ requesterIdentities: string[]; approverIsLeaver: boolean }> {
  const ids = new Set<string>([requester.email, ...(requester.id ? [requester.id] : [])]);
  for (const key of [...ids]) {
    const e = await findEmployee(q, key);
    if (!e) continue;
    for (const v of [e.id, e.userName, e.externalId, ...e.emails]) if (v) ids.add(v);
    break;
  }
  const keys = [approver.email, approver.username].filter((x): x is string => !!x);
  let approverIsLeaver = false;
  for (const k of keys)
    if (await isOrderingBlocked(q, k.includes("@") ? { email: k } : { id: k }, now)) approverIsLeaver = true;
  return { requesterIdentities: [...ids], approverIsLeaver };
}

/**
 * Who placed an Order on someone else's behalf, from its `order_created` audit row (the record,
 * not the CR, which anyone with write access to Orders could edit), with their account names
 * and the person behind a token: they cannot approve it (#15 item 3).
 */
export async function placerOf(
  q: Queryable,
  order: string,
): Promise<(Approver & { actor: string }) | undefined> {
  const r = await q.query<{ actor: string }>(
    `SELECT actor FROM audit_events
      WHERE order_name = $1 AND action = 'order_created' AND data->>'onBehalf' = 'true' ORDER BY id LIMIT 1`,
    [order],
  );
  const actor = r.rows[0]?.actor;
  if (!actor) return undefined;
  const placer = approverOfActor(actor);
  placer.aliases = await aliasesOf(q, placer);
  placer.onBehalfOf = await personBehind(q, actor);
  return placer;
}

/** The names behind an audit actor string (`admin:<username>`, `user:<email>`, `token:<name>`). */
export function approverOfActor(actor: string): Approver & { actor: string } {
  const id = actor.slice(actor.indexOf(":") + 1);
  return id.includes("@") ? { actor, email: id } : { actor, username: id };
}

/**
 * Who the scheduler let decide in a listed approver's place on this Order (escalation to the
 * approver's manager or the escalateTo group, or reassignment from a leaver to their manager:
 * `approval_recipients`, api/notify): each counts as the approver whose place they took.
 */
export async function grantsFor(
  q: Queryable,
  order: string,
): Promise<{ approverKey: string; names: string[] }[]> {
  const r = await q.query<{ recipient: string; approver_key: string }>(
    `SELECT recipient, approver_key FROM approval_recipients
      WHERE order_name = $1 AND role IN ('escalation', 'reassigned') AND revoked_at IS NULL`,
    [order],
  );
  return r.rows.map((g) => ({ approverKey: g.approver_key, names: [g.recipient] }));
}

/**
 * The Orders on which any of `names` holds an escalation grant still standing on a request
 * still open (the inbox; a decided, expired or withdrawn one is no longer asked for).
 */
export async function escalatedOrdersFor(q: Queryable, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const r = await q.query<{ order_name: string }>(
    `SELECT DISTINCT r.order_name FROM approval_recipients r
       JOIN approval_requests a ON a.order_name = r.order_name AND a.closed_at IS NULL
      WHERE r.role IN ('escalation', 'reassigned') AND r.revoked_at IS NULL AND lower(r.recipient) = ANY($1::text[])`,
    [names.map((n) => n.toLowerCase())],
  );
  return r.rows.map((x) => x.order_name);
}

export type DecideInput = {
  order: string;
  /** Who minted the approval link this decision comes through (its audit actor string). */
  issuer?: string | undefined;
  approver: Approver & { actor: string };
  decision: Decision;
  comment?: string | undefined;
  source: "api" | "portal";
  /** Extra audit data (e.g. the approval link's id). */
  auditData?: Record<string, unknown>;
  /**
   * Runs first inside the decision's transaction (e.g. claiming a single-use link): it commits
   * with the decision and its audit row, or rolls back with them. One pooled connection.
   */
  within?: (c: Queryable) => Promise<void>;
};

/** Applies one approver's decision, or throws the refusal (404/403/409). */
export async function decideOrder(req: FastifyRequest, i: DecideInput): Promise<OrderCr> {
  const { db, now } = req.server.deps;
  const res = resourcesOf(req.server.deps);
  // An API token's approver is already its creator (deciderOf): SoD and self-approval check them.
  const approver = { ...i.approver, aliases: await aliasesOf(db, i.approver) };
  const names = exactNamesOf(approver);
  const issuer = i.issuer ? approverOfActor(i.issuer) : undefined;
  if (issuer) {
    issuer.aliases = await aliasesOf(db, issuer);
    issuer.onBehalfOf = await personBehind(db, issuer.actor);
  }
  for (let attempt = 0; ; attempt++) {
    const o = await res.get<OrderSpec, OrderStatus>("Order", i.order);
    if (!o) throw new NotFoundError(`order "${i.order}" not found`);
    const at = await res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
    if (!at)
      throw new ConflictError(`asset type "${o.spec.assetType}" of this order no longer exists`, {
        reason: "NoAssetType",
      });
    const facts = await directoryFacts(db, o.spec.requester, approver, now());
    const verdict = checkApproval({
      approver,
      issuer,
      approverIsLeaver: facts.approverIsLeaver,
      decision: i.decision,
      order: {
        phase: o.status?.phase,
        requesterEmail: o.spec.requester.email,
        manager: o.spec.requester.manager,
        approvals: o.spec.approvals ?? [],
        requesterIdentities: facts.requesterIdentities,
        placedBy: await placerOf(db, o.metadata.name),
      },
      // A Modify Order is decided under the type's onModify policy (crds/approval-policy.ts).
      policy: {
        kind: policyForAction(at.spec.approval, o.spec.action).policy,
        approvers: [...(policyForAction(at.spec.approval, o.spec.action).approvers ?? [])],
      },
      delegations: await delegationsFor(db, names),
      grants: await grantsFor(db, o.metadata.name),
      assetTypeChanges:
        i.decision === "Approved" ? await assetTypeChanges(db, o.spec.assetType, at.spec) : [],
      now: now(),
    });
    if (!verdict.ok) {
      if (verdict.reason === "SeparationOfDuties") {
        const row = verdict.row;
        throw new ConflictError(verdict.message, {
          reason: verdict.reason,
          details: {
            auditRow: { id: row.id, action: row.action, actor: row.actor, at: row.at.toISOString() },
          },
        });
      }
      if (verdict.reason === "NotApprover")
        throw new ForbiddenError(verdict.message, { reason: verdict.reason });
      throw new ConflictError(verdict.message, { reason: verdict.reason });
    }
    const comment = [i.comment, verdict.viaDeputy ? `decided by deputy ${i.approver.actor}` : undefined]
      .filter(Boolean)
      .join(" — ");
    const entry = {
      approver: verdict.approverKey,
      decision: i.decision,
      at: now().toISOString(),
      ...(comment ? { comment } : {}),
    };
    try {
      // One audit row per decision, this one: the decision lock (record/audit.ts) is held from
      // before the Order changes until the row commits, so the history mirror, which would write
      // a row for a decision it finds unrecorded, sees this one. Postgres away = 503 before the
      // Order changes: no decision without its row.
      const after = await withTransaction(db, async (c) => {
        await i.within?.(c);
        await lockOrderDecisions(c, o.metadata.name);
        const after = await res.mergePatch<OrderSpec, OrderStatus>(
          "Order",
          o.metadata.name,
          { spec: { approvals: [...(o.spec.approvals ?? []), entry] } },
          o.metadata.resourceVersion,
        );
        await appendAudit(c, {
          actor: i.approver.actor,
          action: i.decision === "Approved" ? "order_approved" : "order_declined",
          target: `order:${o.metadata.name}`,
          order: o.metadata.name,
          requestId: req.id,
          source: i.source,
          data: {
            approver: verdict.approverKey,
            decision: i.decision,
            at: entry.at,
            viaDeputy: verdict.viaDeputy,
            ...(i.auditData ?? {}),
          },
        });
        return after;
      });
      req.server.metrics.approvals.inc({ decision: i.decision, source: i.source });
      return after;
    } catch (err) {
      // resourceVersion moved (someone else decided, or the operator wrote): decide again.
      if (err instanceof ConflictError && attempt < 3) continue;
      throw err;
    }
  }
}

/**
 * Records one delegation: its row, its `delegation_created` audit row and, when its window has
 * already begun, the deputy's "you are deputising" message, in one transaction (the JSON route
 * and the portal's form both come here). A window that starts later is told by the approval
 * schedule when it starts (api/notify/approval-requests.ts tellStartedDelegations).
 */
export async function recordDelegation(
  req: FastifyRequest,
  d: {
    principal: string;
    deputy: string;
    startsAt: Date;
    endsAt: Date;
    reason?: string | undefined;
    source: "api" | "portal";
  },
): Promise<string> {
  const { db, now, config } = req.server.deps;
  const p = principalOf(req);
  return withTransaction(db, async (c) => {
    const r = await c.query<{ id: string }>(
      `INSERT INTO delegations (principal, deputy, starts_at, ends_at, created_by, reason)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text AS id`,
      [d.principal, d.deputy, d.startsAt, d.endsAt, p.actor, d.reason ?? null],
    );
    const id = r.rows[0]!.id;
    if (d.startsAt.getTime() <= now().getTime())
      await notifyDelegationStarted(c, { id, ...d, channels: channelNamesOf(config ?? {}), now: now() });
    await appendAudit(c, {
      actor: p.actor,
      action: "delegation_created",
      target: `delegation:${id}`,
      requestId: req.id,
      source: d.source,
      data: {
        principal: d.principal,
        deputy: d.deputy,
        startsAt: d.startsAt.toISOString(),
        endsAt: d.endsAt.toISOString(),
        ...(d.reason ? { reason: d.reason } : {}),
      },
    });
    return id;
  });
}
