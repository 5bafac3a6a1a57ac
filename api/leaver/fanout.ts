// The leaver edge: record an event, fan it out (one Deprovision Order per held asset, each
// audited once), report per-asset outcome, retry the failed ones, re-activate. The rules are
// in decide.ts; here are only reads, writes and their order.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { appendAudit } from "../../record/audit.ts";
import { withTransaction, type Db, type Queryable } from "../../record/db.ts";
import { AppError } from "../../record/errors.ts";
import {
  advanceLeaverItem,
  claimLeaverEvent,
  closeLeaverEvent,
  dueLeaverEvents,
  getLeaverEvent,
  insertLeaverItem,
  leaverItems,
  markLeaverProcessed,
  openLeaverEventsFor,
  recentlyProcessedLeaverEvents,
  recordLeaverEvent,
  type LeaverEvent,
} from "../../record/leavers/store.ts";
import type { AssetType, Order, Runbook } from "../../crds/generated/index.ts";
import { deprovisionSystems, leaverSystems, type SystemProgress } from "../policy/integrations.ts";
import {
  deprovisionOrderName,
  isRetryable,
  outcomeOf,
  pendingOrdersOf,
  planFanout,
  summarise,
  type Outcome,
  type PlannedDeprovision,
  type Subject,
} from "./decide.ts";
import { createOrder, listAssetTypes, listOrders, listRunbooks, requestCancel, viewOf } from "./orders.ts";
import { deleteEmployeeSessions } from "../../record/identity/sessions.ts";
import { findEmployee } from "../../record/employees/store.ts";
import type { ApiConfig } from "../config.ts";
import { enqueue } from "../notify/outbox.ts";
import { channelNamesOf, channelsFor } from "../notify/settings.ts";
import { langOf } from "../notify/templates.ts";

export type LeaverDeps = {
  db: Db;
  kc: KubeConfig;
  namespace: string;
  now: () => Date;
  log: Logger;
  /** The API's settings: which notification channels exist (the manager's leaver summary). */
  config?: Partial<ApiConfig> | undefined;
};

/** Who reported it: the audit actor and source of every row the event causes. */
export type Attribution = { actor: string; source: string; requestId?: string };

/** How long a fan-out may hold an event before another process takes it over. */
export const LEASE_MS = 5 * 60_000;
/** Parallel creates against the API server: fast, yet gentle on its priority-and-fairness queues. */
const CONCURRENCY = 16;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function eventTarget(s: { employeeId: string | null; identifier: string }): string {
  return s.employeeId ? `employee:${s.employeeId}` : `identifier:${s.identifier}`;
}

async function endSessions(q: Queryable, subject: Subject, by: Attribution): Promise<void> {
  const ended = await deleteEmployeeSessions(q, subject);
  if (ended === 0) return;
  await appendAudit(q, {
    actor: by.actor,
    action: "sessions_ended",
    target: eventTarget({
      employeeId: subject.employeeId,
      identifier: subject.emails[0] ?? subject.ids[0] ?? "",
    }),
    source: by.source,
    ...(by.requestId ? { requestId: by.requestId } : {}),
    data: { sessions: ended, reason: "Leaver" },
  });
}

/** What would be revoked now, changing nothing (dry run). */
export async function planFor(
  deps: LeaverDeps,
  subject: Subject,
): Promise<{
  deprovisions: PlannedDeprovision[];
  cancels: string[];
  /** The cancels with their asset types (for ACL scoping). */
  cancelOrders: { name: string; assetType: string }[];
}> {
  const orders = (await listOrders(deps.kc, deps.namespace)).map(viewOf);
  const cancels = pendingOrdersOf(orders, subject);
  const typeOf = new Map(orders.map((o) => [o.name, o.assetType]));
  return {
    deprovisions: planFanout(orders, subject),
    cancels,
    cancelOrders: cancels.map((name) => ({ name, assetType: typeOf.get(name) ?? "" })),
  };
}

