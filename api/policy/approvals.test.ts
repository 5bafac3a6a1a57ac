import { test } from "node:test";
import assert from "node:assert/strict";
import { checkApproval, isSamePerson, type ApprovalInput } from "./approvals.ts";

const now = new Date("2026-11-25T10:00:00Z");
const base = (over: Partial<ApprovalInput> = {}): ApprovalInput => ({
  approver: { username: "bert", email: "bert@corp.example" },
  decision: "Approved",
  order: {
    phase: "PendingApproval",
    requesterEmail: "emp@corp.example",
    manager: "mgr@corp.example",
    approvals: [],
  },
  policy: { kind: "Approvers", approvers: ["bert@corp.example", "carl"] },
  delegations: [],
  assetTypeChanges: [],
  now,
  ...over,
});
const row = (actor: string) => ({ id: "7", action: "asset_type_updated", actor, at: now });

const cases: { name: string; given: ApprovalInput; want: string }[] = [
  { name: "listed by e-mail → ok", given: base(), want: "ok" },
  {
    name: "changed under the account's username (an alias) → SeparationOfDuties",
    given: base({
      approver: { email: "bert@corp.example", aliases: ["bsmith", "bert@corp.example"] },
      assetTypeChanges: [row("admin:bsmith")],
    }),
    want: "SeparationOfDuties",
  },
  {
    name: "link issued by the asset type's author → SeparationOfDuties",
    given: base({ issuer: { actor: "admin:ann", username: "ann" }, assetTypeChanges: [row("admin:ann")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "link issued by someone who changed nothing → ok",
    given: base({ issuer: { actor: "admin:root", username: "root" }, assetTypeChanges: [row("admin:ann")] }),
    want: "ok",
  },
  {
    name: "declining through the author's link → ok",
    given: base({
      decision: "Declined",
      issuer: { actor: "admin:ann", username: "ann" },
      assetTypeChanges: [row("admin:ann")],
    }),
    want: "ok",
  },
  {
    name: "not pending → NotPending",
    given: base({ order: { ...base().order, phase: "Processing" } }),
    want: "NotPending",
  },
  { name: "not listed → NotApprover", given: base({ approver: { username: "zed" } }), want: "NotApprover" },
  {
    name: "manager policy: the manager → ok",
    given: base({ approver: { email: "mgr@corp.example" }, policy: { kind: "Manager", approvers: [] } }),
    want: "ok",
  },
  {
    name: "policy None → NotApprover",
    given: base({ policy: { kind: "None", approvers: [] } }),
    want: "NotApprover",
  },
  {
    name: "already decided → AlreadyDecided",
    given: base({ order: { ...base().order, approvals: [{ approver: "BERT@corp.example" }] } }),
    want: "AlreadyDecided",
  },
  {
    name: "SoD by admin username",
    given: base({ assetTypeChanges: [row("admin:bert")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "SoD by e-mail",
    given: base({ assetTypeChanges: [row("user:bert@corp.example")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "SoD by e-mail local part",
    given: base({ approver: { email: "bert@corp.example" }, assetTypeChanges: [row("admin:bert")] }),
    want: "SeparationOfDuties",
  },
  { name: "someone else's change → ok", given: base({ assetTypeChanges: [row("admin:ada")] }), want: "ok" },
  {
    name: "declining despite SoD → ok",
    given: base({ decision: "Declined", assetTypeChanges: [row("admin:bert")] }),
    want: "ok",
  },
  {
    name: "own order → SelfApproval",
    given: base({ order: { ...base().order, requesterEmail: "bert@corp.example" } }),
    want: "SelfApproval",
  },
  {
    name: "deputy inside the window → ok",
    given: base({
      approver: { username: "zed" },
      delegations: [
        {
          principal: "carl",
          deputy: "zed",
          startsAt: new Date(now.getTime() - 1),
          endsAt: new Date(now.getTime() + 1),
        },
      ],
    }),
    want: "ok",
  },
  {
    name: "deputy after the window → NotApprover",
    given: base({
      approver: { username: "zed" },
      delegations: [
        { principal: "carl", deputy: "zed", startsAt: new Date(now.getTime() - 10), endsAt: now },
      ],
    }),
    want: "NotApprover",
  },
];
for (const c of cases) {
  test(c.name, () => {
    const d = checkApproval(c.given);
    assert.equal(d.ok ? "ok" : d.reason, c.want);
  });
}

test("a deputy's decision counts for the listed approver", () => {
  const d = checkApproval(
    base({
      approver: { username: "zed" },
      delegations: [{ principal: "carl", deputy: "zed", startsAt: now, endsAt: new Date(now.getTime() + 1) }],
    }),
  );
  assert.deepEqual(d, { ok: true, approverKey: "carl", viaDeputy: true });
});

test("isSamePerson matches token, admin and user actors", () => {
  assert.ok(isSamePerson("token:bert", { username: "bert" }));
  assert.ok(isSamePerson("user:bert@x.example", { username: "bert" }));
  assert.ok(!isSamePerson("admin:bertram", { username: "bert" }));
});
