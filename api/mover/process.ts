// The mover edge (#22): a SCIM write that changes a field some asset attributes follow
// (department, title, manager, ...) records a mover event in the write's transaction; after the
// answer, and on a periodic tick, the event becomes one Modify Order per held asset whose type
// follows that field (api/policy/mover.ts planMover), each audited once. The Modify goes through
// the type's `approval.onModify` like any change, and its runbook sets the new values.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Order } from "../../crds/generated/index.ts";
import { appendAudit } from "../../record/audit.ts";
import { withTransaction, type Db, type Queryable } from "../../record/db.ts";
import { getEmployee, isOrderingBlocked } from "../../record/employees/store.ts";
import { AppError } from "../../record/errors.ts";
import {
  claimMover,
  dueMovers,
  finishMover,
  insertMover,
  pendingMoverFor,
  updateMoverChanges,
  type MoverEvent,
} from "../../record/movers/store.ts";
import { subjectOfEmployee } from "../leaver/decide.ts";
import { createOrder, listAssetTypes, listOrders } from "../leaver/orders.ts";
import {
  EMPLOYEE_FIELDS,
  changedFacts,
  describeChanges,
  mergeChanges,
  moverOrderName,
  planMover,
  type EmployeeFacts,
  type MoverOrder,
  type MoverType,
} from "../policy/mover.ts";
import { employeeFacts } from "./facts.ts";
import { validateAttributes } from "../policy/attributes.ts";
// The same labels as a change asked for in the portal (modifyOrder).
import { labelValue, TARGET_LABEL } from "../orders/index.ts";

export type MoverDeps = { db: Db; kc: KubeConfig; namespace: string; now: () => Date; log: Logger };

/** How long a run may hold an event before another process takes it over. */
export const LEASE_MS = 5 * 60_000;
/** When to look again at an asset still provisioning, or with a change open on it. */
export const WAIT_MS = 30_000;
/** When to retry after the API server refused or was away. */
export const RETRY_MS = 60_000;
/** After this long, assets still waiting are reported as not updated and the event ends. */
export const GIVE_UP_MS = 24 * 3600_000;

/**
 * The mover side of a SCIM write, inside its transaction (the employee row is locked): the
 * changed fields recorded, merged into the person's pending event if one is open, and audited.
 * Returns the event to process, or undefined when nothing a mover cares about changed.
 */
export async function recordMover(
  q: Queryable,
  w: {
    employeeId: string;
    userName: string;
    before: EmployeeFacts;
    after: EmployeeFacts;
    by: { actor: string; source: string; requestId?: string | undefined };
    now: Date;
  },
): Promise<string | undefined> {
  const changes = changedFacts(w.before, w.after);
  if (Object.keys(changes).length === 0) return undefined;
  const pending = await pendingMoverFor(q, w.employeeId);
  const ev = pending
    ? await updateMoverChanges(q, pending.id, mergeChanges(pending.changes, changes), w.now)
    : await insertMover(q, {
        employeeId: w.employeeId,
        changes: changes,
        source: w.by.source,
        actor: w.by.actor,
        requestId: w.by.requestId,
        now: w.now,
      });
  await appendAudit(q, {
    actor: w.by.actor,
    action: "mover_recorded",
    target: `employee:${w.employeeId}`,
    source: w.by.source,
    ...(w.by.requestId ? { requestId: w.by.requestId } : {}),
    data: { userName: w.userName, moverEvent: ev.id, version: ev.version, changes },
  });
  return ev.id;
}

/**
 * `latestModify`: the newest Provisioned Modify of this order. Its values are the asset's even
 * before the operator has copied them into the target's status.attributes.
 */
function moverOrderOf(o: Order, latestModify?: Order): MoverOrder {
  const attrs = latestModify?.spec.attributes ?? o.status?.attributes ?? o.spec.attributes;
  return {
    name: o.metadata?.name ?? "",
    assetType: o.spec.assetType,
    action: o.spec.action ?? "Provision",
    target: o.spec.target,
    requester: { id: o.spec.requester.id, email: o.spec.requester.email },
    phase: o.status?.phase,
    ...(attrs ? { attributes: attrs } : {}),
  };
}

export type MoverResult = {
  moverEvent: string;
  processed: boolean;
  modifyOrders: string[];
  unchanged: string[];
  noModifyRunbook: string[];
  waiting: string[];
  pendingApproval: string[];
  refused: { target: string; error: string }[];
  failed: { target: string; error: string }[];
  /** The asset type of every order named above (a scoped reader sees only their own types'). */
  assetTypes: Record<string, string>;
  skipped?: string;
};

