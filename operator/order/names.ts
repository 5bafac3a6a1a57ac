// Deterministic child names (STYLE.md: `<order>-<attempt>`, hashed past 63 characters) and the
// asset lock key. Pure: hashing is computation, not I/O.
import { createHash } from "node:crypto";
import type { Order } from "./model.ts";

const MAX_NAME = 63;

function shortHash(s: string, len = 8): string {
  return createHash("sha256").update(s).digest("hex").slice(0, len);
}

/** `<base>-<suffix>` when it fits in a DNS label, else a truncated base plus a hash of the whole. */
export function childName(base: string, suffix: string): string {
  const plain = `${base}-${suffix}`;
  if (plain.length <= MAX_NAME) return plain;
  const hash = shortHash(plain);
  const room = MAX_NAME - suffix.length - hash.length - 2;
  return `${base.slice(0, room).replace(/[-.]+$/, "")}-${hash}-${suffix}`;
}

/** The Job of one attempt of one Order. */
export function jobNameFor(order: string, attempt: number): string {
  return childName(order, String(attempt));
}

/** The Secret (owned by the Job) that carries the Job's ingest token. */
export function ingestSecretNameFor(jobName: string): string {
  return childName(jobName, "ingest");
}

/**
 * The asset an Order acts on, as a lock key. A Provision Order's asset is "this requester's
 * asset of this type"; a Modify or Deprovision Order acts on its target's asset, so it takes the
 * target's key. Two runs with the same key never overlap.
 */
export function assetKeyOf(provisionOrder: Pick<Order, "spec">): string {
  return `${provisionOrder.spec.assetType}/${provisionOrder.spec.requester.id}`;
}

/** The Lease that locks one asset: `ipsolis-asset-<hash>` (asset keys hold arbitrary ids). */
export function assetLeaseName(assetKey: string): string {
  return `ipsolis-asset-${shortHash(assetKey, 16)}`;
}

/** The Lease that holds one slot of a CapacityPooled asset type. */
export function slotLeaseName(assetType: string, slot: number): string {
  return childName(`ipsolis-slot-${assetType}`, String(slot));
}
