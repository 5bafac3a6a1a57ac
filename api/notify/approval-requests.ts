// The edge between Orders and the outbox (issue #17). `syncOrder` is level-triggered: from one
// observed Order it opens the approval request (Postgres `approval_requests`), writes one
// `approval_requested` message per eligible approver and active deputy that has none yet, closes
// the request once the Order left PendingApproval, and tells the requester each outcome once.
// `runApprovalSchedule` drives reminders, escalation and expiry from api/policy/approvals-schedule.ts.
// Every write is guarded by a unique key or a compare-and-set on the request row, so two API
// replicas, a restarted process or a CronJob tick running beside them never send twice.
import type { Logger } from "pino";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import type { AssetTypeSpec } from "../../crds/generated/assettype.ts";
import { awaitedApprovals, EXPIRY_APPROVER, normName, policyForAction } from "../../crds/approval-policy.ts";
import { appendAudit, lockOrderDecisions } from "../../record/audit.ts";
import { withTransaction, type Db, type Queryable } from "../../record/db.ts";
import { findEmployee, isOrderingBlocked } from "../../record/employees/store.ts";
import { ConflictError } from "../../record/errors.ts";
import type { Cr, Resources } from "../plugins/resources.ts";
import {
  approvalRecipients,
  escalationRecipients,
  isRecentOutcome,
  leaverReassignment,
  openApproverKeys,
  outcomesOf,
  type DelegationWindow,
  type Recipient,
} from "../policy/approvals-notify.ts";
import { expiryOf, planApprovalRequest, timingOf } from "../policy/approvals-schedule.ts";
import { newLinkId } from "../routes/approvals/links.ts";
import { aliasesOf } from "../routes/approvals/service.ts";
import type { ChannelName } from "./channels.ts";
import { enqueue, NOTIFY_ACTOR, type LinkClaims } from "./outbox.ts";
import { channelsFor } from "./settings.ts";
import { notifyDelegationStarted } from "./delegations.ts";
import { langOf, type Lang, type MessageData, type NotificationKind } from "./templates.ts";

/** The actor of the scheduler's own writes (expiry, escalation): crds/approval-policy.ts. */
export const SCHEDULER_ACTOR = EXPIRY_APPROVER;

export type OrderCr = Cr<OrderSpec, OrderStatus>;

export type NotifierDeps = {
  db: Db;
  res: Resources;
  log: Logger;
  now: () => Date;
  /** Channels the installation has configured, and those used when an asset type names none. */
  channels: { configured: readonly ChannelName[]; defaults: readonly ChannelName[] };
};

// ---- directory reads (SCIM employees, admin accounts) ----

/** A listed name's e-mail: itself when it is one, else its admin account's, else its employee's. */
async function emailOfName(q: Queryable, name: string): Promise<string | undefined> {
  if (name.includes("@")) return normName(name);
  const u = await q.query<{ email: string }>(
    "SELECT email FROM users WHERE lower(username) = lower($1) AND email IS NOT NULL AND NOT disabled",
    [name],
  );
  if (u.rows[0]) return normName(u.rows[0].email);
  return (await findEmployee(q, name))?.emails[0];
}

/** The person's SCIM manager's e-mail (manager by id, userName or e-mail). */
async function managerEmailOf(q: Queryable, name: string): Promise<string | undefined> {
  const m = (await findEmployee(q, name))?.manager ?? undefined;
  if (!m) return undefined;
  return m.includes("@") ? normName(m) : (await findEmployee(q, m))?.emails[0];
}

/** The recipient's language: SCIM preferredLanguage when present, English otherwise. */
async function langOfPerson(q: Queryable, email: string): Promise<Lang> {
  const e = await findEmployee(q, email);
  const p = e?.resource.preferredLanguage;
  return langOf(typeof p === "string" ? p : undefined);
}

async function activeDelegations(q: Queryable, now: Date): Promise<DelegationWindow[]> {
  const r = await q.query<{ principal: string; deputy: string; starts_at: Date; ends_at: Date }>(
    "SELECT principal, deputy, starts_at, ends_at FROM delegations WHERE starts_at <= $1 AND ends_at > $1",
    [now],
  );
  const out: DelegationWindow[] = [];
  for (const d of r.rows) {
    const who = d.principal.includes("@") ? { email: d.principal } : { username: d.principal };
    out.push({
      principal: d.principal,
      deputy: d.deputy,
      startsAt: d.starts_at,
      endsAt: d.ends_at,
      principalAliases: await aliasesOf(q, who),
    });
  }
  return out;
}

