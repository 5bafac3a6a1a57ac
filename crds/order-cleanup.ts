// Whether a Failed Provision may have granted something (issue #19): any step of its last
// attempt started. Such an Order can be revoked (its deprovision runbook runs against the target;
// runbooks must be idempotent), and the leaver fan-out includes it. A Failed Provision where no
// step ran needs no cleanup. Pure data rule shared by the operator and the API.

export type StepLike = { state: string; attempts?: number | undefined; startedAt?: string | undefined };
export type OrderLike = {
  spec: { action?: string | undefined };
  status?: { phase?: string | undefined; steps?: readonly StepLike[] | undefined } | undefined;
};

export function hasAnyStepRun(steps: readonly StepLike[] | undefined): boolean {
  return (steps ?? []).some(
    (s) => s.state === "Running" || s.state === "Succeeded" || s.state === "Failed" || (s.attempts ?? 0) > 0,
  );
}

/** A Failed Provision that may have granted something and so needs its deprovision run. */
export function needsCleanup(o: OrderLike): boolean {
  return (
    (o.spec.action ?? "Provision") === "Provision" &&
    o.status?.phase === "Failed" &&
    hasAnyStepRun(o.status.steps)
  );
}