/**
 * Records a leaver event (or finds the open one for this person) and audits it. The person is
 * blocked from ordering from the effective date on (isOrderingBlocked reads this row).
 */
export async function recordLeaver(
  deps: LeaverDeps,
  q: Queryable,
  r: { subject: Subject; identifier: string; effectiveAt: Date; by: Attribution },
): Promise<{ event: LeaverEvent; created: boolean }> {
  const now = deps.now();
  const res = await recordLeaverEvent(q, {
    leaverKey: r.subject.leaverKey,
    employeeId: r.subject.employeeId,
    identifier: r.identifier,
    subjectIds: r.subject.ids,
    subjectEmails: r.subject.emails,
    displayName: r.subject.displayName,
    source: r.by.source,
    actor: r.by.actor,
    requestId: r.by.requestId ?? null,
    effectiveAt: r.effectiveAt,
    now,
  });
  // A leaver whose last day has come is signed out of the portal at once, not when the
  // session would have expired (future-dated events: when processLeaver runs them).
  if (res.event.effectiveAt <= now) await endSessions(q, r.subject, r.by);
  await appendAudit(q, {
    actor: r.by.actor,
    action: res.created ? "leaver_recorded" : "leaver_redelivered",
    target: eventTarget({ employeeId: r.subject.employeeId, identifier: r.identifier }),
    source: r.by.source,
    ...(r.by.requestId ? { requestId: r.by.requestId } : {}),
    data: {
      leaverEvent: res.event.id,
      identifier: r.identifier,
      effectiveAt: res.event.effectiveAt.toISOString(),
      reportedBy: res.event.source,
      deliveries: res.event.deliveries,
    },
  });
  return res;
}

export type FanoutResult = {
  eventId: string;
  processed: boolean;
  queued: number;
  failed: number;
  existing: number;
};

/**
 * Fans a due event out: a Deprovision Order `<target>-deprovision` per held asset, created in
 * parallel; each failure is recorded on its item and never stops the others. Safe to call
 * twice, concurrently, or after a crash: the lease admits one process, the names make creates
 * idempotent, and the item's primary key makes each audit row appear once.
 */
export async function processLeaver(deps: LeaverDeps, eventId: string): Promise<FanoutResult> {
  const ev = await claimLeaverEvent(deps.db, eventId, deps.now(), LEASE_MS);
  if (!ev) return { eventId, processed: false, queued: 0, failed: 0, existing: 0 };
  const by = attributionOf(ev);
  await endSessions(deps.db, subjectOf(ev), by);
  const orders = await listOrders(deps.kc, deps.namespace);
  const plan = planFanout(orders.map(viewOf), subjectOf(ev));
  await appendAudit(deps.db, {
    ...auditBase(by),
    action: "leaver_fanout_started",
    target: eventTarget(ev),
    data: { leaverEvent: ev.id, assets: plan.length, targets: plan.map((p) => p.target).slice(0, 100) },
  });
  const r = await queueDeprovisions(deps, ev, orders, plan);
  const names = new Map(
    (await listAssetTypes(deps.kc, deps.namespace).catch(() => [])).map((a) => [
      a.metadata?.name ?? "",
      a.spec.displayName,
    ]),
  );
  // Processed, its audit row and the manager's summary together: a crash leaves all three to
  // the next run (the outbox key keeps the summary single).
  await withTransaction(deps.db, async (c) => {
    await markLeaverProcessed(c, ev.id, deps.now());
    const told = await tellManagerOfLeaver(c, deps, ev, plan, names);
    await appendAudit(c, {
      ...auditBase(by),
      action: "leaver_fanout_finished",
      target: eventTarget(ev),
      data: {
        leaverEvent: ev.id,
        assets: plan.length,
        failed: r.failed,
        alreadyQueued: r.existing,
        cancelled: r.cancelled,
        ...(told ? { managerTold: told } : {}),
      },
    });
  });
  deps.log.info({ leaverEvent: ev.id, assets: plan.length, failed: r.failed }, "leaver fan-out done");
  return {
    eventId: ev.id,
    processed: true,
    queued: plan.length - r.failed,
    failed: r.failed,
    existing: r.existing,
  };
}

