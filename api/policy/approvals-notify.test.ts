import { test } from "node:test";
import assert from "node:assert/strict";
import {
  approvalRecipients,
  escalationRecipients,
  isRecentOutcome,
  leaverReassignment,
  openApproverKeys,
  outcomesOf,
  type RecipientInput,
} from "./approvals-notify.ts";

const NOW = new Date("2026-12-05T12:00:00Z");
const ann = { id: "ann", email: "ann@corp.example", manager: "bob@corp.example" };
const base: RecipientInput = {
  policy: { policy: "Manager" },
  requester: ann,
  decided: [],
  emailOf: new Map(),
  deputyEmailOf: new Map(),
  delegations: [],
  now: NOW,
};
const win = (principal: string, deputy: string, fromH: number, toH: number) => ({
  principal,
  deputy,
  startsAt: new Date(NOW.getTime() + fromH * 3600_000),
  endsAt: new Date(NOW.getTime() + toH * 3600_000),
});

const cases: { name: string; given: Partial<RecipientInput>; want: string[] }[] = [
  {
    name: "Manager: the requester's manager",
    given: {},
    want: ["bob@corp.example/approver/bob@corp.example"],
  },
  {
    name: "Manager without a manager: nobody",
    given: { requester: { id: "ann", email: "ann@corp.example" } },
    want: [],
  },
  { name: "decided: nobody more", given: { decided: ["BOB@corp.example"] }, want: [] },
  {
    name: "Approvers: each listed one by e-mail, usernames via the directory, unknown skipped",
    given: {
      policy: { policy: "Approvers", approvers: ["carol", "dave@corp.example", "nomail"] },
      emailOf: new Map([["carol", "carol@corp.example"]]),
    },
    want: ["carol@corp.example/approver/carol", "dave@corp.example/approver/dave@corp.example"],
  },
  {
    name: "the requester listed as approver gets nothing",
    given: { policy: { policy: "Approvers", approvers: ["ann@corp.example", "dave@corp.example"] } },
    want: ["dave@corp.example/approver/dave@corp.example"],
  },
  {
    name: "an active deputy gets it too, deciding as themself",
    given: { delegations: [win("bob@corp.example", "erin@corp.example", -1, 5)] },
    want: ["bob@corp.example/approver/bob@corp.example", "erin@corp.example/deputy/bob@corp.example"],
  },
  {
    name: "a delegation not yet started or already over: no deputy",
    given: {
      delegations: [
        win("bob@corp.example", "erin@corp.example", 1, 5),
        win("bob@corp.example", "fay@corp.example", -5, -1),
      ],
    },
    want: ["bob@corp.example/approver/bob@corp.example"],
  },
  {
    name: "the requester as deputy gets nothing (self-approval)",
    given: { delegations: [win("bob@corp.example", "ann@corp.example", -1, 5)] },
    want: ["bob@corp.example/approver/bob@corp.example"],
  },
  {
    name: "a deputy by username resolves to their e-mail; a deputy of a decided approver gets nothing",
    given: {
      policy: { policy: "Approvers", approvers: ["carol@corp.example", "dave@corp.example"] },
      decided: ["dave@corp.example"],
      delegations: [
        win("carol@corp.example", "gil", -1, 1),
        win("dave@corp.example", "hal@corp.example", -1, 1),
      ],
      deputyEmailOf: new Map([["gil", "gil@corp.example"]]),
    },
    want: ["carol@corp.example/approver/carol@corp.example", "gil@corp.example/deputy/carol@corp.example"],
  },
];
for (const c of cases) {
  test(`recipients: ${c.name}`, () => {
    const got = approvalRecipients({ ...base, ...c.given }).map(
      (r) => `${r.email}/${r.role}/${r.approverKey}`,
    );
    assert.deepEqual(got, c.want);
  });
}

test("open keys: listed twice (case) is one key", () => {
  assert.deepEqual(
    openApproverKeys({
      policy: { policy: "Approvers", approvers: ["a@x.io", "A@x.io"] },
      requester: ann,
      decided: [],
    }),
    ["a@x.io"],
  );
});

test("escalation: escalateTo wins over the manager; never the requester or a holder", () => {
  const managers = new Map([["bob@corp.example", "carl@corp.example"]]);
  const r = (escalateTo: string[], holding: string[] = []) =>
    escalationRecipients({
      openKeys: ["bob@corp.example"],
      escalateTo,
      managerEmailOf: managers,
      requester: ann,
      alreadyHolding: holding,
    }).map((x) => `${x.email}<${x.approverKey}`);
  assert.deepEqual(r([]), ["carl@corp.example<bob@corp.example"]);
  assert.deepEqual(r(["grp@corp.example", "ann@corp.example"]), ["grp@corp.example<bob@corp.example"]);
  assert.deepEqual(r([], ["carl@corp.example"]), []);
});