// ---- what a message shows ----

/** The requester as people know them: the directory's display name (SCIM), else the Order's. */
async function requesterNameOf(q: Queryable, o: OrderCr): Promise<string> {
  const r = o.spec.requester;
  const name = (await findEmployee(q, r.email))?.displayName ?? r.displayName;
  return name && normName(name) !== normName(r.email) ? `${name} (${r.email})` : r.email;
}

function dataOf(
  o: OrderCr,
  at: Cr<AssetTypeSpec> | undefined,
  requester: string,
  expiresAt?: Date,
): MessageData {
  return {
    order: o.metadata.name,
    assetType: at?.spec.displayName ?? o.spec.assetType,
    requester,
    ...(o.spec.reason ? { reason: o.spec.reason } : {}),
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
  };
}

/**
 * A system-minted link outlives its request by this much, so that a late click says "the
 * approval of this order expired" (409, from the decision rules) rather than only "this link
 * expired"; the request's expiry itself is enforced by the `system:approvals` entry.
 */
export const LINK_GRACE_MS = 7 * 24 * 3600_000;

function linkOf(order: string, r: { linkApprover: string; linkId: string }, expiresAt: Date): LinkClaims {
  return {
    order,
    approver: r.linkApprover,
    expiresAt: new Date(expiresAt.getTime() + LINK_GRACE_MS).toISOString(),
    id: r.linkId,
    issuer: NOTIFY_ACTOR,
  };
}

type Gathered = {
  at: Cr<AssetTypeSpec>;
  requester: string;
  channels: ChannelName[];
  requestedAt: Date;
  expiresAt: Date;
  timing: ReturnType<typeof timingOf>;
};

async function gather(d: NotifierDeps, o: OrderCr): Promise<Gathered | undefined> {
  const at = await d.res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
  if (!at) return undefined;
  const timing = timingOf(at.spec.approval);
  const requestedAt = new Date(o.metadata.creationTimestamp ?? d.now());
  return {
    at,
    requester: await requesterNameOf(d.db, o),
    channels: channelsFor(at.spec.approval.channels, d.channels),
    requestedAt,
    expiresAt: expiryOf(requestedAt, timing),
    timing,
  };
}

const hasExpired = (o: OrderCr) => (o.spec.approvals ?? []).some((a) => a.approver === EXPIRY_APPROVER);

/** One Order, level-triggered. Returns how many outbox rows it wrote. */
export async function syncOrder(d: NotifierDeps, o: OrderCr): Promise<number> {
  if (o.status?.phase === "PendingApproval" && !hasExpired(o)) return openRequest(d, o);
  let added = 0;
  const reason =
    o.status?.phase === "Cancelled"
      ? "withdrawn"
      : hasExpired(o)
        ? "expired"
        : o.status?.phase === undefined
          ? undefined
          : "decided";
  if (reason) await closeRequest(d.db, o.metadata.name, reason, d.now());
  added += await tellOutcomes(d, o);
  return added;
}

/** Closes an open request (decided, expired, withdrawn): no reminders from then on. */
export async function closeRequest(q: Queryable, order: string, reason: string, now: Date): Promise<void> {
  await q.query(
    "UPDATE approval_requests SET closed_at = $2, closed_reason = $3 WHERE order_name = $1 AND closed_at IS NULL",
    [order, now, reason],
  );
}