/**
 * The leaver's summary to their manager (an active one with an e-mail address in the
 * directory): what is being taken back, once per event (the outbox key), in the transaction
 * of the fan-out's audit row. Returns whom it went to, or undefined when nobody could be told.
 */
async function tellManagerOfLeaver(
  c: Queryable,
  deps: LeaverDeps,
  ev: LeaverEvent,
  plan: readonly PlannedDeprovision[],
  displayNames: ReadonlyMap<string, string | undefined>,
): Promise<string | undefined> {
  const who = ev.employeeId ?? ev.subjectEmails[0] ?? ev.identifier;
  const leaver = await findEmployee(c, who);
  const m = leaver?.manager ? await findEmployee(c, leaver.manager) : undefined;
  const to = m?.active ? m.emails[0] : undefined;
  if (!m || !to) return undefined;
  const name = ev.displayName ?? leaver?.displayName ?? ev.identifier;
  const email = ev.subjectEmails[0];
  const items =
    plan.length === 0
      ? ""
      : plan
          .map((p) => `- ${displayNames.get(p.assetType) ?? p.assetType} (${p.target})`)
          .sort()
          .join("\n");
  const lang = m.resource.preferredLanguage;
  const n = await enqueue(
    c,
    {
      eventKey: `leaver_summary:${ev.id}`,
      kind: "leaver_summary",
      recipient: to,
      channels: channelsFor(undefined, channelNamesOf(deps.config ?? {})),
      lang: langOf(typeof lang === "string" ? lang : undefined),
      data: { leaver: email && email !== name ? `${name} (${email})` : name, items },
    },
    deps.now(),
  );
  return n > 0 ? to : undefined;
}

function attributionOf(ev: LeaverEvent): Attribution {
  return { actor: ev.actor, source: ev.source, ...(ev.requestId ? { requestId: ev.requestId } : {}) };
}

function auditBase(by: Attribution) {
  return { actor: by.actor, source: by.source, ...(by.requestId ? { requestId: by.requestId } : {}) };
}

function subjectOf(ev: LeaverEvent): Subject {
  return {
    leaverKey: ev.leaverKey,
    employeeId: ev.employeeId,
    ids: ev.subjectIds,
    emails: ev.subjectEmails,
    displayName: ev.displayName,
  };
}

/**
 * Creates the planned Deprovision Orders (skipping targets this event already has an item for)
 * and asks the operator to cancel the subject's Provision Orders that have not started.
 */