const cond = (type: string, status: string, reason: string, message?: string) => ({
  type,
  status,
  reason,
  ...(message ? { message } : {}),
  lastTransitionTime: NOW.toISOString(),
});
const outcomeCases: { name: string; given: Parameters<typeof outcomesOf>[0]; want: string[] }[] = [
  { name: "pending: nothing", given: { phase: "PendingApproval" }, want: [] },
  {
    name: "approved and scheduled",
    given: { phase: "Scheduled", conditions: [cond("Approved", "True", "QuorumReached")] },
    want: ["Approved"],
  },
  {
    name: "no approval needed, provisioned",
    given: { phase: "Provisioned", conditions: [cond("Approved", "True", "ApprovalNotRequired")] },
    want: ["Provisioned"],
  },
  {
    name: "declined with the comment",
    given: {
      phase: "Failed",
      conditions: [cond("Approved", "False", "Declined"), cond("Ready", "False", "Declined")],
      approvals: [{ approver: "bob@corp.example", decision: "Declined", comment: "not now" }],
    },
    want: ["Declined:bob@corp.example: not now"],
  },
  {
    name: "expired",
    given: {
      phase: "Failed",
      conditions: [cond("Ready", "False", "ApprovalExpired", "no decision within 3m")],
    },
    want: ["ApprovalExpired:no decision within 3m"],
  },
  {
    name: "failed with the step's error",
    given: {
      phase: "Failed",
      conditions: [cond("Ready", "False", "Failed", "job failed")],
      steps: [{ name: "grant", state: "Failed", message: "exit 3" }],
    },
    want: ["Failed:grant: exit 3"],
  },
  { name: "revoked", given: { phase: "Revoked" }, want: ["Revoked"] },
  { name: "cancelled: nothing (the requester did it)", given: { phase: "Cancelled" }, want: [] },
  { name: "a Deprovision order: nothing", given: { action: "Deprovision", phase: "Provisioned" }, want: [] },
];
for (const c of outcomeCases) {
  test(`outcome: ${c.name}`, () => {
    assert.deepEqual(
      outcomesOf(c.given).map((x) => (x.detail ? `${x.outcome}:${x.detail}` : x.outcome)),
      c.want,
    );
  });
}

test("outcomes older than a week are not mailed on a first start", () => {
  assert.equal(isRecentOutcome(new Date(NOW.getTime() - 8 * 86400_000).toISOString(), NOW), false);
  assert.equal(isRecentOutcome(new Date(NOW.getTime() - 3600_000).toISOString(), NOW), true);
  assert.equal(isRecentOutcome(undefined, NOW), true);
});

test("leaverReassignment: remaining approvers keep the place while they can reach the quorum, else the leaver's manager", () => {
  const requester = { id: "ann", email: "ann@corp.example" };
  const approvers = { policy: "Approvers" as const, approvers: ["dave@x", "eve@x", "fay@x"], quorum: 2 };
  const managers = new Map([
    ["dave@x", "carl@x"],
    ["eve@x", "carl@x"],
    ["bob@x", "ann@corp.example"],
  ]);
  const base = { requester, managerEmailOf: managers, alreadyHolding: [] as string[] };
  const kept = leaverReassignment({
    ...base,
    policy: approvers,
    openKeys: ["dave@x", "eve@x", "fay@x"],
    leavers: ["dave@x"],
    needed: 2,
  });
  assert.deepEqual(kept, [{ key: "dave@x", kind: "RemainingApprovers", remaining: ["eve@x", "fay@x"] }]);
  // dave's place was kept earlier; eve leaves too: fay alone cannot reach 2.
  const moved = leaverReassignment({
    ...base,
    policy: approvers,
    openKeys: ["dave@x", "eve@x", "fay@x"],
    leavers: ["dave@x", "eve@x"],
    handled: ["dave@x"],
    needed: 2,
  });
  assert.deepEqual(moved, [
    {
      key: "eve@x",
      kind: "ToManager",
      to: { email: "carl@x", role: "reassigned", approverKey: "eve@x", linkApprover: "carl@x" },
    },
  ]);
  // Two leavers with one manager: one message for the first place; the second says why not.
  const both = leaverReassignment({
    ...base,
    policy: approvers,
    openKeys: ["dave@x", "eve@x", "fay@x"],
    leavers: ["dave@x", "eve@x"],
    needed: 2,
  });
  assert.deepEqual(
    both.map((p) => p.kind),
    ["ToManager", "Nobody"],
  );
  // The manager's own manager is the requester: never asked to approve their own order.
  const self = leaverReassignment({
    ...base,
    policy: { policy: "Manager" },
    openKeys: ["bob@x"],
    leavers: ["bob@x"],
    needed: 1,
  });
  assert.equal(self[0]?.kind, "Nobody");
  assert.match((self[0] as { why: string }).why, /requester/);
  const none = leaverReassignment({
    ...base,
    policy: { policy: "Manager" },
    openKeys: ["zed@x"],
    leavers: ["zed@x"],
    needed: 1,
  });
  assert.equal(none[0]?.kind, "Nobody");
});