async function openRequest(d: NotifierDeps, o: OrderCr): Promise<number> {
  const g = await gather(d, o);
  if (!g) return 0;
  const now = d.now();
  const policy = policyForAction(g.at.spec.approval, o.spec.action);
  const requester = o.spec.requester;
  const decided = (o.spec.approvals ?? []).map((a) => a.approver);
  const keys = openApproverKeys({ policy, requester, decided });
  const emailOf = new Map<string, string | undefined>();
  for (const k of keys) emailOf.set(k, await emailOfName(d.db, k));
  const delegations = await activeDelegations(d.db, now);
  const deputyEmailOf = new Map<string, string | undefined>();
  for (const x of delegations) deputyEmailOf.set(x.deputy, await emailOfName(d.db, x.deputy));
  const recipients = approvalRecipients({
    policy,
    requester,
    decided,
    emailOf,
    deputyEmailOf,
    delegations,
    now,
  });
  for (const k of keys) {
    if (!recipients.some((r) => normName(r.approverKey) === normName(k) && r.role === "approver"))
      d.log.warn({ order: o.metadata.name, approver: k }, "approver has no e-mail address: not notified");
  }
  return withTransaction(d.db, async (c) => {
    await c.query(
      `INSERT INTO approval_requests (order_name, asset_type, requested_at, last_notified_at)
       VALUES ($1, $2, $3, $3) ON CONFLICT (order_name) DO NOTHING`,
      [o.metadata.name, o.spec.assetType, g.requestedAt],
    );
    const open = await c.query<{ closed_at: Date | null }>(
      "SELECT closed_at FROM approval_requests WHERE order_name = $1 FOR UPDATE",
      [o.metadata.name],
    );
    if (open.rows[0]?.closed_at) return 0;
    let added = 0;
    for (const r of recipients) {
      added += await addRecipient(
        c,
        d,
        o,
        g,
        r,
        "approval_requested",
        `approval_requested:${o.metadata.name}`,
      );
    }
    return added;
  });
}

/** Adds one holder of the request (once: the primary key) and queues their message. */
async function addRecipient(
  c: Queryable,
  d: NotifierDeps,
  o: OrderCr,
  g: Gathered,
  r: Recipient,
  kind: NotificationKind,
  eventKey: string,
  extra: MessageData = {},
): Promise<number> {
  const linkId = newLinkId();
  const ins = await c.query(
    `INSERT INTO approval_recipients (order_name, recipient, role, approver_key, link_id, added_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_name, recipient) DO NOTHING`,
    [o.metadata.name, r.email, r.role, r.approverKey, linkId, d.now()],
  );
  if (!ins.rowCount) return 0;
  return enqueue(
    c,
    {
      eventKey,
      kind,
      recipient: r.email,
      channels: g.channels,
      lang: await langOfPerson(c, r.email),
      data: { ...dataOf(o, g.at, g.requester, g.expiresAt), ...extra },
      link: linkOf(o.metadata.name, { linkApprover: r.linkApprover, linkId }, g.expiresAt),
    },
    d.now(),
  );
}

async function tellOutcomes(d: NotifierDeps, o: OrderCr): Promise<number> {
  const now = d.now();
  const outcomes = outcomesOf({
    action: o.spec.action,
    phase: o.status?.phase,
    conditions: o.status?.conditions,
    steps: o.status?.steps,
    approvals: o.spec.approvals,
  }).filter((x) => isRecentOutcome(x.at, now));
  if (outcomes.length === 0) return 0;
  const at = await d.res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
  const channels = channelsFor(at?.spec.approval.channels, d.channels);
  const to = normName(o.spec.requester.email);
  const lang = await langOfPerson(d.db, to);
  let added = 0;
  for (const x of outcomes) {
    added += await withTransaction(d.db, async (c) => {
      const first = await c.query(
        `INSERT INTO order_outcome_notices (order_name, outcome, noticed_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING`,
        [o.metadata.name, x.outcome, now],
      );
      if (!first.rowCount) return 0;
      return enqueue(
        c,
        {
          eventKey: `order_outcome:${o.metadata.name}:${x.outcome}`,
          kind: "order_outcome",
          recipient: to,
          channels,
          lang,
          data: {
            ...dataOf(o, at, await requesterNameOf(c, o)),
            outcome: x.outcome,
            ...(x.detail ? { detail: x.detail } : {}),
          },
        },
        now,
      );
    });
  }
  return added;
}

// ---- reminders, escalation, expiry ----

type OpenRow = {
  order_name: string;
  requested_at: Date;
  reminders_sent: number;
  last_notified_at: Date;
  escalated_at: Date | null;
};

type HolderRow = { recipient: string; role: string; approver_key: string; link_id: string | null };

/**
 * One pass over every open approval request: each gets at most its due actions (expiry first,
 * then escalation, then a reminder). Safe beside other passes: each action is a compare-and-set
 * on the request row. Returns what it did, for the CLI's log line and the tests.
 */
