// Applies one action of the Order state machine. Each is idempotent: running it twice, or after
// a restart, has the effect of running it once (AlreadyExists is success, NotFound on delete is
// success). Conflicts are transient: the work queue retries and the next observe decides anew.
import { randomBytes } from "node:crypto";
import { ConflictError } from "../../record/errors.ts";
import { mintIngestToken } from "../../record/ingest-token.ts";
import { statusCodeOf } from "../kube/rest.ts";
import { assertRunbookSecretsAllowed, assertSecretAttributesReady } from "../runbook/secret-refs.ts";
import type { Action } from "./decide.ts";
import { activeDeadlineFor, buildIngestSecret, buildJob, MANAGED_BY } from "./job.ts";
import type { Order, Runbook } from "./model.ts";
import { assetLeaseName } from "./names.ts";
import type { OrderDeps } from "./deps.ts";

export type ActionContext = {
  order: Order;
  runbook?: Runbook;
  assetKey: string;
  deps: OrderDeps;
  log: OrderDeps["log"];
};

/**
 * The Order owns what it holds: deleting it lets the garbage collector return its pool slot
 * (Asset) and its asset lock (Lease), so a deleted Order never shrinks the pool or keeps the
 * next order for the asset waiting (#15). A taken-over lock changes owner with its holder.
 */
function ownedBy(order: Order) {
  return [
    {
      apiVersion: "ipsolis.io/v1alpha1",
      kind: "Order",
      name: order.metadata.name,
      uid: order.metadata.uid ?? "",
      controller: true,
    },
  ];
}

const micro = (d: Date) => d.toISOString().replace(/Z$/, "000Z");
const is = (err: unknown, ...codes: number[]) => codes.includes(statusCodeOf(err) ?? 0);

export async function applyAction(a: Exclude<Action, { kind: "Emit" }>, ctx: ActionContext): Promise<void> {
  switch (a.kind) {
    case "AcquireLock":
      return acquireLock(ctx);
    case "ReleaseLock":
      return releaseLock(ctx);
    case "AllocateSlot":
      return allocateSlot(ctx, a.slot);
    case "ReleaseSlot":
      return releaseSlot(ctx, a.slot);
    case "CreateJob":
      return createJob(ctx, a.attempt, a.jobName);
    case "MarkTargetRevoked":
      // The target's own decide moves it to Revoked when it sees this Order Revoked (decide is
      // the only author of a phase); this only makes it look now.
      ctx.deps.enqueue(a.target);
      return;
    case "DeleteSecretAttributes":
      return deleteSecretAttributes(ctx, a.secretName);
    case "MarkTargetModified":
      // Likewise: the target's decide takes the new values from this Provisioned Modify Order.
      ctx.deps.enqueue(a.target);
      return;
  }
}

function leasePath(ns: string, name?: string) {
  return `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases${name ? `/${name}` : ""}`;
}

async function acquireLock(ctx: ActionContext): Promise<void> {
  const { deps, order } = ctx;
  const name = assetLeaseName(ctx.assetKey);
  const me = order.metadata.name;
  const now = micro(deps.clock());
  const spec = { holderIdentity: me, acquireTime: now, renewTime: now };
  const lease = deps.caches.leases.get(name);
  if (lease?.spec?.holderIdentity === me) return;
  try {
    if (!lease) {
      await deps.rest.call({
        method: "POST",
        path: leasePath(deps.namespace),
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: {
            name,
            namespace: deps.namespace,
            labels: { "ipsolis.io/lock": "asset", ...MANAGED_BY },
            annotations: { "ipsolis.io/asset": ctx.assetKey },
            ownerReferences: ownedBy(order),
          },
          spec,
        },
      });
    } else {
      // Taking over a stale lock (its holder is gone or finished): the resourceVersion makes
      // this a compare-and-swap, so two takers cannot both win.
      await deps.rest.call({
        method: "PUT",
        path: leasePath(deps.namespace, name),
        // Objects from a LIST carry no apiVersion/kind: set them.
        body: {
          ...lease,
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { ...lease.metadata, ownerReferences: ownedBy(order) },
          spec,
        },
      });
    }
    deps.expect.lock(name, me);
  } catch (err) {
    if (is(err, 409))
      throw new ConflictError(`asset lock ${name} was taken by another order`, { cause: err });
    throw err;
  }
}

async function releaseLock(ctx: ActionContext): Promise<void> {
  const { deps, order } = ctx;
  const name = assetLeaseName(ctx.assetKey);
  const lease = deps.caches.leases.get(name);
  const holder = lease?.spec?.holderIdentity ?? deps.expect.lockHolder(name);
  if (holder !== order.metadata.name) return;
  try {
    await deps.rest.call({
      method: "DELETE",
      path: leasePath(deps.namespace, name),
      body: lease?.metadata?.resourceVersion
        ? { preconditions: { resourceVersion: lease.metadata.resourceVersion } }
        : undefined,
    });
  } catch (err) {
    // Gone already, or changed hands since: either way it is not ours to delete.
    if (!is(err, 404, 409)) throw err;
  }
  deps.expect.lock(name, undefined);
}

function assetPath(ns: string, name?: string) {
  return `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/assets${name ? `/${name}` : ""}`;
}

