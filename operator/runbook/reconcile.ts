// One Runbook reconcile: observe the Runbook and its CronJob (caches) → decide → apply.
import type * as k8s from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { AppError, ConflictError, UnavailableError } from "../../record/errors.ts";
import type { Logger } from "../../record/log.ts";
import { translateKubeError } from "../kube/client.ts";
import type { Cache } from "../kube/informer.ts";
import { APPLY_PATCH, statusCodeOf, type Rest } from "../kube/rest.ts";
import { emitEvent } from "../order/actions.ts";
import type { OrderDeps } from "../order/deps.ts";
import type { AssetType, Runbook } from "../order/model.ts";
import { assetTypesUsing, secretRefsOf } from "../order/job.ts";
import { cronJobNameFor, decideRunbook, decideRunbookError, type RunbookStatus } from "./decide.ts";
import { observeRunbookRefs } from "./secret-refs.ts";

/** How soon a Runbook that is not Ready looks again (nothing watches the Secrets and ConfigMaps it reads). */
export const NOT_READY_RECHECK_MS = 30_000;
/** How often a Ready Runbook that reads Secrets or ConfigMaps is looked at again. */
export const REFS_RECHECK_MS = 5 * 60_000;

export type RunbookDeps = {
  namespace: string;
  rest: Rest;
  runbooks: Cache<Runbook>;
  cronJobs: Cache<k8s.V1CronJob>;
  /** Which asset types use a runbook (a Secret kept to some asset types): optional in tests. */
  assetTypes?: Cache<AssetType>;
  clock(): Date;
  log: Logger;
  serviceAccountName?: string;
  /** For events (same writer as the order controller). */
  events: OrderDeps;
  /** Looks at this Runbook again after `ms` (the work queue's addAfter). */
  requeue?: (name: string, ms: number) => void;
};

export async function reconcileRunbook(name: string, deps: RunbookDeps): Promise<void> {
  const rb = deps.runbooks.get(name);
  const cronName = cronJobNameFor(name);
  const ns = deps.namespace;
  const cronPath = `/apis/batch/v1/namespaces/${ns}/cronjobs`;
  const log = deps.log.child({ runbook: name });
  if (!rb) {
    // The owner reference lets the garbage collector remove it too; deleting it here does not
    // wait for the collector's discovery of our CRDs.
    if (deps.cronJobs.get(cronName)) {
      await deps.rest
        .call({
          method: "DELETE",
          path: `${cronPath}/${cronName}`,
          body: { propagationPolicy: "Background" },
        })
        .catch((err: unknown) => {
          if (statusCodeOf(err) !== 404) throw err;
        });
      log.info({ cronJob: cronName }, "cronjob of a deleted runbook deleted");
    }
    return;
  }
  const regarding = { apiVersion: "ipsolis.io/v1alpha1", kind: "Runbook", name, uid: rb.metadata.uid };
  const writeStatus = (s: RunbookStatus) =>
    deps.rest.call({
      method: "PATCH",
      path: `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/runbooks/${name}/status`,
      query: { fieldManager: "ipsolis-operator", force: "true" },
      contentType: APPLY_PATCH,
      body: {
        apiVersion: "ipsolis.io/v1alpha1",
        kind: "Runbook",
        metadata: { name, namespace: ns },
        status: s,
      },
    });
  const now = deps.clock();
  /**
   * A transient error (conflict, unavailable, unknown) is rethrown for the queue to retry; a
   * permanent one is said on the Runbook (CronJobSynced=False over `base`) and in a Warning.
   */
  const failPermanently = async (raw: unknown, what: string, base: RunbookStatus | undefined) => {
    const err = translateKubeError(raw, what);
    if (err instanceof ConflictError || err instanceof UnavailableError || !(err instanceof AppError))
      throw err;
    const message = err.message.slice(0, 1000);
    log.error({ err }, "runbook reconcile failed permanently");
    const failed = decideRunbookError({ ...rb, status: base }, message, now);
    if (!isDeepStrictEqual(failed, rb.status)) await writeStatus(failed);
    await emitEvent(
      deps.events,
      regarding,
      { type: "Warning", reason: "CronJobSyncFailed", note: message },
      log,
    );
  };
  // A scheduled run serves every asset type that uses the runbook (a Secret kept to some types).
  const serves = assetTypesUsing(name, deps.assetTypes?.list() ?? []);
  let refs: Awaited<ReturnType<typeof observeRunbookRefs>>;
  try {
    refs = await observeRunbookRefs(deps.rest, ns, rb, serves);
  } catch (raw) {
    // A transient error retries (the queue); a permanent one (e.g. a Role without configmaps
    // get) is said on the Runbook and in a Warning instead of retrying silently forever.
    await failPermanently(raw, `reading what runbook ${name} references`, rb.status);
    deps.requeue?.(name, NOT_READY_RECHECK_MS);
    return;
  }
  const { status, actions } = decideRunbook({
    runbook: rb,
    cronJob: deps.cronJobs.get(cronName),
    namespace: ns,
    serviceAccountName: deps.serviceAccountName,
    refs,
    now,
  });
  // Nothing watches the Secrets and ConfigMaps it reads: one made later turns it Ready (look
  // again soon), one relabelled or deleted turns it not Ready (look again now and then).
  if (refs.refusedSecrets || refs.missingScripts.length > 0) deps.requeue?.(name, NOT_READY_RECHECK_MS);
  else if (secretRefsOf(rb).length > 0 || rb.spec.steps.some((st) => st.scriptFrom))
    deps.requeue?.(name, REFS_RECHECK_MS);
  try {
    for (const a of actions) {
      if (a.kind === "ApplyCronJob") {
        await deps.rest.call({
          method: "PATCH",
          path: `${cronPath}/${a.cronJob.metadata!.name!}`,
          query: { fieldManager: "ipsolis-operator", force: "true" },
          contentType: APPLY_PATCH,
          body: a.cronJob,
        });
        log.info({ cronJob: a.cronJob.metadata!.name, created: a.created }, "cronjob applied");
      } else if (a.kind === "DeleteCronJob") {
        await deps.rest
          .call({
            method: "DELETE",
            path: `${cronPath}/${a.name}`,
            body: { propagationPolicy: "Background" },
          })
          .catch((err: unknown) => {
            if (statusCodeOf(err) !== 404) throw err;
          });
        log.info({ cronJob: a.name }, "cronjob deleted");
      }
    }
    if (!isDeepStrictEqual(status, rb.status)) await writeStatus(status);
    for (const a of actions) if (a.kind === "Emit") await emitEvent(deps.events, regarding, a, log);
  } catch (raw) {
    // Keeps what was decided (Ready and its reason), with CronJobSynced=False on top.
    await failPermanently(raw, `reconciling runbook ${name}`, status);
  }
}
