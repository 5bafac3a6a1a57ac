// Pure rules about Orders the API applies (issue #19). No I/O.

export type OrderLike = {
  spec: { assetType: string; action?: string | undefined };
  status?: { phase?: string | undefined } | undefined;
};

/** Phases in which an Order still needs its AssetType: open ones, and delivered assets. */
const IN_USE = new Set([undefined, "PendingApproval", "Scheduled", "Processing", "Provisioned"]);

/**
 * How many Orders still reference the asset type: open ones and Provisioned ones, whose
 * deprovision (revoke, leaver) needs the type and its runbooks. Deleting the type under them
 * would stall those deprovisions.
 */
export function countOrdersInUse(orders: readonly OrderLike[], assetType: string): number {
  return orders.filter((o) => o.spec.assetType === assetType && IN_USE.has(o.status?.phase)).length;
}

export type DeleteDecision =
  { ok: true; forced: boolean } | { ok: false; reason: "AssetTypeInUse"; message: string };

/** An asset type in use is deleted only when a superadmin forces it. */
export function decideAssetTypeDelete(
  name: string,
  inUse: number,
  opts: { force: boolean; isSuperadmin: boolean },
): DeleteDecision {
  if (inUse === 0) return { ok: true, forced: false };
  if (opts.force && opts.isSuperadmin) return { ok: true, forced: true };
  const what = `${inUse} open or provisioned order${inUse === 1 ? "" : "s"}`;
  return {
    ok: false,
    reason: "AssetTypeInUse",
    message: `asset type ${name} is still referenced by ${what}; their deprovisions (revoke, leavers) would stall without it: ${
      opts.force
        ? "only a superadmin may force the delete"
        : "revoke them first, or a superadmin deletes with ?force=true"
    }`,
  };
}
