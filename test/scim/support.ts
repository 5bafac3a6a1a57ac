// Helpers for the SCIM, leaver and integration tests: an API on the real wiring with a `scim`
// token, SCIM requests, and Orders/AssetTypes on the real API server.
import type { TestContext } from "node:test";
import * as k8s from "@kubernetes/client-node";
import type { LightMyRequestResponse } from "fastify";
import { newApi, addToken, type Api } from "../api/support.ts";
import { applyCrds } from "../support/crds.ts";
import { eventually } from "../support/kube.ts";
import type { ApiConfig } from "../../api/config.ts";
import { AssetTypeResource, OrderResource, type Order } from "../../crds/generated/index.ts";

export const HR_SECRET = "hr-secret-0123456789-0123456789-0123456789";
export const SNOW_SECRET = "snow-secret-0123456789-0123456789-012345678";

export type ScimApi = Api & {
  token: string;
  scim(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
};

export async function newScimApi(
  t: Pick<TestContext, "after">,
  opts: { config?: Partial<ApiConfig>; crds?: boolean } = {},
): Promise<ScimApi> {
  if (opts.crds !== false) await applyCrds();
  // SCIM tests own the directory: it starts empty.
  const api = await newApi(t, {
    people: false,
    config: {
      IPSOLIS_HR_WEBHOOK_SECRET: HR_SECRET,
      IPSOLIS_SERVICENOW_WEBHOOK_SECRET: SNOW_SECRET,
      ...opts.config,
    },
  });
  const token = await addToken(api, "admin", ["scim"], "entra-provisioning");
  return {
    ...api,
    token,
    scim: (method, url, body, headers = {}) =>
      api.app.inject({
        method: method as "GET",
        url: `/scim/v2${url}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": "application/scim+json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { payload: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      }),
  };
}

export function userBody(userName: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    name: { givenName: "Test", familyName: userName.split("@")[0] },
    emails: [{ value: userName, type: "work", primary: true }],
    active: true,
    ...more,
  };
}

function custom(kc: k8s.KubeConfig) {
  return kc.makeApiClient(k8s.CustomObjectsApi);
}

export async function createAssetType(
  api: Api,
  name: string,
  model: "CapacityPooled" | "DedicatedShared" | "AssignedPersonal" = "AssignedPersonal",
  more: Record<string, unknown> = {},
): Promise<void> {
  await custom(api.kc).createNamespacedCustomObject({
    group: AssetTypeResource.group,
    version: AssetTypeResource.version,
    namespace: api.namespace,
    plural: AssetTypeResource.plural,
    body: {
      apiVersion: AssetTypeResource.apiVersion,
      kind: "AssetType",
      metadata: { name },
      spec: {
        displayName: `Asset ${name}`,
        description: `Test asset type ${name}`,
        category: "test",
        assignment: { model, ...(model === "CapacityPooled" ? { capacity: 1000 } : {}) },
        approval: { policy: "None" },
        cost: { amountPerMonth: "1.00", currency: "EUR", costCenter: "CC-1" },
        runbooks: { provision: "rb-provision", deprovision: "rb-deprovision" },
        ...more,
      },
    },
  });
}

/**
 * A Provision Order and, standing in for the operator (which is not part of these tests), its
 * status set to Provisioned through the status subresource by server-side apply, as the
 * operator writes it. No Job or Pod status is written.
 */
export async function createProvisioned(
  api: Api,
  name: string,
  assetType: string,
  requester: { id: string; email: string },
): Promise<void> {
  await createInPhase(api, name, assetType, requester, "Provisioned");
}

/** A Provision Order moved to `phase` as the operator would (see setPhase). */
export async function createInPhase(
  api: Api,
  name: string,
  assetType: string,
  requester: { id: string; email: string },
  phase: string,
): Promise<void> {
  await custom(api.kc).createNamespacedCustomObject({
    group: OrderResource.group,
    version: OrderResource.version,
    namespace: api.namespace,
    plural: OrderResource.plural,
    body: {
      apiVersion: OrderResource.apiVersion,
      kind: "Order",
      metadata: { name },
      spec: { assetType, action: "Provision", requester },
    },
  });
  await setPhase(api, name, phase);
}

/** The Order state machine's allowed moves (crds/orders.yaml status.phase rule). */
const MOVES: Record<string, string[]> = {
  "": ["PendingApproval", "Scheduled", "Failed", "Cancelled"],
  PendingApproval: ["Scheduled", "Cancelled", "Failed"],
  Scheduled: ["Processing", "Cancelled", "Failed"],
  Processing: ["Provisioned", "Failed", "Revoked"],
  Provisioned: ["Revoked"],
  Failed: ["Scheduled", "Revoked"],
  Cancelled: [],
  Revoked: [],
};

function pathTo(from: string, to: string): string[] {
  const prev = new Map<string, string>([[from, ""]]);
  const queue = [from];
  while (queue.length > 0) {
    const cur = queue.shift()!;
    if (cur === to) break;
    for (const n of MOVES[cur] ?? []) {
      if (prev.has(n)) continue;
      prev.set(n, cur);
      queue.push(n);
    }
  }
  if (!prev.has(to)) throw new Error(`no way from phase ${from || "(none)"} to ${to}`);
  const path: string[] = [];
  for (let p = to; p !== from; p = prev.get(p)!) path.unshift(p);
  return path;
}

/**
 * Moves an Order's status.phase to `phase` as the operator would: through the allowed
 * transitions, each written by server-side apply on the status subresource.
 */
export async function setPhase(api: Api, name: string, phase: string, message?: string): Promise<void> {
  const current = (await custom(api.kc).getNamespacedCustomObject({
    group: OrderResource.group,
    version: OrderResource.version,
    namespace: api.namespace,
    plural: OrderResource.plural,
    name,
  })) as Order;
  for (const step of pathTo(current.status?.phase ?? "", phase)) {
    const at = new Date().toISOString();
    await custom(api.kc).patchNamespacedCustomObjectStatus(
      {
        group: OrderResource.group,
        version: OrderResource.version,
        namespace: api.namespace,
        plural: OrderResource.plural,
        name,
        fieldManager: "ipsolis-operator",
        force: true,
        body: {
          apiVersion: OrderResource.apiVersion,
          kind: "Order",
          metadata: { name, namespace: api.namespace },
          status: {
            phase: step,
            ...(message && step === phase ? { message } : {}),
            ...(step === "Provisioned" ? { provisionedAt: at } : {}),
            ...(step === "Revoked" ? { revokedAt: at } : {}),
          },
        },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
    );
  }
}

export async function listOrders(api: Api): Promise<Order[]> {
  // Right after the CRDs are installed the API server may answer 429 "storage is
  // (re)initializing" for a moment: retry that, nothing else.
  return eventually("Orders listed", async () => {
    try {
      const r = (await custom(api.kc).listNamespacedCustomObject({
        group: OrderResource.group,
        version: OrderResource.version,
        namespace: api.namespace,
        plural: OrderResource.plural,
      })) as { items: Order[] };
      return r.items;
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 429) return undefined;
      throw err;
    }
  });
}

export async function auditRows(
  api: Api,
  where = "true",
  args: unknown[] = [],
): Promise<
  {
    actor: string;
    action: string;
    target: string | null;
    order: string | null;
    source: string;
    data: Record<string, unknown>;
  }[]
> {
  const r = await api.db.query<{
    actor: string;
    action: string;
    target: string | null;
    order: string | null;
    source: string;
    data: Record<string, unknown>;
  }>(
    `SELECT actor, action, target, order_name AS "order", source, data FROM audit_events WHERE ${where} ORDER BY id`,
    args,
  );
  return r.rows;
}
