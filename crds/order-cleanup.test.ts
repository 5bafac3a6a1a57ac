import assert from "node:assert/strict";
import { test } from "node:test";
import { needsCleanup } from "./order-cleanup.ts";

const failed = (steps: { state: string; attempts?: number }[], action = "Provision") => ({
  spec: { action },
  status: { phase: "Failed", steps },
});

test("a Failed Provision needs cleanup exactly when a step ran", () => {
  assert.equal(needsCleanup(failed([{ state: "Succeeded" }, { state: "Failed" }])), true);
  assert.equal(needsCleanup(failed([{ state: "Failed", attempts: 1 }])), true);
  assert.equal(needsCleanup(failed([{ state: "Pending" }, { state: "Pending" }])), false);
  assert.equal(needsCleanup(failed([])), false);
  assert.equal(needsCleanup(failed([{ state: "Failed" }], "Deprovision")), false);
  assert.equal(
    needsCleanup({ spec: {}, status: { phase: "Provisioned", steps: [{ state: "Succeeded" }] } }),
    false,
  );
});