export async function runApprovalSchedule(d: NotifierDeps): Promise<{
  reminded: number;
  escalated: number;
  expired: number;
  closed: number;
  reassigned: number;
  deputiesTold: number;
}> {
  const out = { reminded: 0, escalated: 0, expired: 0, closed: 0, reassigned: 0, deputiesTold: 0 };
  // Deputies whose window has begun since the last pass (one set for later is told then).
  out.deputiesTold = await tellStartedDelegations(d).catch((err: unknown) => {
    d.log.warn({ err }, "telling deputies failed; the next tick retries");
    return 0;
  });
  const open = await d.db.query<OpenRow>(
    `SELECT order_name, requested_at, reminders_sent, last_notified_at, escalated_at
       FROM approval_requests WHERE closed_at IS NULL ORDER BY requested_at`,
  );
  for (const row of open.rows) {
    try {
      const o = await d.res.get<OrderSpec, OrderStatus>("Order", row.order_name);
      if (!o) {
        await closeRequest(d.db, row.order_name, "withdrawn", d.now());
        out.closed++;
        continue;
      }
      if (o.status?.phase !== "PendingApproval" || hasExpired(o)) {
        await syncOrder(d, o);
        out.closed++;
        continue;
      }
      // New deputies (a delegation that started since) and approvers get their request first.
      await openRequest(d, o);
      const g = await gather(d, o);
      if (!g) continue;
      // An approver who left cannot decide: their places go to someone who can.
      out.reassigned += await reassignLeavers(d, o, g);
      let state = {
        requestedAt: row.requested_at,
        remindersSent: row.reminders_sent,
        lastNotifiedAt: row.last_notified_at,
        escalatedAt: row.escalated_at ?? undefined,
      };
      for (let i = 0; i < 3; i++) {
        const now = d.now();
        const plan = planApprovalRequest(state, g.timing, now);
        if (plan.kind === "Wait") break;
        if (plan.kind === "Expire") {
          if (await expire(d, o, plan.message)) out.expired++;
          break;
        }
        if (plan.kind === "Escalate") {
          if (await escalate(d, o, g, now)) out.escalated++;
          state = { ...state, escalatedAt: now };
          continue;
        }
        if (await remind(d, o, g, plan.number, now)) out.reminded++;
        state = { ...state, remindersSent: plan.number, lastNotifiedAt: now };
      }
    } catch (err) {
      d.log.warn({ err, order: row.order_name }, "approval schedule failed for one order; next tick retries");
    }
  }
  return out;
}

/**
 * "You are deputising" for every delegation whose window is open now: once each (the outbox key
 * `delegation_started:<id>`; one told when it was set is not told again).
 */
async function tellStartedDelegations(d: NotifierDeps): Promise<number> {
  const now = d.now();
  const r = await d.db.query<{
    id: string;
    principal: string;
    deputy: string;
    starts_at: Date;
    ends_at: Date;
    reason: string | null;
  }>(
    `SELECT id::text AS id, principal, deputy, starts_at, ends_at, reason FROM delegations
      WHERE starts_at <= $1 AND ends_at > $1 ORDER BY starts_at`,
    [now],
  );
  let told = 0;
  for (const x of r.rows) {
    // Rows written (one per channel) > 0: this deputy was told now.
    const rows = await notifyDelegationStarted(d.db, {
      id: x.id,
      principal: x.principal,
      deputy: x.deputy,
      startsAt: x.starts_at,
      endsAt: x.ends_at,
      reason: x.reason ?? undefined,
      channels: d.channels,
      now,
    });
    if (rows > 0) told++;
  }
  return told;
}

async function holdersOf(q: Queryable, order: string): Promise<HolderRow[]> {
  const r = await q.query<HolderRow>(
    `SELECT recipient, role, approver_key, link_id FROM approval_recipients
      WHERE order_name = $1 AND revoked_at IS NULL ORDER BY added_at, recipient`,
    [order],
  );
  return r.rows;
}

