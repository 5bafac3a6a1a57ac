// The mover edge (#22): a SCIM write that changes a field some asset attributes follow
// (department, title, manager, ...) records a mover event in the write's transaction; after the
// answer, and on a periodic tick, the event becomes one Modify Order per held asset whose type
// follows that field (api/policy/mover.ts planMover), each audited once. The Modify goes through
// the type's `approval.onModify` like any change, and its runbook sets the new values.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Order } from "../../crds/generated/index.ts";
import { appendAudit } from "../../record/audit.ts";
import type { Db, Queryable } from "../../record/db.ts";
import { getEmployee } from "../../record/employees/store.ts";
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
  changedFacts,
  describeChanges,
  mergeChanges,
  moverOrderName,
  planMover,
  type EmployeeFacts,
  type EmployeeField,
  type MoverOrder,
  type MoverType,
} from "../policy/mover.ts";
import { employeeFacts } from "./facts.ts";
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

function moverOrderOf(o: Order): MoverOrder {
  const attrs = o.status?.attributes ?? o.spec.attributes;
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
    const fields = Object.keys(ev.changes) as EmployeeField[];
    const plan = planMover(orders.map(moverOrderOf), typeMap, subjectOfEmployee(emp), fields, facts);
    Object.assign(out, {
      unchanged: plan.unchanged,
      noModifyRunbook: plan.noModifyRunbook,
      waiting: plan.waiting,
      pendingApproval: plan.pendingApproval,
    });
    const byName = new Map(orders.map((o) => [o.metadata?.name ?? "", o]));
    const reason = `Mover: ${describeChanges(ev.changes)} (reported by ${ev.source}, event ${ev.id})`.slice(
      0,
      1000,
    );
    for (const m of plan.modify) {
      const target = byName.get(m.target)!;
      const name = moverOrderName(ev.id, ev.version, m.target);
      const requester = target.spec.requester;
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
            ...(Object.keys(m.values).length > 0 ? { attributes: m.values } : {}),
            reason,
          },
        });
        out.modifyOrders.push(name);
        if (r.created) {
          const current = moverOrderOf(target).attributes ?? {};
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
                m.changed.map((k) => [k, { from: current[k] ?? null, to: m.values[k] ?? null }]),
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
    const done = gaveUp || (plan.waiting.length === 0 && out.failed.length === 0);
    const nextAt = new Date(now.getTime() + (out.failed.length > 0 ? RETRY_MS : WAIT_MS));
    out.processed = await finish(deps, ev, out, done, nextAt, gaveUp);
    return out;
  } catch (err) {
    // The API server or the database away: the lease is released and the tick retries.
    await finishMover(db, ev.id, ev.version, {
      done: false,
      result: out,
      nextAt: new Date(deps.now().getTime() + RETRY_MS),
      error: err instanceof Error ? err.message : String(err),
      now: deps.now(),
    }).catch(() => undefined);
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
  const processed = await finishMover(deps.db, ev.id, ev.version, {
    done,
    // `processed` is the event's state (known after this write), not part of the run's result.
    result: { ...out, processed: undefined, ...(gaveUp ? { gaveUp: true } : {}) },
    nextAt,
    error,
    now: deps.now(),
  });
  if (processed) {
    await appendAudit(deps.db, {
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
        ...(gaveUp ? { notUpdated: out.waiting } : {}),
      },
    });
  }
  return processed;
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
