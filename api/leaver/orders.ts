// The few Kubernetes reads and writes the leaver fan-out and the ServiceNow webhook need:
// list Orders and AssetTypes of the namespace, create an Order (idempotent by name).
import * as k8s from "@kubernetes/client-node";
import { translateKubeError } from "../../operator/index.ts";
import { AssetTypeResource, OrderResource, type AssetType, type Order } from "../../crds/generated/index.ts";
import type { OrderView } from "./decide.ts";

const FIELD_MANAGER = "ipsolis-api";

const clients = new WeakMap<k8s.KubeConfig, k8s.CustomObjectsApi>();

function api(kc: k8s.KubeConfig): k8s.CustomObjectsApi {
  let c = clients.get(kc);
  if (!c) {
    c = kc.makeApiClient(k8s.CustomObjectsApi);
    clients.set(kc, c);
  }
  return c;
}

type List<T> = { items: T[]; metadata?: { continue?: string } };

async function listAll<T>(kc: k8s.KubeConfig, namespace: string, plural: string, what: string): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = (await api(kc)
      .listNamespacedCustomObject({
        group: OrderResource.group,
        version: OrderResource.version,
        namespace,
        plural,
        limit: 500,
        ...(cont ? { _continue: cont } : {}),
      })
      .catch((err: unknown) => {
        throw translateKubeError(err, what);
      })) as List<T>;
    out.push(...page.items);
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

export function listOrders(kc: k8s.KubeConfig, namespace: string): Promise<Order[]> {
  return listAll<Order>(kc, namespace, OrderResource.plural, "listing Orders");
}

export function listAssetTypes(kc: k8s.KubeConfig, namespace: string): Promise<AssetType[]> {
  return listAll<AssetType>(kc, namespace, AssetTypeResource.plural, "listing AssetTypes");
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
  };
}

export async function getOrder(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
): Promise<Order | undefined> {
  try {
    return (await api(kc).getNamespacedCustomObject({
      group: OrderResource.group,
      version: OrderResource.version,
      namespace,
      plural: OrderResource.plural,
      name,
    })) as Order;
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return undefined;
    throw translateKubeError(err, `reading Order ${name}`);
  }
}

export type CreateResult = { created: true; order: Order } | { created: false; existing: Order };

/**
 * Creates an Order; an Order of that name already existing is an answer, not an error (the
 * deterministic names make every caller of this idempotent). Other failures are thrown,
 * translated (e.g. 422 with the API server's message).
 */
export async function createOrder(
  kc: k8s.KubeConfig,
  namespace: string,
  order: Omit<Order, "apiVersion" | "kind" | "status">,
): Promise<CreateResult> {
  const body = { apiVersion: OrderResource.apiVersion, kind: OrderResource.kind, ...order };
  body.metadata = { ...order.metadata, namespace };
  try {
    const created = (await api(kc).createNamespacedCustomObject({
      group: OrderResource.group,
      version: OrderResource.version,
      namespace,
      plural: OrderResource.plural,
      body,
      fieldManager: FIELD_MANAGER,
    })) as Order;
    return { created: true, order: created };
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 409) {
      const existing = await getOrder(kc, namespace, order.metadata?.name ?? "");
      if (existing) return { created: false, existing };
    }
    throw translateKubeError(err, `creating Order ${order.metadata?.name ?? ""}`);
  }
}

/** Asks the operator to cancel an Order that has not started (spec.cancelRequested, merge patch). */
export async function requestCancel(kc: k8s.KubeConfig, namespace: string, name: string): Promise<void> {
  try {
    await api(kc).patchNamespacedCustomObject(
      {
        group: OrderResource.group,
        version: OrderResource.version,
        namespace,
        plural: OrderResource.plural,
        name,
        body: { spec: { cancelRequested: true } },
        fieldManager: FIELD_MANAGER,
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  } catch (err) {
    throw translateKubeError(err, `cancelling Order ${name}`);
  }
}
