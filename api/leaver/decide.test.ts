import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deprovisionOrderName,
  effectiveAt,
  isHeldBy,
  outcomeOf,
  pendingOrdersOf,
  planFanout,
  subjectOfEmployee,
  subjectOfIdentifier,
  summarise,
  type OrderView,
} from "./decide.ts";

const ada = subjectOfEmployee({
  id: "0f0e0d0c-0b0a-4009-8007-060504030201",
  userName: "Ada@Example.com",
  externalId: "ext-1",
  employeeNumber: "1001",
  emails: ["ada@example.com", "ada.private@example.org"],
  displayName: "Ada",
});

const order = (name: string, more: Partial<OrderView> = {}): OrderView => ({
  name,
  assetType: "vpn",
  action: "Provision",
  requester: { id: "ada@example.com", email: "ada@example.com" },
  phase: "Provisioned",
  ...more,
});

test("subjects: every identifier lower-cased, one leaver key per employee", () => {
  assert.equal(ada.leaverKey, "employee:0f0e0d0c-0b0a-4009-8007-060504030201");
  assert.ok(ada.ids.includes("ada@example.com") && ada.ids.includes("1001") && ada.ids.includes("ext-1"));
  assert.deepEqual(subjectOfIdentifier(" JDoe ").ids, ["jdoe"]);
  assert.deepEqual(subjectOfIdentifier("J@X.io").emails, ["j@x.io"]);
});

const held: { name: string; o: OrderView; want: boolean }[] = [
  { name: "provisioned, requester id matches", o: order("a"), want: true },
  {
    name: "matches by employee number",
    o: order("a", { requester: { id: "1001", email: "x@y.z" } }),
    want: true,
  },
  {
    name: "matches by a secondary e-mail",
    o: order("a", { requester: { id: "zz", email: "ADA.PRIVATE@example.org" } }),
    want: true,
  },
  {
    name: "someone else",
    o: order("a", { requester: { id: "bob", email: "bob@example.com" } }),
    want: false,
  },
  { name: "still pending approval", o: order("a", { phase: "PendingApproval" }), want: false },
  { name: "already revoked", o: order("a", { phase: "Revoked" }), want: false },
  { name: "failed provision where no step ran", o: order("a", { phase: "Failed" }), want: false },
  {
    name: "failed provision where a step ran (partial grant to clean up)",
    o: order("a", { phase: "Failed", needsCleanup: true }),
    want: true,
  },
  { name: "a Modify order is not an asset", o: order("a", { action: "Modify", target: "b" }), want: false },
  {
    name: "a Deprovision order is not an asset",
    o: order("a", { action: "Deprovision", target: "b" }),
    want: false,
  },
];
for (const c of held) test(`isHeldBy: ${c.name}`, () => assert.equal(isHeldBy(c.o, ada), c.want));

test("plan: one deprovision per held asset, deterministic names, existing ones flagged", () => {
  const orders = [
    order("vpn-ada"),
    order("seat-ada", { assetType: "seat" }),
    order("seat-ada-deprovision", { action: "Deprovision", target: "seat-ada", phase: "Scheduled" }),
    order("vpn-bob", { requester: { id: "bob", email: "bob@example.com" } }),
  ];
  assert.deepEqual(planFanout(orders, ada), [
    { target: "seat-ada", assetType: "seat", orderName: "seat-ada-deprovision", alreadyQueued: true },
    { target: "vpn-ada", assetType: "vpn", orderName: "vpn-ada-deprovision", alreadyQueued: false },
  ]);
});

test("deprovision names: retries count up; long names are hashed within 63 characters (a label value)", () => {
  assert.equal(deprovisionOrderName("x"), "x-deprovision");
  assert.equal(deprovisionOrderName("x", 2), "x-deprovision-2");
  const long = "a".repeat(63);
  const n = deprovisionOrderName(long);
  assert.ok(n.length <= 63 && n.endsWith("-deprovision"), n);
  assert.ok(deprovisionOrderName(long, 12).length <= 63);
  assert.notEqual(n, deprovisionOrderName("a".repeat(62) + "b"));
  assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
});

const outcomes: [string | undefined, string | null, string][] = [
  [undefined, null, "queued"],
  ["Scheduled", null, "queued"],
  ["PendingApproval", null, "queued"],
  ["Processing", null, "inProgress"],
  ["Revoked", null, "revoked"],
  ["Failed", null, "failed"],
  ["Cancelled", null, "cancelled"],
  ["Scheduled", "create failed", "failed"],
];
for (const [phase, err, want] of outcomes) {
  test(`outcome: phase ${phase ?? "none"}${err ? " with a create error" : ""} → ${want}`, () => {
    const o = order("d", {
      action: "Deprovision",
      target: "t",
      ...(phase ? { phase } : { phase: undefined }),
    });
    assert.equal(outcomeOf(o, err), want);
  });
}
test("outcome: an item whose Order disappeared counts as failed", () => {
  assert.equal(outcomeOf(undefined, null), "failed");
});

test("summary and effective date", () => {
  assert.deepEqual(summarise(["queued", "failed", "revoked", "revoked"]), {
    queued: 1,
    inProgress: 0,
    revoked: 2,
    failed: 1,
    cancelled: 0,
    total: 4,
  });
  const now = new Date("2026-11-25T10:00:00Z");
  assert.equal(effectiveAt(undefined, now), now);
  assert.equal(effectiveAt(new Date("2026-01-01T00:00:00Z"), now), now, "a past date takes effect now");
  assert.equal(effectiveAt(new Date("2026-12-31T00:00:00Z"), now).toISOString(), "2026-12-31T00:00:00.000Z");
});

test("pending orders of a leaver: not started, not already cancelled, theirs", () => {
  const orders = [
    order("p1", { phase: "PendingApproval" }),
    order("p2", { phase: "Scheduled" }),
    order("p3", { phase: undefined }),
    order("p4", { phase: "Scheduled", cancelRequested: true }),
    order("p5", { phase: "Processing" }),
    order("p6", { phase: "Scheduled", requester: { id: "bob", email: "bob@example.com" } }),
    order("p7", { phase: "Scheduled", action: "Modify", target: "x" }),
  ];
  assert.deepEqual(pendingOrdersOf(orders, ada), ["p1", "p2", "p3"]);
});
