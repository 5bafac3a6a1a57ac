// One Order reconcile: observe (from the caches only) → decide (pure) → apply. Nothing else.
import type * as k8s from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { AppError, ConflictError, ForbiddenError, UnavailableError } from "../../record/errors.ts";
import { translateKubeError } from "../kube/client.ts";
import { APPLY_PATCH } from "../kube/rest.ts";
import { applyAction, emitEvent, type ActionContext } from "./actions.ts";
import {
  decide,
  decideReconcileError,
  type Action,
  type JobSeen,
  type LockSeen,
  type Observed,
  type PoolSeen,
} from "./decide.ts";
import type { AssetObject, OrderDeps } from "./deps.ts";
import type { Order, OrderStatus, Phase, StepStatus } from "./model.ts";
import { assetKeyOf, assetLeaseName, childName } from "./names.ts";
import { needsCleanup } from "../../crds/order-cleanup.ts";

/** A finished Job whose pod summary the cache has not shown yet is waited for this long. */
const SUMMARY_GRACE_MS = 5000;
const LIVE: ReadonlySet<Phase | undefined> = new Set([
  undefined,
  "PendingApproval",
  "Scheduled",
  "Processing",
]);

const Summary = z.object({
  steps: z.array(
    z.object({
      name: z.string(),
      state: z.enum(["Pending", "Running", "Succeeded", "Failed", "Skipped"]),
      attempts: z.number().int().optional(),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
      exitCode: z.number().int().optional(),
      message: z.string().optional(),
    }),
  ),
  message: z.string().optional(),
});

/** The runner's termination-message summary of a Job's pod, if the cache has it. */
export function summaryOf(pods: readonly k8s.V1Pod[], jobName: string): StepStatus[] | undefined {
  return runSummaryOf(pods, jobName)?.steps;
}

/** The same summary with the run's own message (why it failed before or between steps). */
export function runSummaryOf(
  pods: readonly k8s.V1Pod[],
  jobName: string,
): { steps: StepStatus[]; message?: string } | undefined {
  for (const p of pods) {
    const l = p.metadata?.labels ?? {};
    if (l["batch.kubernetes.io/job-name"] !== jobName && l["job-name"] !== jobName) continue;
    const msg = p.status?.containerStatuses?.[0]?.state?.terminated?.message;
    if (!msg) continue;
    try {
      const r = Summary.safeParse(JSON.parse(msg));
      if (r.success)
        return r.data.message ? { steps: r.data.steps, message: r.data.message } : { steps: r.data.steps };
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      // Not the runner's JSON (e.g. the kubelet's own message): no summary.
    }
  }
  return undefined;
}

function jobSeen(o: Order, deps: OrderDeps, now: Date): { job: JobSeen; retryInMs?: number } {
  const name = o.status?.jobName;
  if (!name) return { job: { state: "Absent" } };
  const job = deps.caches.jobs.get(name);
  if (deps.expect.jobPending(name, job !== undefined)) return { job: { state: "Running" } };
  if (!job) return { job: { state: "Absent" } };
  const conds = job.status?.conditions ?? [];
  const done = conds.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  if (!done) return { job: { state: "Running" } };
  const summary = runSummaryOf(deps.caches.pods.list(), name);
  const steps = summary?.steps;
  const finishedAt = Date.parse(String(done.lastTransitionTime ?? "")) || now.getTime();
  if (!steps && now.getTime() - finishedAt < SUMMARY_GRACE_MS) {
    // The pod's termination message travels on another watch: give it a moment.
    return { job: { state: "Running" }, retryInMs: 250 };
  }
  if (done.type === "Complete") return { job: { state: "Succeeded", steps } };
  return {
    job: {
      state: "Failed",
      reason: done.reason,
      message: done.message,
      steps,
      ...(summary?.message ? { runMessage: summary.message } : {}),
    },
  };
}

