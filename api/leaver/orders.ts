// The few Kubernetes reads and writes the leaver fan-out and the ServiceNow webhook need:
// list Orders and AssetTypes of the namespace, create an Order (idempotent by name), request a
// cancel. A thin layer over the API's one custom-resource client (api/plugins/resources.ts:
// field manager `ipsolis-api`, paged lists, 429 back-off, typed errors).
import type { KubeConfig } from "@kubernetes/client-node";
import type { AssetType, Order, Runbook } from "../../crds/generated/index.ts";
import { ConflictError } from "../../record/errors.ts";
import { needsCleanup } from "../../crds/order-cleanup.ts";
import { makeResources, type Resources } from "../plugins/resources.ts";
import type { OrderView } from "./decide.ts";

const clients = new WeakMap<KubeConfig, Map<string, Resources>>();

function resources(kc: KubeConfig, namespace: string): Resources {
  let byNs = clients.get(kc);
  if (!byNs) {
    byNs = new Map();
    clients.set(kc, byNs);
  }
  let r = byNs.get(namespace);
  if (!r) {
    r = makeResources(kc, namespace);
    byNs.set(namespace, r);
  }
  return r;
}

export async function listOrders(kc: KubeConfig, namespace: string): Promise<Order[]> {
  return (await resources(kc, namespace).list("Order")) as unknown as Order[];
}

export async function listAssetTypes(kc: KubeConfig, namespace: string): Promise<AssetType[]> {
  return (await resources(kc, namespace).list("AssetType")) as unknown as AssetType[];
}

export async function listRunbooks(kc: KubeConfig, namespace: string): Promise<Runbook[]> {
  return (await resources(kc, namespace).list("Runbook")) as unknown as Runbook[];
}

export function viewOf(o: Order): OrderView {
  return {
    name: o.metadata?.name ?? "",
    assetType: o.spec.assetType,
    action: o.spec.action ?? "Provision",
    ...(o.spec.target !== undefined ? { target: o.spec.target } : {}),
    requester: { id: o.spec.requester.id, email: o.spec.requester.email },
    ...(o.status?.phase !== undefined ? { phase: o.status.phase } : {}),
    ...(o.status?.message !== undefined ? { message: o.status.message } : {}),
    ...(o.spec.cancelRequested ? { cancelRequested: true } : {}),
    ...(needsCleanup(o) ? { needsCleanup: true } : {}),
  };
}

export async function getOrder(kc: KubeConfig, namespace: string, name: string): Promise<Order | undefined> {
  return (await resources(kc, namespace).get("Order", name)) as unknown as Order | undefined;
}

export type CreateResult = { created: true; order: Order } | { created: false; existing: Order };

/**
 * Creates an Order; an Order of that name already existing is an answer, not an error (the
 * deterministic names make every caller of this idempotent). Other failures are thrown,
 * translated (e.g. 422 with the API server's message).
 */
export async function createOrder(
  kc: KubeConfig,
  namespace: string,
  order: Omit<Order, "apiVersion" | "kind" | "status">,
): Promise<CreateResult> {
  const name = order.metadata?.name ?? "";
  try {
    const created = await resources(kc, namespace).create(
      "Order",
      name,
      order.spec,
      order.metadata?.labels,
      order.metadata?.annotations,
    );
    return { created: true, order: created as unknown as Order };
  } catch (err) {
    if (err instanceof ConflictError) {
      const existing = await getOrder(kc, namespace, name);
      if (existing) return { created: false, existing };
    }
    throw err;
  }
}

/** Asks the operator to cancel an Order that has not started (spec.cancelRequested, merge patch). */
export async function requestCancel(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  await resources(kc, namespace).mergePatch("Order", name, { spec: { cancelRequested: true } });
}
