import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  awaitedApprovals,
  countsAsApproval,
  eligibleEntries,
  entriesOf,
  type ApprovalPolicy,
} from "./approval-policy.ts";

const requester = { id: "emp1", email: "emp@example.com", manager: "boss@example.com" };
const approvers = (...a: string[]): ApprovalPolicy => ({ policy: "Approvers", approvers: a });

test("a listed entry is a person only when it equals their username or an e-mail (case-insensitive)", () => {
  const cases: [listed: string[], names: string[], want: string[]][] = [
    [["bert"], ["bert", "bert@example.com"], ["bert"]],
    [["BERT@Example.com"], ["bert", "bert@example.com"], ["BERT@Example.com"]],
    [[" bert "], ["Bert"], [" bert "]],
    // e-mail local parts never match, either way round
    [["bert"], ["bert@other.example"], []],
    [["bert@example.com"], ["bert@other.example"], []],
    [["bert@example.com"], ["bert"], []],
    [["anna.smith@example.com"], ["asmith", "anna@example.com"], []],
    // every entry the person is, in list order
    [
      ["carl", "bert@example.com", "bert"],
      ["bert", "bert@example.com"],
      ["bert@example.com", "bert"],
    ],
    [["bert"], ["", " "], []],
  ];
  for (const [listed, names, want] of cases) {
    assert.deepEqual(entriesOf(listed, names), want, `${listed.join(",")} vs ${names.join(",")}`);
  }
});

test("eligible entries: the named approvers, or the requester's manager, or nobody", () => {
  assert.deepEqual(eligibleEntries(approvers("a", "b"), requester), ["a", "b"]);
  assert.deepEqual(eligibleEntries({ policy: "Manager" }, requester), ["boss@example.com"]);
  assert.deepEqual(eligibleEntries({ policy: "Manager" }, { id: "x", email: "x@example.com" }), []);
  assert.deepEqual(eligibleEntries({ policy: "None", approvers: ["a"] }, requester), []);
});

test("an approval entry counts when it is a listed entry exactly and not the requester", () => {
  assert.equal(countsAsApproval("Bert", approvers("bert"), requester), true);
  assert.equal(countsAsApproval("bert@other.example", approvers("bert"), requester), false);
  assert.equal(countsAsApproval("bert", approvers("bert@example.com"), requester), false);
  assert.equal(countsAsApproval("boss@example.com", { policy: "Manager" }, requester), true);
  assert.equal(countsAsApproval("boss", { policy: "Manager" }, requester), false);
  assert.equal(countsAsApproval("emp@example.com", approvers("emp@example.com"), requester), false);
  assert.equal(countsAsApproval("emp1", approvers("emp1"), requester), false);
});

test("property: what the API accepts (entriesOf) is exactly what the operator counts", () => {
  const name = fc.constantFrom(
    "bert",
    "Bert",
    "bert@example.com",
    "bert@other.example",
    "carl",
    "emp1",
    " bert ",
  );
  fc.assert(
    fc.property(fc.array(name, { maxLength: 4 }), fc.array(name, { maxLength: 3 }), (listed, names) => {
      const policy = approvers(...listed);
      for (const e of entriesOf(eligibleEntries(policy, requester), names)) {
        // The entry the API would write counts for the operator (unless it is the requester).
        assert.equal(countsAsApproval(e, policy, requester), e.trim().toLowerCase() !== "emp1");
      }
      for (const n of names) {
        // A name the operator counts is one the API would match for a person of that name.
        if (countsAsApproval(n, policy, requester)) assert.ok(entriesOf(listed, [n]).length > 0);
      }
    }),
  );
});

test("awaited approvals: who has not approved yet and how many more the quorum needs", () => {
  const ok = (approver: string) => ({ approver, decision: "Approved" });
  const cases: {
    name: string;
    policy: ApprovalPolicy;
    approvals: { approver: string; decision: string }[];
    want: { approvers: string[]; needed: number } | undefined;
  }[] = [
    { name: "no approval needed", policy: { policy: "None" }, approvals: [], want: undefined },
    {
      name: "manager, nobody decided",
      policy: { policy: "Manager" },
      approvals: [],
      want: { approvers: ["boss@example.com"], needed: 1 },
    },
    {
      name: "manager approved",
      policy: { policy: "Manager" },
      approvals: [ok("boss@example.com")],
      want: undefined,
    },
    {
      name: "2 of 3, one approved: the other two, one more needed",
      policy: { policy: "Approvers", approvers: ["ann", "bert", "carl"], quorum: 2 },
      approvals: [ok("BERT")],
      want: { approvers: ["ann", "carl"], needed: 1 },
    },
    {
      name: "an entry that does not count (not listed) changes nothing",
      policy: { policy: "Approvers", approvers: ["ann", "bert"], quorum: 1 },
      approvals: [ok("zed")],
      want: { approvers: ["ann", "bert"], needed: 1 },
    },
    {
      name: "the requester is never awaited, duplicates once",
      policy: { policy: "Approvers", approvers: ["emp1", "ann", " Ann "], quorum: 1 },
      approvals: [],
      want: { approvers: ["ann"], needed: 1 },
    },
    {
      name: "a counted decline: nothing awaited",
      policy: { policy: "Approvers", approvers: ["ann", "bert"], quorum: 2 },
      approvals: [{ approver: "ann", decision: "Declined" }],
      want: undefined,
    },
    {
      name: "expired: nothing awaited",
      policy: { policy: "Approvers", approvers: ["ann"] },
      approvals: [{ approver: "system:approvals", decision: "Declined" }],
      want: undefined,
    },
    {
      name: "quorum met",
      policy: { policy: "Approvers", approvers: ["ann", "bert"], quorum: 2 },
      approvals: [ok("ann"), ok("bert")],
      want: undefined,
    },
  ];
  for (const c of cases) assert.deepEqual(awaitedApprovals(c.policy, requester, c.approvals), c.want, c.name);
});
