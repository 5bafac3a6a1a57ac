import { test } from "node:test";
import assert from "node:assert/strict";
import { orderPhases } from "../crds/reasons.ts";
import { isFinalPhase } from "./kubectl-ipsolis.ts";

test("logs -f stops only at a phase from which no run can follow (the Order phase machine)", () => {
  assert.deepEqual(
    orderPhases.filter((p) => isFinalPhase(p)),
    ["Provisioned", "Cancelled", "Revoked"],
  );
  assert.equal(isFinalPhase("Failed"), false, "a retry runs again");
  assert.equal(isFinalPhase(undefined), false);
  assert.equal(isFinalPhase("toString"), false);
});
