// AssetType CRD against the real API server: a valid object is accepted with its defaults, and
// each bad object is refused with the API server's own message (schema and CEL rules).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { AssetType } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { create, refusal, validAssetType } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("a valid AssetType is accepted and defaults are applied", async (t) => {
  const ns = await newNamespace(t);
  const at = validAssetType();
  at.spec.approval = { policy: "Approvers", approvers: ["alice"] };
  const got = await create(ns, "assettypes", at);
  assert.equal(got.spec.approval.quorum, 1, "quorum defaults to 1");
  assert.equal(got.spec.cost.amountPerMonth, "33.60");

  const dedicated = validAssetType("vpn");
  dedicated.spec.assignment = { model: "DedicatedShared" };
  dedicated.spec.approval = { policy: "Manager" };
  dedicated.spec.attributes = undefined;
  await create(ns, "assettypes", dedicated);
});

const bad: { name: string; change: (a: AssetType) => void; want: RegExp }[] = [
  {
    name: "missing displayName",
    change: (a) => delete (a.spec as Partial<AssetType["spec"]>).displayName,
    want: /spec\.displayName: Required value/,
  },
  {
    name: "unknown assignment model",
    change: (a) => (a.spec.assignment = { model: "Shared" as "DedicatedShared" }),
    want: /spec\.assignment\.model: Unsupported value: "Shared": supported values: "CapacityPooled", "DedicatedShared", "AssignedPersonal"/,
  },
  {
    name: "lower-case currency",
    change: (a) => (a.spec.cost.currency = "eur"),
    want: /spec\.cost\.currency in body should match '\^\[A-Z\]\{3\}\$'/,
  },
  {
    name: "amount with three dots",
    change: (a) => (a.spec.cost.amountPerMonth = "12.5.0"),
    want: /spec\.cost\.amountPerMonth in body should match/,
  },
  {
    name: "amount as a number-like with a comma",
    change: (a) => (a.spec.cost.amountPerMonth = "12,50"),
    want: /spec\.cost\.amountPerMonth in body should match/,
  },
  {
    name: "CapacityPooled without capacity",
    change: (a) => delete a.spec.assignment.capacity,
    want: /spec\.assignment\.capacity: Invalid value: capacity is required when model is CapacityPooled and not allowed otherwise/,
  },
  {
    name: "capacity on a DedicatedShared type",
    change: (a) => (a.spec.assignment = { model: "DedicatedShared", capacity: 5 }),
    want: /capacity is required when model is CapacityPooled and not allowed otherwise/,
  },
  {
    name: "capacity 0",
    change: (a) => (a.spec.assignment.capacity = 0),
    want: /spec\.assignment\.capacity in body should be greater than or equal to 1/,
  },
  {
    name: "Approvers policy without approvers",
    change: (a) => (a.spec.approval = { policy: "Approvers" }),
    want: /spec\.approval\.approvers: Invalid value: approvers must be non-empty when policy is Approvers and unset otherwise/,
  },
  {
    name: "approvers with policy Manager",
    change: (a) => (a.spec.approval = { policy: "Manager", approvers: ["alice"] }),
    want: /approvers must be non-empty when policy is Approvers and unset otherwise/,
  },
  {
    name: "quorum larger than the approvers",
    change: (a) => (a.spec.approval.quorum = 3),
    want: /spec\.approval\.quorum: Invalid value: quorum cannot exceed the number of approvers/,
  },
  {
    name: "duplicate approvers",
    change: (a) => (a.spec.approval.approvers = ["alice", "alice"]),
    want: /spec\.approval\.approvers\[1\]: Duplicate value: "alice"/,
  },
  {
    name: "enum attribute without values",
    change: (a) => (a.spec.attributes = [{ name: "loc", type: "enum" }]),
    want: /spec\.attributes\[0\]\.enum: Invalid value: enum must list the allowed values when type is enum/,
  },
  {
    name: "duplicate attribute names",
    change: (a) =>
      (a.spec.attributes = [
        { name: "x", type: "string" },
        { name: "x", type: "number" },
      ]),
    want: /spec\.attributes\[1\]: Duplicate value: \{"name":"x"\}/,
  },
  {
    name: "lease duration in words",
    change: (a) => (a.spec.leaseDuration = "30 days"),
    want: /spec\.leaseDuration in body should match/,
  },
  {
    name: "runbook name that is not a DNS name",
    change: (a) => (a.spec.runbooks.provision = "Add_Licence"),
    want: /spec\.runbooks\.provision in body should match/,
  },
];

for (const c of bad) {
  test(`AssetType refused: ${c.name}`, async (t) => {
    const ns = await newNamespace(t);
    const a = validAssetType();
    c.change(a);
    const msg = await refusal(create(ns, "assettypes", a));
    assert.match(msg, c.want);
  });
}