/** The Provision Order whose asset this Order acts on (itself, or its target). */
function assetOwner(o: Order, deps: OrderDeps): Order {
  if ((o.spec.action ?? "Provision") === "Provision" || !o.spec.target) return o;
  return deps.caches.orders.get(o.spec.target) ?? o;
}

function lockSeen(o: Order, key: string, deps: OrderDeps): LockSeen {
  const lease = assetLeaseName(key);
  const holder = deps.expect.holderOf(lease, deps.caches.leases.get(lease));
  if (!holder) return { state: "Free" };
  if (holder === o.metadata.name) return { state: "HeldBySelf" };
  // A lock whose holder is gone or no longer running is stale: free to take over.
  const h = deps.caches.orders.get(holder);
  if (!h || !LIVE.has(h.status?.phase)) return { state: "Free" };
  return { state: "HeldByOther", holder };
}

function poolSeen(o: Order, deps: OrderDeps, capacity: number): PoolSeen {
  const type = o.spec.assetType;
  const live = (a: AssetObject) => {
    const holder = deps.caches.orders.get(a.spec.order);
    return holder !== undefined && !["Failed", "Cancelled", "Revoked"].includes(holder.status?.phase ?? "");
  };
  const assets = deps.caches.assets.list().filter((a) => a.spec.assetType === type);
  const held = assets.find((a) => a.spec.order === o.metadata.name)?.metadata?.name;
  const taken = new Set(assets.filter(live).map((a) => a.spec.slot));
  let free: string | undefined;
  for (let i = 0; i < capacity && !free; i++) if (!taken.has(i)) free = slotName(type, i);
  const heldByRequester = assets.filter(
    (a) => live(a) && a.spec.requesterId === o.spec.requester.id && a.spec.order !== o.metadata.name,
  ).length;
  return { ...(held ? { held } : {}), ...(free ? { free } : {}), heldByRequester };
}

/** The Asset object for one pool slot. */
export function slotName(assetType: string, slot: number): string {
  return childName(assetType, `slot-${slot}`);
}

function deprovisionSeen(o: Order, deps: OrderDeps): Observed["deprovision"] {
  let newest: Order | undefined;
  for (const d of deps.caches.orders.list()) {
    if (d.spec.action !== "Deprovision" || d.spec.target !== o.metadata.name) continue;
    const t = (x: Order) => String((x.metadata as k8s.V1ObjectMeta).creationTimestamp ?? "");
    if (!newest || t(d) > t(newest)) newest = d;
  }
  if (!newest) return undefined;
  return { order: newest.metadata.name, phase: newest.status?.phase, revokedAt: newest.status?.revokedAt };
}

/** The newest Provisioned Modify Order targeting this one (its values are the asset's now). */
function modifiedSeen(o: Order, deps: OrderDeps): Observed["modified"] {
  let newest: Order | undefined;
  for (const m of deps.caches.orders.list()) {
    if (m.spec.action !== "Modify" || m.spec.target !== o.metadata.name) continue;
    if (m.status?.phase !== "Provisioned") continue;
    const t = (x: Order) => `${x.status?.provisionedAt ?? ""}/${x.metadata.name}`;
    if (!newest || t(m) > t(newest)) newest = m;
  }
  if (!newest) return undefined;
  return {
    order: newest.metadata.name,
    attributes: newest.spec.attributes ?? {},
    ...(newest.status?.provisionedAt ? { at: newest.status.provisionedAt } : {}),
  };
}

