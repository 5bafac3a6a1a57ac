// Shared helpers of the operator's integration tests: our kinds as fixtures, the operator run
// in-process against the test API server, and reads of what a user sees (status, Events, Jobs).
import * as k8s from "@kubernetes/client-node";
import type { TestContext } from "node:test";
import { createLogger } from "../../record/log.ts";
import { OperatorEnv, startOperator, type Operator, type OperatorConfig } from "../../operator/main.ts";
import type { AssetType, Order, Runbook } from "../../crds/generated/index.ts";
import { eventually, testKubeConfig } from "../support/kube.ts";

export const group = "ipsolis.io";
export const version = "v1alpha1";
type Plural = "assettypes" | "runbooks" | "orders" | "assets";

export const INGEST_SECRET = "test-ingest-secret-0123456789abcdef";

export function api() {
  const kc = testKubeConfig();
  return {
    objects: kc.makeApiClient(k8s.CustomObjectsApi),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    core: kc.makeApiClient(k8s.CoreV1Api),
    events: kc.makeApiClient(k8s.EventsV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
  };
}

/** Starts an operator for one namespace; stopped when the test ends. */
export async function runOperator(
  t: Pick<TestContext, "after">,
  namespace: string,
  over: Partial<OperatorConfig> = {},
): Promise<Operator> {
  const config: OperatorConfig = {
    ...OperatorEnv.parse({ IPSOLIS_NAMESPACE: namespace }),
    IPSOLIS_OPERATOR_PORT: 0,
    IPSOLIS_OPERATOR_HOST: "127.0.0.1",
    IPSOLIS_OPERATOR_CONCURRENCY: 4,
    IPSOLIS_LEADER_ELECTION: true,
    IPSOLIS_LEADER_LEASE_SECONDS: 4,
    IPSOLIS_LEADER_RENEW_MS: 300,
    IPSOLIS_RESYNC_SECONDS: 600,
    LOG_LEVEL: "warn",
    ...over,
  };
  const op = await startOperator(config, {
    kubeConfig: testKubeConfig(),
    log: createLogger({ level: config.LOG_LEVEL, name: "operator-test" }),
  });
  t.after(() => op.stop());
  return op;
}

export function assetType(name: string, spec: Partial<AssetType["spec"]> = {}): AssetType {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "AssetType",
    metadata: { name },
    spec: {
      displayName: name,
      category: "Access",
      assignment: { model: "AssignedPersonal" },
      approval: { policy: "None" },
      cost: { amountPerMonth: "1.00", currency: "EUR", costCenter: "IT" },
      runbooks: { provision: `${name}-grant`, deprovision: `${name}-revoke` },
      ...spec,
    },
  };
}

export function runbook(
  name: string,
  steps: Runbook["spec"]["steps"],
  spec: Partial<Runbook["spec"]> = {},
): Runbook {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Runbook",
    metadata: { name },
    spec: { image: "ipsolis/runner:test", steps, ...spec },
  };
}

export const bashStep = (
  name: string,
  script: string,
  over: Partial<Runbook["spec"]["steps"][number]> = {},
) => ({
  name,
  shell: "bash" as const,
  script,
  ...over,
});

export function order(name: string, spec: Partial<Order["spec"]> & { assetType: string }): Order {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name },
    spec: {
      requester: { id: "jdoe", email: "jdoe@example.com", manager: "boss@example.com" },
      ...spec,
    },
  };
}

export async function create<T extends object>(ns: string, plural: Plural, body: T): Promise<T> {
  return (await api().objects.createNamespacedCustomObject({
    group,
    version,
    namespace: ns,
    plural,
    body,
  })) as T;
}

export async function get<T>(ns: string, plural: Plural, name: string): Promise<T> {
  return (await api().objects.getNamespacedCustomObject({
    group,
    version,
    namespace: ns,
    plural,
    name,
  })) as T;
}

/** A JSON merge patch of an object's spec (as the API would write it). */
export async function patchSpec(ns: string, plural: Plural, name: string, spec: Record<string, unknown>) {
  const kc = testKubeConfig();
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  await client.patch(
    {
      apiVersion: `${group}/${version}`,
      kind: kindOf(plural),
      metadata: { name, namespace: ns },
      spec,
    } as k8s.KubernetesObject,
    undefined,
    undefined,
    "ipsolis-test",
    undefined,
    k8s.PatchStrategy.MergePatch,
  );
}

function kindOf(p: Plural) {
  return ({ assettypes: "AssetType", runbooks: "Runbook", orders: "Order", assets: "Asset" } as const)[p];
}

/** Waits until the Order satisfies `ok`, returning it; the message names the last status seen. */
export async function waitOrder(
  ns: string,
  name: string,
  ok: (o: Order) => boolean,
  ms = 20_000,
): Promise<Order> {
  let last: Order | undefined;
  try {
    return await eventually(
      `order ${name}`,
      async () => {
        last = await get<Order>(ns, "orders", name);
        return ok(last) ? last : undefined;
      },
      ms,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`, {
      cause: err,
    });
  }
}

export const phaseIs = (phase: string) => (o: Order) => o.status?.phase === phase;

export function condition(o: Order | Runbook, type: string) {
  return o.status?.conditions?.find((c) => c.type === type);
}

/** Events regarding one object, oldest first. */
export async function eventsFor(ns: string, name: string): Promise<k8s.EventsV1Event[]> {
  const list = await api().events.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `regarding.name=${name}`,
  });
  return list.items.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
}

export async function jobsOf(ns: string, order: string): Promise<k8s.V1Job[]> {
  return (await api().batch.listNamespacedJob({ namespace: ns, labelSelector: `ipsolis.io/order=${order}` }))
    .items;
}

/** Setup for the common case: an approval-free AssetType with a one-step provision runbook. */
export async function simpleCatalog(ns: string, name = "vpn", steps = [bashStep("grant", "echo granted")]) {
  await create(ns, "runbooks", runbook(`${name}-grant`, steps));
  await create(ns, "runbooks", runbook(`${name}-revoke`, [bashStep("revoke", "echo revoked")]));
  await create(ns, "assettypes", assetType(name));
}
