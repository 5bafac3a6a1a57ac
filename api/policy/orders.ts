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

export type RetryOrder = {
  spec: { retry?: number | undefined };
  status?:
    | {
        phase?: string | undefined;
        retry?: number | undefined;
        conditions?: readonly { type: string; reason: string; status?: string }[] | undefined;
      }
    | undefined;
};

/** Whether a retry may be requested now (the operator applies the same rule, decide.ts isRetryable). */
export function decideRetry(o: RetryOrder): { ok: true } | { ok: false; reason: string; message: string } {
  const phase = o.status?.phase;
  if ((o.spec.retry ?? 0) > (o.status?.retry ?? 0)) {
    return {
      ok: false,
      reason: "RetryPending",
      message: "a retry was already requested: its attempt is on the way",
    };
  }
  if (phase !== "Failed") {
    const running = phase === "Processing" || phase === "Scheduled";
    return {
      ok: false,
      reason: running ? "AttemptRunning" : "NotFailed",
      message: running
        ? `the order is ${phase}: an attempt still runs`
        : `the order is ${phase ?? "new"}: only a Failed order can be retried`,
    };
  }
  const ready = o.status?.conditions?.find((c) => c.type === "Ready")?.reason;
  const job = o.status?.conditions?.find((c) => c.type === "JobReady")?.reason;
  if (ready === "Declined")
    return { ok: false, reason: "Declined", message: "the order was declined: it cannot be retried" };
  if (ready === "NotApproved") {
    return {
      ok: false,
      reason: "NotApproved",
      message: "the order was never approved: it cannot be retried",
    };
  }
  if (job !== "JobFailed" && job !== "JobDeadlineExceeded") {
    return {
      ok: false,
      reason: "NotRetryable",
      message: "the order was refused by policy, not by a failed run: retrying would fail the same way",
    };
  }
  // Secret attribute values are deleted when an order finishes (#15 item 4): another attempt
  // would run without them.
  if (o.status?.conditions?.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True")) {
    return {
      ok: false,
      reason: "SecretAttributesGone",
      message:
        "the order's secret attribute values were deleted when it failed: order again (or, once it is cleaned up, revoke and order anew) to give them once more",
    };
  }
  return { ok: true };
}