async function remind(d: NotifierDeps, o: OrderCr, g: Gathered, n: number, now: Date): Promise<boolean> {
  const decided = new Set((o.spec.approvals ?? []).map((a) => normName(a.approver)));
  return withTransaction(d.db, async (c) => {
    const cas = await c.query(
      `UPDATE approval_requests SET reminders_sent = $2, last_notified_at = $3
        WHERE order_name = $1 AND reminders_sent = $4 AND closed_at IS NULL`,
      [o.metadata.name, n, now, n - 1],
    );
    if (!cas.rowCount) return false;
    for (const h of await holdersOf(c, o.metadata.name)) {
      if (decided.has(normName(h.approver_key)) || !h.link_id) continue;
      await enqueue(
        c,
        {
          eventKey: `approval_reminder:${o.metadata.name}:${n}`,
          kind: "approval_reminder",
          recipient: h.recipient,
          channels: g.channels,
          lang: await langOfPerson(c, h.recipient),
          data: { ...dataOf(o, g.at, g.requester, g.expiresAt), number: String(n) },
          link: linkOf(
            o.metadata.name,
            { linkApprover: h.role === "approver" ? h.approver_key : h.recipient, linkId: h.link_id },
            g.expiresAt,
          ),
        },
        now,
      );
    }
    return true;
  });
}

async function escalate(d: NotifierDeps, o: OrderCr, g: Gathered, now: Date): Promise<boolean> {
  const policy = policyForAction(g.at.spec.approval, o.spec.action);
  const requester = o.spec.requester;
  const keys = openApproverKeys({
    policy,
    requester,
    decided: (o.spec.approvals ?? []).map((a) => a.approver),
  });
  const escalateTo = g.at.spec.approval.escalateTo ?? [];
  const managers = new Map<string, string | undefined>();
  if (escalateTo.length === 0) for (const k of keys) managers.set(k, await managerEmailOf(d.db, k));
  const holders = await holdersOf(d.db, o.metadata.name);
  const targets = escalationRecipients({
    openKeys: keys,
    escalateTo,
    managerEmailOf: managers,
    requester,
    alreadyHolding: holders.map((h) => h.recipient),
  });
  return withTransaction(d.db, async (c) => {
    const cas = await c.query(
      `UPDATE approval_requests SET escalated_at = $2
        WHERE order_name = $1 AND escalated_at IS NULL AND closed_at IS NULL`,
      [o.metadata.name, now],
    );
    if (!cas.rowCount) return false;
    for (const t of targets) {
      await addRecipient(c, d, o, g, t, "approval_escalated", `approval_escalated:${o.metadata.name}`, {
        inPlaceOf: t.approverKey,
      });
    }
    await appendAudit(c, {
      actor: SCHEDULER_ACTOR,
      action: "approval_escalated",
      target: `order:${o.metadata.name}`,
      order: o.metadata.name,
      source: "api",
      data: {
        to: targets.map((t) => ({ recipient: t.email, inPlaceOf: t.approverKey })),
        ...(targets.length === 0 ? { note: "no escalation target (no SCIM manager, no escalateTo)" } : {}),
      },
    });
    if (targets.length === 0)
      d.log.warn({ order: o.metadata.name }, "approval due for escalation but nobody to escalate to");
    return true;
  });
}

/**
 * Reassigns the open places of approvers who became leavers (api/policy leaverReassignment):
 * the leaver's links stop counting (revoked), the new holder gets the request with its own link,
 * and each place is audited `approval_reassigned` once, under the request's row lock, so two
 * passes (two replicas, or a tick beside a leaver event) never do it twice. Returns how many
 * places moved.
 */
