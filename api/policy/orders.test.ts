import assert from "node:assert/strict";
import { test } from "node:test";
import { countOrdersInUse, decideAssetTypeDelete, decideRetry } from "./orders.ts";

const o = (assetType: string, phase?: string) => ({ spec: { assetType }, status: phase ? { phase } : {} });

test("orders in use: open and Provisioned ones of this type only", () => {
  const orders = [
    o("vpn"),
    o("vpn", "PendingApproval"),
    o("vpn", "Scheduled"),
    o("vpn", "Processing"),
    o("vpn", "Provisioned"),
    o("vpn", "Failed"),
    o("vpn", "Cancelled"),
    o("vpn", "Revoked"),
    o("m365", "Provisioned"),
  ];
  assert.equal(countOrdersInUse(orders, "vpn"), 5);
  assert.equal(countOrdersInUse(orders, "none"), 0);
});

const cases: [string, number, boolean, boolean, boolean][] = [
  ["unused", 0, false, false, true],
  ["in use", 2, false, true, false],
  ["forced by an admin", 2, true, false, false],
  ["forced by a superadmin", 2, true, true, true],
];
for (const [name, inUse, force, isSuperadmin, ok] of cases) {
  test(`asset type delete: ${name}`, () => {
    const d = decideAssetTypeDelete("vpn", inUse, { force, isSuperadmin });
    assert.equal(d.ok, ok);
    if (!d.ok) assert.match(d.message, new RegExp(`${inUse} open or provisioned orders`));
  });
}

const st = (phase: string, ready: string, job?: string, retry = 0) => ({
  spec: { retry },
  status: {
    phase,
    conditions: [{ type: "Ready", reason: ready }, ...(job ? [{ type: "JobReady", reason: job }] : [])],
  },
});
const retryCases: [string, ReturnType<typeof st>, string | true][] = [
  ["failed run", st("Failed", "Failed", "JobFailed"), true],
  ["deadline", st("Failed", "Failed", "JobDeadlineExceeded"), true],
  ["declined", st("Failed", "Declined"), "Declined"],
  ["never approved", st("Failed", "NotApproved"), "NotApproved"],
  ["policy refusal (max per user)", st("Failed", "Failed"), "NotRetryable"],
  ["still running", st("Processing", "Processing", "JobCreated"), "AttemptRunning"],
  ["provisioned", st("Provisioned", "Provisioned", "JobSucceeded"), "NotFailed"],
  ["retry already requested", st("Failed", "Failed", "JobFailed", 1), "RetryPending"],
];
for (const [name, o, want] of retryCases) {
  test(`retry: ${name}`, () => {
    const d = decideRetry(o);
    if (want === true) assert.equal(d.ok, true);
    else assert.equal(d.ok ? "ok" : d.reason, want);
  });
}
