// AssetType status (#16 "truthful status"): Ready says whether the type can be ordered, i.e.
// whether every Runbook it names exists. Pure: the operator's reconcile observes the Runbook
// cache, this decides the status, and the reconcile writes it only when it changed.
import type { AssetTypeConditionReason } from "../../crds/reasons.ts";
import { setCondition } from "../order/decide.ts";
import type { Condition } from "../order/model.ts";

export type AssetTypeObserved = {
  metadata: { name: string; generation?: number };
  spec: { runbooks: { provision: string; modify?: string; deprovision?: string } };
  status?: { conditions?: Condition[]; observedGeneration?: number };
};

export type AssetTypeStatus = { conditions: Condition[]; observedGeneration?: number };

export function decideAssetType(
  at: AssetTypeObserved,
  runbookExists: (name: string) => boolean,
  now: Date,
): AssetTypeStatus {
  const named = (["provision", "modify", "deprovision"] as const)
    .map((action) => ({ action, name: at.spec.runbooks[action] }))
    .filter((r): r is { action: "provision" | "modify" | "deprovision"; name: string } => !!r.name);
  const missing = named.filter((r) => !runbookExists(r.name));
  const reason: AssetTypeConditionReason = missing.length === 0 ? "RunbooksFound" : "RunbookNotFound";
  const message =
    missing.length === 0
      ? `runbook${named.length === 1 ? "" : "s"} ${named.map((r) => `${r.name} (${r.action})`).join(", ")} exist`
      : `runbook ${missing.map((r) => `${r.name} (${r.action})`).join(", ")} does not exist: ${
          missing.some((r) => r.action === "provision")
            ? "orders of this type wait until it does"
            : "those actions wait until it does"
        }`;
  const gen = at.metadata.generation;
  const conditions = setCondition(
    at.status?.conditions ?? [],
    {
      type: "Ready",
      status: missing.length === 0 ? "True" : "False",
      reason,
      message,
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
    },
    now,
  );
  return { conditions, ...(gen !== undefined ? { observedGeneration: gen } : {}) };
}
