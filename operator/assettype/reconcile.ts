// One AssetType reconcile: observe it and the Runbook cache → decide its status → write it
// (server-side apply of the status subresource) only when it changed.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "../../record/log.ts";
import type { Cache } from "../kube/informer.ts";
import { APPLY_PATCH, type Rest } from "../kube/rest.ts";
import { decideAssetType, type AssetTypeObserved } from "./decide.ts";

export type AssetTypeDeps = {
  namespace: string;
  rest: Rest;
  assetTypes: Cache<AssetTypeObserved>;
  runbooks: Cache<unknown>;
  clock(): Date;
  log: Logger;
};

export async function reconcileAssetType(name: string, deps: AssetTypeDeps): Promise<void> {
  const at = deps.assetTypes.get(name);
  if (!at) return;
  const status = decideAssetType(at, (rb) => deps.runbooks.get(rb) !== undefined, deps.clock());
  const now = { conditions: at.status?.conditions ?? [], observedGeneration: at.status?.observedGeneration };
  if (
    isDeepStrictEqual(
      { ...now, observedGeneration: now.observedGeneration ?? status.observedGeneration },
      status,
    )
  )
    return;
  await deps.rest.call({
    method: "PATCH",
    path: `/apis/ipsolis.io/v1alpha1/namespaces/${deps.namespace}/assettypes/${name}/status`,
    query: { fieldManager: "ipsolis-operator", force: "true" },
    contentType: APPLY_PATCH,
    body: {
      apiVersion: "ipsolis.io/v1alpha1",
      kind: "AssetType",
      metadata: { name, namespace: deps.namespace },
      status,
    },
  });
  deps.log.info(
    { assetType: name, ready: status.conditions.find((c) => c.type === "Ready")?.status },
    "asset type status written",
  );
}