export async function reassignLeavers(d: NotifierDeps, o: OrderCr, g: Gathered): Promise<number> {
  const now = d.now();
  const policy = policyForAction(g.at.spec.approval, o.spec.action);
  const requester = o.spec.requester;
  const awaited = awaitedApprovals(policy, requester, o.spec.approvals ?? []);
  if (!awaited) return 0;
  const leavers: string[] = [];
  for (const k of awaited.approvers)
    if (await isOrderingBlocked(d.db, k.includes("@") ? { email: k } : { id: k }, now)) leavers.push(k);
  if (leavers.length === 0) return 0;
  const managers = new Map<string, string | undefined>();
  for (const k of leavers) {
    const m = (await findEmployee(d.db, k))?.manager;
    const mgr = m ? await findEmployee(d.db, m) : undefined;
    managers.set(k, mgr?.active ? mgr.emails[0] : undefined);
  }
  return withTransaction(d.db, async (c) => {
    const open = await c.query<{ closed_at: Date | null }>(
      "SELECT closed_at FROM approval_requests WHERE order_name = $1 FOR UPDATE",
      [o.metadata.name],
    );
    if (!open.rows[0] || open.rows[0].closed_at) return 0;
    const done = await c.query<{ key: string }>(
      `SELECT lower(data->>'inPlaceOf') AS key FROM audit_events
        WHERE order_name = $1 AND action = 'approval_reassigned'`,
      [o.metadata.name],
    );
    const handled = done.rows.map((r) => r.key);
    const todo = leavers.filter((k) => !handled.includes(normName(k)));
    if (todo.length === 0) return 0;
    const holders = await holdersOf(c, o.metadata.name);
    const places = leaverReassignment({
      policy,
      openKeys: awaited.approvers,
      leavers,
      handled,
      needed: awaited.needed,
      managerEmailOf: managers,
      requester,
      alreadyHolding: holders
        .filter((h) => !todo.some((k) => normName(k) === normName(h.approver_key)))
        .map((h) => h.recipient),
    });
    for (const p of places) {
      // The leaver, and anyone holding the place through them (their deputy), stop counting.
      await c.query(
        `UPDATE approval_recipients SET revoked_at = $3
          WHERE order_name = $1 AND lower(approver_key) = lower($2) AND role IN ('approver', 'deputy') AND revoked_at IS NULL`,
        [o.metadata.name, p.key, now],
      );
      // The manager may have held it through the leaver (their deputy: just revoked): the grant
      // replaces that row, so they get a new link that counts as the leaver.
      if (p.kind === "ToManager") {
        await c.query(
          "DELETE FROM approval_recipients WHERE order_name = $1 AND recipient = $2 AND revoked_at IS NOT NULL",
          [o.metadata.name, p.to.email],
        );
        await addRecipient(
          c,
          d,
          o,
          g,
          p.to,
          "approval_reassigned",
          `approval_reassigned:${o.metadata.name}`,
          {
            inPlaceOf: p.key,
          },
        );
      }
      await appendAudit(c, {
        actor: SCHEDULER_ACTOR,
        action: "approval_reassigned",
        target: `order:${o.metadata.name}`,
        order: o.metadata.name,
        source: "api",
        data: {
          inPlaceOf: p.key,
          ...(p.kind === "ToManager"
            ? { to: p.to.email }
            : p.kind === "RemainingApprovers"
              ? { to: p.remaining, note: "the remaining approvers can still reach the quorum" }
              : { to: [], note: p.why }),
        },
      });
      if (p.kind === "Nobody")
        d.log.warn(
          { order: o.metadata.name, approver: p.key },
          `approver left; nobody to reassign to: ${p.why}`,
        );
    }
    return places.filter((p) => p.kind === "ToManager").length;
  });
}

/**
 * Appends the `system:approvals` entry (the operator then fails the Order ApprovalExpired) under
 * the decision lock, with its one audit row, and closes the request. The requester's mail comes
 * from the outcome once the operator has written it (level-triggered, like every outcome).
 */
async function expire(d: NotifierDeps, o: OrderCr, message: string): Promise<boolean> {
  const at = d.now().toISOString();
  const entry = { approver: EXPIRY_APPROVER, decision: "Declined" as const, at, comment: message };
  try {
    await withTransaction(d.db, async (c) => {
      await lockOrderDecisions(c, o.metadata.name);
      await d.res.mergePatch<OrderSpec, OrderStatus>(
        "Order",
        o.metadata.name,
        { spec: { approvals: [...(o.spec.approvals ?? []), entry] } },
        o.metadata.resourceVersion,
      );
      // The action the history mirror looks for (record/mirror.ts): one row for this entry.
      await appendAudit(c, {
        actor: SCHEDULER_ACTOR,
        action: "order_declined",
        target: `order:${o.metadata.name}`,
        order: o.metadata.name,
        source: "api",
        data: { approver: EXPIRY_APPROVER, decision: "Declined", at, reason: "ApprovalExpired", message },
      });
      await closeRequest(c, o.metadata.name, "expired", d.now());
    });
  } catch (err) {
    // Someone decided (or the operator wrote) meanwhile: the next tick looks again.
    if (err instanceof ConflictError) return false;
    throw err;
  }
  return true;
}