export function observe(
  o: Order,
  deps: OrderDeps,
  now: Date,
): { seen: Observed; assetKey: string; retryInMs?: number } {
  const assetType = deps.caches.assetTypes.get(o.spec.assetType);
  const action = o.spec.action ?? "Provision";
  const rbName = assetType
    ? action === "Provision"
      ? assetType.spec.runbooks.provision
      : action === "Modify"
        ? assetType.spec.runbooks.modify
        : assetType.spec.runbooks.deprovision
    : undefined;
  const runbook = rbName ? deps.caches.runbooks.get(rbName) : undefined;
  const assetKey = assetKeyOf(assetOwner(o, deps));
  const { job, retryInMs } = jobSeen(o, deps, now);
  const target = o.spec.target ? deps.caches.orders.get(o.spec.target) : undefined;
  const pooled = assetType?.spec.assignment.model === "CapacityPooled";
  const seen: Observed = {
    order: o,
    assetType,
    runbook,
    job,
    lock: lockSeen(o, assetKey, deps),
    ...(pooled ? { pool: poolSeen(o, deps, assetType.spec.assignment.capacity ?? 0) } : {}),
    ...(o.spec.target
      ? {
          target: target
            ? { found: true, phase: target.status?.phase, needsCleanup: needsCleanup(target) }
            : { found: false },
        }
      : {}),
    ...(o.status?.phase === "Provisioned" || o.status?.phase === "Failed"
      ? { deprovision: deprovisionSeen(o, deps) }
      : {}),
    ...(o.status?.phase === "Provisioned" && action === "Provision"
      ? { modified: modifiedSeen(o, deps) }
      : {}),
    now,
  };
  return { seen, assetKey, ...(retryInMs ? { retryInMs } : {}) };
}

/** Transient failures are retried by the queue; anything else is permanent for this spec. */
function isTransient(err: unknown): boolean {
  return err instanceof ConflictError || err instanceof UnavailableError || !(err instanceof AppError);
}

async function writeStatus(o: Order, status: OrderStatus, deps: OrderDeps): Promise<void> {
  const ns = deps.namespace;
  const name = o.metadata.name;
  const before = (o.metadata as k8s.V1ObjectMeta).resourceVersion;
  const res = await deps.rest.call<{ metadata?: { resourceVersion?: string } }>({
    method: "PATCH",
    path: `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/orders/${name}/status`,
    query: { fieldManager: "ipsolis-operator", force: "true" },
    contentType: APPLY_PATCH,
    body: { apiVersion: "ipsolis.io/v1alpha1", kind: "Order", metadata: { name, namespace: ns }, status },
  });
  deps.expect.wrote(name, before, res.metadata?.resourceVersion);
}

function recordOutcome(o: Order, status: OrderStatus, runbook: string | undefined, deps: OrderDeps) {
  const from = o.status?.phase;
  if (from !== "Processing" || status.phase === "Processing") return;
  const ready = status.conditions?.find((c) => c.type === "JobReady");
  const outcome =
    status.phase === "Failed"
      ? ready?.reason === "JobDeadlineExceeded"
        ? "deadline_exceeded"
        : "failed"
      : "succeeded";
  deps.metrics.jobOutcomes.inc({ outcome });
  for (const s of status.steps ?? []) {
    if (!s.startedAt || !s.finishedAt) continue;
    const secs = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
    if (secs >= 0) deps.metrics.stepDuration.observe({ runbook: runbook ?? "", step: s.name }, secs);
  }
}

