// Valid objects of our kinds and small helpers to write them and read the API server's refusal.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import type { AssetType, Order, Runbook } from "../../crds/generated/index.ts";
import { testKubeConfig } from "../support/kube.ts";

export const group = "ipsolis.io";
export const version = "v1alpha1";
export type Plural = "assettypes" | "runbooks" | "orders" | "assets";

export function objects(): k8s.CustomObjectsApi {
  return testKubeConfig().makeApiClient(k8s.CustomObjectsApi);
}

export function validAssetType(name = "m365-e3"): AssetType {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "AssetType",
    metadata: { name },
    spec: {
      displayName: "Microsoft 365 E3",
      description: "Office apps, Exchange mailbox and Teams.",
      category: "Licences",
      assignment: { model: "CapacityPooled", capacity: 50, maxPerUser: 1 },
      approval: { policy: "Approvers", approvers: ["alice", "bob@example.com"], quorum: 2 },
      cost: { amountPerMonth: "33.60", currency: "EUR", costCenter: "IT-4711" },
      runbooks: { provision: "m365-licence-add", deprovision: "m365-licence-remove" },
      attributes: [
        { name: "usageLocation", type: "enum", enum: ["DE", "AT"], required: true },
        { name: "note", type: "string" },
      ],
      entitlement: { everyone: true },
      leaseDuration: "720h",
    },
  };
}

export function validRunbook(name = "ad-group-add"): Runbook {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Runbook",
    metadata: { name },
    spec: {
      description: "Adds the requester to an AD group.",
      image: "registry.example.com/ipsolis/runner:1.0",
      kerberos: { secretName: "svc-keytab", principal: "svc-ipsolis@EXAMPLE.COM" },
      steps: [
        {
          name: "add-member",
          script: "Add-ADGroupMember -Identity $env:GROUP -Members $env:IPSOLIS_REQUESTER_ID",
          parameters: [
            { name: "GROUP", value: "VPN-Users" },
            { name: "API_KEY", valueFrom: { secretKeyRef: { name: "api", key: "key" } } },
          ],
        },
        {
          name: "verify",
          shell: "bash",
          scriptFrom: { configMapKeyRef: { name: "scripts", key: "verify.sh" } },
        },
      ],
      schedule: { cron: "0 2 * * *" },
    },
  };
}

export function validOrder(name = "o1", spec: Partial<Order["spec"]> = {}): Order {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name },
    spec: {
      assetType: "m365-e3",
      requester: {
        id: "jdoe",
        email: "jdoe@example.com",
        displayName: "Jane Doe",
        manager: "boss@example.com",
      },
      attributes: { usageLocation: "DE" },
      reason: "new joiner",
      ...spec,
    },
  };
}

/** The API server's message for a refused write (fails the test if the write succeeded). */
export async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return apiMessage(err);
}

/** The message of the API server's Status in a client-node ApiException. */
export function apiMessage(err: unknown): string {
  assert.ok(
    err instanceof k8s.ApiException,
    `expected the API server to refuse the write, got ${String(err)}`,
  );
  const body = err.body as unknown;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch (parseErr) {
    if (parseErr instanceof SyntaxError) return text;
    throw parseErr;
  }
}

export function create<T extends object>(ns: string, plural: Plural, body: T): Promise<T> {
  return objects().createNamespacedCustomObject({
    group,
    version,
    namespace: ns,
    plural,
    body,
  }) as Promise<T>;
}

export function get<T extends object>(ns: string, plural: Plural, name: string): Promise<T> {
  return objects().getNamespacedCustomObject({ group, version, namespace: ns, plural, name }) as Promise<T>;
}

/** Read-modify-write of the main resource (spec). */
export async function update<T extends { metadata?: k8s.V1ObjectMeta }>(
  ns: string,
  plural: Plural,
  name: string,
  change: (o: T) => void,
): Promise<T> {
  const o = await get<T>(ns, plural, name);
  change(o);
  return objects().replaceNamespacedCustomObject({
    group,
    version,
    namespace: ns,
    plural,
    name,
    body: o,
  }) as Promise<T>;
}

/** Read-modify-write through the status subresource (as the operator does). */
export async function updateStatus<T extends { metadata?: k8s.V1ObjectMeta }>(
  ns: string,
  plural: Plural,
  name: string,
  change: (o: T) => void,
): Promise<T> {
  const o = await get<T>(ns, plural, name);
  change(o);
  return objects().replaceNamespacedCustomObjectStatus({
    group,
    version,
    namespace: ns,
    plural,
    name,
    body: o,
  }) as Promise<T>;
}