async function allocateSlot(ctx: ActionContext, slot: string): Promise<void> {
  const { deps, order } = ctx;
  const index = Number(/-slot-(\d+)$/.exec(slot)?.[1] ?? NaN);
  if (!Number.isInteger(index)) throw new Error(`bad slot name ${slot}`);
  const existing = deps.caches.assets.get(slot);
  if (existing?.spec.order === order.metadata.name) return;
  if (existing) {
    // A stale slot (observe said free): delete it with its uid as precondition, then claim it.
    try {
      await deps.rest.call({
        method: "DELETE",
        path: assetPath(deps.namespace, slot),
        body: {
          preconditions: { uid: existing.metadata?.uid, resourceVersion: existing.metadata?.resourceVersion },
        },
      });
    } catch (err) {
      if (!is(err, 404)) throw err;
    }
  }
  try {
    await deps.rest.call({
      method: "POST",
      path: assetPath(deps.namespace),
      body: {
        apiVersion: "ipsolis.io/v1alpha1",
        kind: "Asset",
        metadata: {
          name: slot,
          namespace: deps.namespace,
          labels: { "ipsolis.io/asset-type": order.spec.assetType, ...MANAGED_BY },
          ownerReferences: ownedBy(order),
        },
        spec: {
          assetType: order.spec.assetType,
          slot: index,
          order: order.metadata.name,
          requesterId: order.spec.requester.id,
        },
      },
    });
  } catch (err) {
    if (is(err, 409)) throw new ConflictError(`pool slot ${slot} was taken by another order`, { cause: err });
    throw err;
  }
}

async function releaseSlot(ctx: ActionContext, slot: string): Promise<void> {
  const { deps, order } = ctx;
  const existing = deps.caches.assets.get(slot);
  if (existing && existing.spec.order !== order.metadata.name) return;
  try {
    await deps.rest.call({
      method: "DELETE",
      path: assetPath(deps.namespace, slot),
      body: existing?.metadata?.uid ? { preconditions: { uid: existing.metadata.uid } } : undefined,
    });
  } catch (err) {
    if (!is(err, 404, 409)) throw err;
  }
}

async function createJob(ctx: ActionContext, attempt: number, jobName: string): Promise<void> {
  const { deps, order, runbook } = ctx;
  if (!runbook) throw new Error("CreateJob without a runbook");
  const ns = deps.namespace;
  // Before anything is made: a runbook may only read Secrets labelled for runbook use.
  if (!deps.caches.jobs.get(jobName)) {
    await assertRunbookSecretsAllowed(deps.rest, ns, runbook, [order.spec.assetType]);
    await assertSecretAttributesReady(deps, order);
  }
  // The token's Secret comes first: a pod must never start before its token exists (the local
  // node fails such a pod at once, a kubelet would hold it in CreateContainerConfigError). So
  // it is owned by the Order (the Job's uid does not exist yet) and expires with the Job.
  if (deps.jobConfig.ingestUrl && deps.ingestSecret && !deps.caches.jobs.get(jobName)) {
    const expiresAt = new Date(deps.clock().getTime() + (activeDeadlineFor(runbook) + 600) * 1000);
    const token = mintIngestToken(deps.ingestSecret, {
      namespace: ns,
      job: jobName,
      order: order.metadata.name,
      expiresAt,
    });
    try {
      await deps.rest.call({
        method: "POST",
        path: `/api/v1/namespaces/${ns}/secrets`,
        body: buildIngestSecret({
          owner: { name: order.metadata.name, uid: order.metadata.uid ?? "" },
          jobName,
          namespace: ns,
          token,
        }),
      });
    } catch (err) {
      if (!is(err, 409)) throw err;
    }
  }
  try {
    await deps.rest.call({
      method: "POST",
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
      body: buildJob({ order, runbook, attempt, jobName, config: deps.jobConfig }),
    });
    ctx.log.info({ job: jobName, attempt }, "job created");
  } catch (err) {
    // Restart-safe: the Job of this attempt already exists (we made it before a crash).
    if (!is(err, 409)) throw err;
  }
  deps.expect.job(jobName);
}

/** Records a Kubernetes Event; a failed emit is logged at warn and never fails the reconcile. */
export async function emitEvent(
  deps: OrderDeps,
  regarding: { kind: string; apiVersion: string; name: string; uid?: string; resourceVersion?: string },
  e: { type: "Normal" | "Warning"; reason: string; note: string },
  log: OrderDeps["log"],
): Promise<void> {
  const now = deps.clock();
  try {
    await deps.rest.call({
      method: "POST",
      path: `/apis/events.k8s.io/v1/namespaces/${deps.namespace}/events`,
      body: {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        // Named like kubectl's events: <object>.<hex time><random> (generateName may not end in ".").
        metadata: {
          name: `${regarding.name.slice(0, 200)}.${now.getTime().toString(16)}${randomBytes(3).toString("hex")}`,
          namespace: deps.namespace,
        },
        eventTime: micro(now),
        reportingController: "ipsolis.io/operator",
        reportingInstance: deps.identity.slice(0, 128),
        action: "Reconcile",
        type: e.type,
        reason: e.reason,
        note: e.note.slice(0, 1024),
        regarding: { ...regarding, namespace: deps.namespace },
      },
    });
  } catch (err) {
    log.warn({ err, reason: e.reason }, "could not record an event");
  }
}

/** The Secret of spec.secretAttributesFrom, deleted once the Order finished (404: already gone). */
async function deleteSecretAttributes(ctx: ActionContext, secretName: string): Promise<void> {
  const { deps, order } = ctx;
  try {
    await deps.rest.call({
      method: "DELETE",
      path: `/api/v1/namespaces/${deps.namespace}/secrets/${encodeURIComponent(secretName)}`,
    });
    ctx.log.info({ secret: secretName, phase: order.status?.phase }, "secret attributes deleted");
  } catch (err) {
    if (!is(err, 404)) throw err;
  }
}