async function queueDeprovisions(
  deps: LeaverDeps,
  ev: LeaverEvent,
  orders: Order[],
  plan: PlannedDeprovision[],
  sweep = false,
): Promise<{ failed: number; existing: number; cancelled: number; queued: number }> {
  const log = deps.log.child({ leaverEvent: ev.id });
  const by = attributionOf(ev);
  const byName = new Map(orders.map((o) => [o.metadata?.name ?? "", o]));
  const known = sweep ? new Set((await leaverItems(deps.db, ev.id)).map((i) => i.target)) : new Set<string>();
  const todo = plan.filter((p) => !known.has(p.target));
  // Creates run in parallel; one writer records each result (item + audit row, in one
  // transaction per batch) while the creates go on, so the audit chain's single lock is taken
  // once per batch instead of once per asset.
  type Done = { p: PlannedDeprovision; createError: string | null; existed: boolean };
  const queue: Done[] = [];
  let finished = false;
  let wake: (() => void) | undefined;
  let writeError: Error | undefined;
  const writer = (async () => {
    for (;;) {
      if (queue.length === 0) {
        if (finished) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const batch = queue.splice(0, 100);
      await withTransaction(deps.db, async (c) => {
        for (const { p, createError, existed } of batch) {
          const inserted = await insertLeaverItem(c, {
            eventId: ev.id,
            target: p.target,
            assetType: p.assetType,
            orderName: p.orderName,
            createError,
            now: deps.now(),
          });
          if (!inserted) continue;
          await appendAudit(c, {
            ...auditBase(by),
            action: createError === null ? "deprovision_queued" : "deprovision_queue_failed",
            target: `order:${p.target}`,
            order: p.orderName,
            data: {
              leaverEvent: ev.id,
              assetType: p.assetType,
              ...(existed ? { alreadyExisted: true } : {}),
              ...(sweep ? { foundBySweep: true } : {}),
              ...(createError ? { error: createError } : {}),
            },
          });
        }
      });
    }
  })().catch((err: unknown) => {
    // Handled at once (an unhandled rejection would end the process); rethrown below.
    writeError =
      err instanceof Error ? err : new Error("recording queued deprovisions failed", { cause: err });
  });
  const results = await mapLimit(todo, CONCURRENCY, async (p): Promise<Done> => {
    let createError: string | null = null;
    let existed = false;
    try {
      const r = await createOrder(deps.kc, deps.namespace, deprovisionOrder(ev, p, byName.get(p.target)));
      if (!r.created) {
        existed = true;
        const s = r.existing.spec;
        if (s.action !== "Deprovision" || s.target !== p.target) {
          createError = `the name ${p.orderName} is taken by an Order that does not deprovision ${p.target}`;
        }
      }
    } catch (err) {
      createError =
        err instanceof AppError && err.status < 500 ? err.message : "the API server did not accept it";
      log.warn({ err, target: p.target }, "deprovision order not created");
    }
    const done = { p, createError, existed };
    queue.push(done);
    wake?.();
    return done;
  }).finally(() => {
    finished = true;
    wake?.();
  });
  // A failed write rejects here: the event keeps its lease, and the scheduler reruns it later
  // (creates are idempotent, items and their audit rows are written once).
  await writer;
  if (writeError !== undefined) throw writeError;
  const failedCount = results.filter((r) => r.createError !== null).length;
  let cancelled = 0;
  for (const name of pendingOrdersOf(orders.map(viewOf), subjectOf(ev))) {
    try {
      await requestCancel(deps.kc, deps.namespace, name);
      cancelled++;
      await appendAudit(deps.db, {
        ...auditBase(by),
        action: "order_cancel_requested",
        order: name,
        target: `order:${name}`,
        data: { leaverEvent: ev.id },
      });
    } catch (err) {
      // It may have started meanwhile (then it is caught as held by the sweep), or be gone.
      log.warn({ err, order: name }, "could not cancel a pending order of a leaver");
    }
  }
  return {
    failed: failedCount,
    existing: results.filter((r) => r.existed && r.createError === null).length,
    cancelled,
    queued: results.length - failedCount,
  };
}

/** How long after a fan-out the sweep keeps looking for assets that were still in flight. */
export const SWEEP_WINDOW_MS = 24 * 3600_000;

/**
 * Catches what a fan-out could not see yet: a Provision Order that was Processing when the
 * person left ends Provisioned later; the sweep queues its deprovision (and cancels orders
 * that were placed before the block but not yet started).
 */
export async function sweepRecentLeavers(deps: LeaverDeps): Promise<number> {
  const recent = await recentlyProcessedLeaverEvents(
    deps.db,
    new Date(deps.now().getTime() - SWEEP_WINDOW_MS),
  );
  if (recent.length === 0) return 0;
  const orders = await listOrders(deps.kc, deps.namespace);
  const views = orders.map(viewOf);
  let queued = 0;
  for (const ev of recent) {
    const plan = planFanout(views, subjectOf(ev));
    const r = await queueDeprovisions(deps, ev, orders, plan, true);
    queued += r.queued - r.existing;
  }
  return queued;
}

function deprovisionOrder(
  ev: LeaverEvent,
  p: { target: string; assetType: string; orderName: string },
  target: Order | undefined,
): Omit<Order, "apiVersion" | "kind" | "status"> {
  const requester = target?.spec.requester ?? { id: ev.identifier, email: ev.subjectEmails[0] ?? "" };
  return {
    metadata: {
      name: p.orderName,
      labels: { "ipsolis.io/leaver-event": ev.id, "ipsolis.io/reason": "leaver" },
    },
    spec: {
      assetType: p.assetType,
      action: "Deprovision",
      target: p.target,
      requester,
      reason: `Leaver (reported by ${ev.source}, event ${ev.id})`,
    },
  };
}

/** Runs every due event (future effective dates that arrived, leases that expired). */
export async function processDueLeavers(deps: LeaverDeps): Promise<FanoutResult[]> {
  const ids = await dueLeaverEvents(deps.db, deps.now(), LEASE_MS);
  const out: FanoutResult[] = [];
  for (const id of ids) {
    try {
      out.push(await processLeaver(deps, id));
    } catch (err) {
      // One event failing (e.g. the API server away) must not stop the others; its lease
      // expires and the next tick takes it again.
      deps.log.warn({ err, leaverEvent: id }, "leaver fan-out failed; will retry");
    }
  }
  try {
    await sweepRecentLeavers(deps);
  } catch (err) {
    deps.log.warn({ err }, "leaver sweep failed; the next tick retries");
  }
  return out;
}

export type ItemReport = {
  target: string;
  assetType: string;
  deprovisionOrder: string;
  attempt: number;
  outcome: Outcome;
  phase: string | null;
  message: string | null;
};

export type LeaverReport = {
  id: string;
  identifier: string;
  displayName: string | null;
  reportedBy: { source: string; actor: string };
  deliveries: number;
  effectiveAt: string;
  state: "scheduled" | "processing" | "processed" | "closed";
  closedReason: string | null;
  summary: ReturnType<typeof summarise>;
  /** Per outside system: reached, in progress, or pending a retry (api/policy/integrations.ts). */
  systems: SystemProgress[];
  assets: ItemReport[];
};

/**
 * The event with each asset's outcome, computed from its Deprovision Order's phase. `visible`:
 * the asset types the caller may see (a scoped admin's); the summaries count only those.
 */
export async function reportLeaver(
  deps: LeaverDeps,
  id: string,
  visible: (assetType: string) => boolean = () => true,
): Promise<LeaverReport | undefined> {
  const ev = await getLeaverEvent(deps.db, id);
  if (!ev) return undefined;
  const items = await leaverItems(deps.db, id);
  const [orders, assetTypes, runbooks] =
    items.length > 0
      ? await Promise.all([
          listOrders(deps.kc, deps.namespace),
          listAssetTypes(deps.kc, deps.namespace),
          listRunbooks(deps.kc, deps.namespace),
        ])
      : [[], [], []];
  const byName = new Map(orders.map((o) => [o.metadata?.name ?? "", viewOf(o)]));
  const assets = items
    .filter((i) => visible(i.assetType))
    .map((i): ItemReport => {
      const o = byName.get(i.orderName);
      return {
        target: i.target,
        assetType: i.assetType,
        deprovisionOrder: i.orderName,
        attempt: i.attempt,
        outcome: outcomeOf(o, i.createError),
        phase: o?.phase ?? null,
        message: i.createError ?? o?.message ?? null,
      };
    });
  return {
    id: ev.id,
    identifier: ev.identifier,
    displayName: ev.displayName,
    reportedBy: { source: ev.source, actor: ev.actor },
    deliveries: ev.deliveries,
    effectiveAt: ev.effectiveAt.toISOString(),
    state: ev.closedAt ? "closed" : ev.state,
    closedReason: ev.closedReason,
    summary: summarise(assets.map((a) => a.outcome)),
    systems: leaverSystems(assets, systemsOf(assetTypes, runbooks)),
    assets,
  };
}

function systemsOf(assetTypes: readonly AssetType[], runbooks: readonly Runbook[]): Map<string, string> {
  return deprovisionSystems(
    runbooks.map((r) => ({
      name: r.metadata?.name ?? "",
      labels: r.metadata?.labels,
      kerberosPrincipal: r.spec.kerberos?.principal,
    })),
    assetTypes.map((t) => ({ name: t.metadata?.name ?? "", runbooks: t.spec.runbooks })),
  );
}

/**
 * Retries the failed (or cancelled) deprovisions of a processed event: each gets a new
 * Deprovision Order `<target>-deprovision-<n>`, since the failed one stays as the record.
 */
export async function retryLeaver(
  deps: LeaverDeps,
  id: string,
  by: Attribution,
): Promise<{ retried: string[]; failed: string[] } | undefined> {
  const report = await reportLeaver(deps, id);
  if (!report) return undefined;
  const ev = (await getLeaverEvent(deps.db, id))!;
  const orders = await listOrders(deps.kc, deps.namespace);
  const byName = new Map(orders.map((o) => [o.metadata?.name ?? "", o]));
  const retried: string[] = [];
  const failed: string[] = [];
  for (const a of report.assets.filter((x) => isRetryable(x.outcome))) {
    const next = a.attempt + 1;
    const orderName = deprovisionOrderName(a.target, next);
    let createError: string | null = null;
    try {
      await createOrder(
        deps.kc,
        deps.namespace,
        deprovisionOrder(ev, { ...a, orderName }, byName.get(a.target)),
      );
    } catch (err) {
      createError =
        err instanceof AppError && err.status < 500 ? err.message : "the API server did not accept it";
    }
    await withTransaction(deps.db, async (c) => {
      const moved = await advanceLeaverItem(c, {
        eventId: id,
        target: a.target,
        fromAttempt: a.attempt,
        orderName,
        createError,
      });
      if (!moved) return;
      await appendAudit(c, {
        actor: by.actor,
        action: createError === null ? "deprovision_retried" : "deprovision_retry_failed",
        target: a.target,
        order: orderName,
        source: by.source,
        ...(by.requestId ? { requestId: by.requestId } : {}),
        data: {
          leaverEvent: id,
          attempt: next,
          previous: a.deprovisionOrder,
          ...(createError ? { error: createError } : {}),
        },
      });
    });
    (createError === null ? retried : failed).push(orderName);
  }
  return { retried, failed };
}

/**
 * Re-activation: closes the person's open leaver events, which unblocks ordering. It
 * re-provisions nothing: Deprovision Orders already queued keep running.
 */
export async function reactivate(
  deps: LeaverDeps,
  q: Queryable,
  keys: string[],
  by: Attribution,
): Promise<string[]> {
  const open = await openLeaverEventsFor(q, keys);
  const closed: string[] = [];
  const now = deps.now();
  for (const ev of open) {
    // Cancelled only while the effective date is still ahead. Once it has passed the person
    // had left, even if the fan-out has not claimed the event yet: that is a re-activation.
    const cancelled = ev.state === "scheduled" && ev.effectiveAt.getTime() > now.getTime();
    const reason = cancelled ? "cancelled before the effective date" : "re-activated";
    if (!(await closeLeaverEvent(q, ev.id, reason, now))) continue;
    closed.push(ev.id);
    await appendAudit(q, {
      actor: by.actor,
      action: cancelled ? "leaver_cancelled" : "leaver_reactivated",
      target: eventTarget(ev),
      source: by.source,
      ...(by.requestId ? { requestId: by.requestId } : {}),
      data: { leaverEvent: ev.id, reason },
    });
  }
  return closed;
}