async function releaseHeldBy(name: string, deps: OrderDeps): Promise<void> {
  const ns = deps.namespace;
  const gone = (err: unknown) => {
    // Already gone, or changed hands since we looked: either way not ours to delete.
    if (!(err instanceof AppError) || (err.status !== 404 && err.status !== 409)) throw err;
  };
  const del = (path: string, preconditions: Record<string, string | undefined>) =>
    deps.rest
      .call({ method: "DELETE", path, body: { preconditions } })
      .catch((raw: unknown) => gone(translateKubeError(raw, `releasing ${path}`)));
  for (const a of deps.caches.assets.list()) {
    if (a.spec.order !== name || !a.metadata?.name) continue;
    await del(`/apis/ipsolis.io/v1alpha1/namespaces/${ns}/assets/${a.metadata.name}`, {
      uid: a.metadata.uid,
    });
  }
  for (const l of deps.caches.leases.list()) {
    if (
      l.spec?.holderIdentity !== name ||
      l.metadata?.labels?.["ipsolis.io/lock"] !== "asset" ||
      !l.metadata.name
    )
      continue;
    await del(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${l.metadata.name}`, {
      uid: l.metadata.uid,
      resourceVersion: l.metadata.resourceVersion,
    });
    deps.expect.lock(l.metadata.name, undefined);
  }
}

export async function reconcileOrder(name: string, deps: OrderDeps): Promise<void> {
  const o = deps.caches.orders.get(name);
  // Gone: its Job and Secret go with it (owner references). Its pool slot and asset lock are
  // owned too, but are returned here at once (#15): the garbage collector may take its time,
  // and meanwhile the pool would be short and the next order for the asset would wait.
  if (!o) return releaseHeldBy(name, deps);
  // Our own last status write has not reached the cache yet: its watch event requeues us.
  if (deps.expect.isStale(name, (o.metadata as k8s.V1ObjectMeta).resourceVersion)) return;
  const t0 = performance.now();
  const now = deps.clock();
  const { seen, assetKey, retryInMs } = observe(o, deps, now);
  const { status, actions } = decide(seen);
  const log = deps.log.child({
    order: name,
    ...(status.attempt ? { attempt: status.attempt } : {}),
    ...(status.jobName ? { job: status.jobName } : {}),
  });
  const ctx: ActionContext = { order: o, runbook: seen.runbook, assetKey, deps, log };
  const emits = actions.filter((a): a is Extract<Action, { kind: "Emit" }> => a.kind === "Emit");
  const regarding = () => ({
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    name,
    uid: o.metadata.uid,
  });
  let result = "ok";
  try {
    // The lock and the pool slot guard the run: they are taken first (and a finished order's
    // secret attributes are deleted before the status says so). The rest (Job, releases)
    // and the status write are independent and each idempotent, so they go out together: a
    // crash between them is repaired by the next reconcile (e.g. Processing without its Job).
    const guards = new Set<Action["kind"]>(["AcquireLock", "AllocateSlot", "DeleteSecretAttributes"]);
    for (const a of actions) if (a.kind !== "Emit" && guards.has(a.kind)) await applyAction(a, ctx);
    const writes: Promise<void>[] = [];
    for (const a of actions) if (a.kind !== "Emit" && !guards.has(a.kind)) writes.push(applyAction(a, ctx));
    const changed = !isDeepStrictEqual(status, o.status);
    if (changed) writes.push(writeStatus(o, status, deps));
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    if (changed) {
      if (status.phase !== o.status?.phase)
        log.info({ from: o.status?.phase ?? "New", to: status.phase }, "order transition");
      recordOutcome(o, status, seen.runbook?.metadata.name, deps);
    }
    // Events are a record, not a step: they never hold up (or fail) the reconcile.
    for (const e of emits) void emitEvent(deps, regarding(), e, log);
    if (retryInMs) deps.enqueueAfter(name, retryInMs);
  } catch (raw) {
    const err = translateKubeError(raw, `reconciling order ${name}`);
    result = "error";
    if (isTransient(err)) throw err;
    // Permanent for this spec: say so on the Order and in a Warning, and do not spin.
    log.error({ err }, "reconcile failed permanently");
    const message = err instanceof Error ? err.message.slice(0, 1000) : String(err);
    if (err instanceof ForbiddenError && actions.some((a) => a.kind === "CreateJob")) {
      // The Job was refused for good: the Order ends Failed saying why (a finished Order's lock
      // and slot are returned by the next reconcile), rather than retrying the same refusal.
      const refused = decide({ ...seen, startRefused: message });
      if (refused.status.phase === "Failed") {
        await writeStatus(o, refused.status, deps);
        for (const a of refused.actions) if (a.kind === "Emit") void emitEvent(deps, regarding(), a, log);
        return;
      }
    }
    const failed = decideReconcileError(o, message, now);
    if (!isDeepStrictEqual(failed.status, o.status)) await writeStatus(o, failed.status, deps);
    for (const a of failed.actions) if (a.kind === "Emit") void emitEvent(deps, regarding(), a, log);
  } finally {
    deps.metrics.reconcileDuration.observe({ kind: "Order", result }, (performance.now() - t0) / 1000);
  }
}
