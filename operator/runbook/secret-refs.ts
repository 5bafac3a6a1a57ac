// Reads the labels of the Secrets a runbook references (metadata only: the operator never needs
// a Secret's data) and refuses the run when one is missing or not labelled for runbook use.
import { ForbiddenError, UnavailableError } from "../../record/errors.ts";

/** How long a new Order may wait for its secret attributes' Secret (the API makes it next). */
const SECRET_ATTRIBUTES_GRACE_MS = 60_000;
import { LABEL_ORDER_ATTRIBUTES, refusedSecretRefs, secretRefsOf, type SecretMeta } from "../order/job.ts";
import type { AssetType, Order, Runbook } from "../order/model.ts";
import { statusCodeOf, type Rest } from "../kube/rest.ts";

const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/**
 * What a runbook's steps read, as the cluster has it now: the refusal sentence for its Secrets
 * (missing or unlabelled) and the `scriptFrom` ConfigMap keys that do not exist. The Runbook's
 * Ready condition says so (operator/runbook/decide.ts readinessOf).
 */
export async function observeRunbookRefs(
  rest: Rest,
  namespace: string,
  rb: Runbook,
  servesAssetTypes: readonly string[] = [],
): Promise<{ refusedSecrets?: string; missingScripts: string[] }> {
  const refused = await refusedSecretsOf(rest, namespace, rb, servesAssetTypes);
  const missingScripts: string[] = [];
  const maps = new Map<
    string,
    { data?: Record<string, string>; binaryData?: Record<string, string> } | null
  >();
  for (const step of rb.spec.steps) {
    const ref = step.scriptFrom?.configMapKeyRef;
    if (!ref) continue;
    if (!maps.has(ref.name)) {
      try {
        maps.set(
          ref.name,
          await rest.call({
            method: "GET",
            path: `/api/v1/namespaces/${namespace}/configmaps/${encodeURIComponent(ref.name)}`,
          }),
        );
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw err;
        maps.set(ref.name, null);
      }
    }
    const cm = maps.get(ref.name);
    if (!cm || !(ref.key in (cm.data ?? {}) || ref.key in (cm.binaryData ?? {})))
      missingScripts.push(`${ref.name}/${ref.key}`);
  }
  return { ...(refused ? { refusedSecrets: refused } : {}), missingScripts: [...new Set(missingScripts)] };
}

async function refusedSecretsOf(
  rest: Rest,
  namespace: string,
  rb: Runbook,
  servesAssetTypes: readonly string[],
): Promise<string | undefined> {
  const metas = new Map<string, SecretMeta>();
  for (const name of secretRefsOf(rb)) {
    try {
      const m = await rest.call<{
        metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      }>({
        method: "GET",
        path: `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`,
        accept: METADATA_ONLY,
      });
      metas.set(name, { labels: m.metadata?.labels ?? {}, annotations: m.metadata?.annotations ?? {} });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      metas.set(name, null);
    }
  }
  return refusedSecretRefs(rb, (n) => metas.get(n), servesAssetTypes);
}

/** Throws a ForbiddenError (permanent: condition + Warning event) naming every refused Secret. */
export async function assertRunbookSecretsAllowed(
  rest: Rest,
  namespace: string,
  rb: Runbook,
  servesAssetTypes: readonly string[],
): Promise<void> {
  const refused = await refusedSecretsOf(rest, namespace, rb, servesAssetTypes);
  if (refused) throw new ForbiddenError(refused);
}

/**
 * Before an Order's Job (#15 item 4): no secret attribute's value may sit in spec.attributes,
 * and the Secret of spec.secretAttributesFrom must exist and say it belongs to this Order
 * (label ipsolis.io/order-attributes=<order>), so an Order cannot mount another Secret of the
 * namespace into a runbook. Metadata only; a ForbiddenError (permanent) names what is wrong.
 */
export async function assertSecretAttributesReady(
  deps: {
    rest: Rest;
    namespace: string;
    clock: () => Date;
    caches: { assetTypes: { get(name: string): AssetType | undefined } };
  },
  order: Order,
): Promise<void> {
  const at = deps.caches.assetTypes.get(order.spec.assetType);
  const secretNames = new Set((at?.spec.attributes ?? []).filter((a) => a.secret).map((a) => a.name));
  const inSpec = Object.keys(order.spec.attributes ?? {}).filter((k) => secretNames.has(k));
  if (inSpec.length > 0) {
    throw new ForbiddenError(
      `attribute${inSpec.length > 1 ? "s" : ""} ${inSpec.join(", ")} of asset type ${order.spec.assetType} ${inSpec.length > 1 ? "are" : "is"} secret: the value belongs in a Secret named by spec.secretAttributesFrom, never in spec.attributes; no Job is started`,
    );
  }
  const ref = order.spec.secretAttributesFrom;
  if (!ref) return;
  let labels: Record<string, string> | undefined;
  try {
    const m = await deps.rest.call<{ metadata?: { labels?: Record<string, string> } }>({
      method: "GET",
      path: `/api/v1/namespaces/${deps.namespace}/secrets/${encodeURIComponent(ref.secretName)}`,
      accept: METADATA_ONLY,
    });
    labels = m.metadata?.labels ?? {};
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
  }
  if (!labels) {
    // The API creates the Order first (its uid owns the Secret), then the Secret: a young Order
    // waits for it (transient: the queue retries), an old one is refused.
    const born = Date.parse((order.metadata as { creationTimestamp?: string }).creationTimestamp ?? "");
    if (Number.isFinite(born) && deps.clock().getTime() - born < SECRET_ATTRIBUTES_GRACE_MS) {
      throw new UnavailableError(`waiting for Secret ${ref.secretName} with the order's secret attributes`);
    }
    throw new ForbiddenError(
      `Secret ${ref.secretName} with the order's secret attributes does not exist (it is deleted when an order finishes, so a retried order needs its values again: order anew); no Job is started`,
    );
  }
  if (labels[LABEL_ORDER_ATTRIBUTES] !== order.metadata.name) {
    throw new ForbiddenError(
      `Secret ${ref.secretName} is not labelled ${LABEL_ORDER_ATTRIBUTES}=${order.metadata.name}: an order reads only its own secret attributes; no Job is started`,
    );
  }
}