/** One run of one event: claim it, plan from the record as it is now, create, finish. */
export async function processMover(deps: MoverDeps, id: string): Promise<MoverResult | undefined> {
  const { db, log } = deps;
  const ev = await claimMover(db, id, deps.now(), LEASE_MS);
  if (!ev) return undefined;
  const out: MoverResult = {
    moverEvent: ev.id,
    processed: false,
    modifyOrders: [],
    unchanged: [],
    noModifyRunbook: [],
    waiting: [],
    pendingApproval: [],
    refused: [],
    failed: [],
    assetTypes: {},
  };
  try {
    const emp = await getEmployee(db, ev.employeeId);
    if (!emp || !emp.active) {
      // A leaver's assets are taken back by the leaver fan-out; changing them first helps nobody.
      out.skipped = emp ? "the person is inactive (a leaver)" : "the person was deleted";
      out.processed = await finish(deps, ev, out, true, deps.now());
      return out;
    }
    const facts = await employeeFacts(db, emp);
    const [orders, types] = await Promise.all([
      listOrders(deps.kc, deps.namespace),
      listAssetTypes(deps.kc, deps.namespace),
    ]);
    const typeMap = new Map<string, MoverType>(
      types.map((t) => [
        t.metadata?.name ?? "",
        { attributes: t.spec.attributes ?? [], hasModifyRunbook: Boolean(t.spec.runbooks.modify) },
      ]),
    );
    if (await isOrderingBlocked(db, { id: emp.userName, email: emp.emails[0] ?? emp.userName }, deps.now())) {
      out.skipped = "the person is leaving (an open leaver event)";
      out.processed = await finish(deps, ev, out, true, deps.now());
      return out;
    }
    // Every followed field, not only the changed ones: the values are the record's now, so a
    // field changed and changed back (merged away) still corrects a Modify already made for it.
    const latest = new Map<string, Order>();
    for (const o of orders) {
      if (o.spec.action !== "Modify" || o.status?.phase !== "Provisioned" || !o.spec.target) continue;
      const seen = latest.get(o.spec.target);
      if (!seen || (o.metadata?.creationTimestamp ?? "") > (seen.metadata?.creationTimestamp ?? ""))
        latest.set(o.spec.target, o);
    }
    const views = orders.map((o) => moverOrderOf(o, latest.get(o.metadata?.name ?? "")));
    const plan = planMover(views, typeMap, subjectOfEmployee(emp), EMPLOYEE_FIELDS, facts);
    const schemaOf = new Map(types.map((t) => [t.metadata?.name ?? "", t.spec.attributes ?? []]));
    const viewOf = new Map(views.map((v) => [v.name, v]));
    Object.assign(out, {
      unchanged: plan.unchanged,
      noModifyRunbook: plan.noModifyRunbook,
      waiting: plan.waiting,
      pendingApproval: plan.pendingApproval,
    });
    const byName = new Map(orders.map((o) => [o.metadata?.name ?? "", o]));
    for (const n of [
      ...plan.unchanged,
      ...plan.noModifyRunbook,
      ...plan.waiting,
      ...plan.pendingApproval,
      ...plan.modify.map((m) => m.target),
    ])
      out.assetTypes[n] = byName.get(n)?.spec.assetType ?? "";
    const reason = `Mover: ${describeChanges(ev.changes)} (reported by ${ev.source}, event ${ev.id})`.slice(
      0,
      1000,
    );
    for (const m of plan.modify) {
      const target = byName.get(m.target)!;
      const name = moverOrderName(ev.id, ev.version, m.target);
      const requester = target.spec.requester;
      // The one attribute validation, as a change asked for in the portal gets it: the type's
      // schema as it is now (dropped attributes go, a required one must have a value), secret
      // ones never copied (they are held, not read back), the followed ones from the record.
      const schema = schemaOf.get(m.assetType) ?? [];
      const secret = new Set(schema.filter((d) => d.secret).map((d) => d.name));
      const checked = validateAttributes(
        schema,
        {},
        {
          current: Object.fromEntries(Object.entries(m.values).filter(([k]) => !secret.has(k))),
          held: secret,
          employee: facts,
        },
      );
      if (!checked.ok) {
        out.refused.push({ target: m.target, error: checked.message });
        continue;
      }
      const values = Object.fromEntries(Object.entries(checked.values).filter(([k]) => !secret.has(k)));
      try {
        const r = await createOrder(deps.kc, deps.namespace, {
          metadata: {
            name,
            labels: {
              "ipsolis.io/asset-type": labelValue(m.assetType),
              "ipsolis.io/requester": labelValue(requester.id),
              [TARGET_LABEL]: labelValue(m.target),
              "ipsolis.io/reason": "mover",
              "ipsolis.io/mover-event": ev.id,
            },
          },
          spec: {
            assetType: m.assetType,
            action: "Modify",
            target: m.target,
            requester,
            ...(Object.keys(values).length > 0 ? { attributes: values } : {}),
            reason,
          },
        });
        out.modifyOrders.push(name);
        out.assetTypes[name] = m.assetType;
        if (r.created) {
          const current = viewOf.get(m.target)?.attributes ?? {};
          await appendAudit(db, {
            actor: ev.actor,
            action: "order_modify_requested",
            target: `order:${m.target}`,
            order: name,
            source: ev.source,
            data: {
              modifyOrder: name,
              target: m.target,
              assetType: m.assetType,
              requester: requester.email,
              changed: m.changed,
              changes: Object.fromEntries(
                m.changed.map((k) => [k, { from: current[k] ?? null, to: values[k] ?? null }]),
              ),
              moverEvent: ev.id,
            },
          });
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        // The API server refusing the Order (422) will refuse it again: reported, not retried.
        if (err instanceof AppError && err.status >= 400 && err.status < 500 && err.status !== 429)
          out.refused.push({ target: m.target, error });
        else out.failed.push({ target: m.target, error });
        log.warn({ err, order: name, moverEvent: ev.id }, "could not create a mover's Modify order");
      }
    }
    const now = deps.now();
    const gaveUp = now.getTime() - ev.createdAt.getTime() >= GIVE_UP_MS;
    const done =
      gaveUp || (plan.waiting.length === 0 && plan.pendingApproval.length === 0 && out.failed.length === 0);
    const nextAt = new Date(now.getTime() + (out.failed.length > 0 ? RETRY_MS : WAIT_MS));
    out.processed = await finish(deps, ev, out, done, nextAt, gaveUp);
    return out;
  } catch (err) {
    // The API server or the database away: the lease is released and the tick retries.
    await finishMover(db, ev.id, ev.version, ev.claimedAt!, {
      done: false,
      result: { ...out, processed: undefined },
      nextAt: new Date(deps.now().getTime() + RETRY_MS),
      error: err instanceof Error ? err.message : String(err),
      now: deps.now(),
    }).catch((e: unknown) => log.warn({ err: e, moverEvent: ev.id }, "could not release a mover's lease"));
    throw err;
  }
}

async function finish(
  deps: MoverDeps,
  ev: MoverEvent,
  out: MoverResult,
  done: boolean,
  nextAt: Date,
  gaveUp = false,
): Promise<boolean> {
  const error =
    out.failed.length > 0 ? out.failed.map((f) => `${f.target}: ${f.error}`).join("; ") : undefined;
  // The state and its audit row in one transaction: a processed event is audited exactly once,
  // and only by the run that still holds the lease.
  return withTransaction(deps.db, async (c) => {
    const processed = await finishMover(c, ev.id, ev.version, ev.claimedAt!, {
      done,
      // `processed` is the event's state (known after this write), not part of the run's result.
      result: { ...out, processed: undefined, ...(gaveUp ? { gaveUp: true } : {}) },
      nextAt,
      error,
      now: deps.now(),
    });
    if (processed) await auditProcessed(c, ev, out, gaveUp);
    return processed;
  });
}

async function auditProcessed(
  q: Queryable,
  ev: MoverEvent,
  out: MoverResult,
  gaveUp: boolean,
): Promise<void> {
  await appendAudit(q, {
    actor: ev.actor,
    action: "mover_processed",
    target: `employee:${ev.employeeId}`,
    source: ev.source,
    data: {
      moverEvent: ev.id,
      version: ev.version,
      changes: ev.changes,
      modifyOrders: out.modifyOrders,
      unchanged: out.unchanged,
      noModifyRunbook: out.noModifyRunbook,
      pendingApproval: out.pendingApproval,
      refused: out.refused,
      ...(out.skipped ? { skipped: out.skipped } : {}),
      ...(gaveUp
        ? { notUpdated: [...out.waiting, ...out.pendingApproval, ...out.failed.map((f) => f.target)] }
        : {}),
    },
  });
}

/** Runs every due event (new ones, ones waiting on an asset, retries after a failure). */
export async function processDueMovers(deps: MoverDeps): Promise<MoverResult[]> {
  const out: MoverResult[] = [];
  for (const id of await dueMovers(deps.db, deps.now(), LEASE_MS)) {
    try {
      const r = await processMover(deps, id);
      if (r) out.push(r);
    } catch (err) {
      deps.log.warn({ err, moverEvent: id }, "mover failed; will retry");
    }
  }
  return out;
}

const inflight = new WeakMap<MoverDeps, Set<Promise<unknown>>>();

function track(deps: MoverDeps, p: Promise<unknown>): void {
  let set = inflight.get(deps);
  if (!set) inflight.set(deps, (set = new Set()));
  const s = set;
  const done = p.finally(() => s.delete(done));
  s.add(done);
}

/** Processes an event after the SCIM answer; a failure is logged and the tick retries. */
export function startMover(deps: MoverDeps, id: string): void {
  track(
    deps,
    processMover(deps, id).catch((err: unknown) =>
      deps.log.warn({ err, moverEvent: id }, "mover failed; the scheduler retries it"),
    ),
  );
}

/** Waits for this app's background mover runs (tests, and shutdown). */
export async function drainMovers(deps: MoverDeps): Promise<void> {
  for (;;) {
    const set = inflight.get(deps);
    if (!set || set.size === 0) return;
    await Promise.allSettled([...set]);
  }
}

/** Runs due mover events every `everyMs`; returns the stop function. */
export function startMoverScheduler(deps: MoverDeps, everyMs: number): () => Promise<void> {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    track(
      deps,
      processDueMovers(deps)
        .catch((err: unknown) => deps.log.warn({ err }, "mover scheduler tick failed"))
        .finally(() => (running = false)),
    );
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await drainMovers(deps);
  };
}
