import { test } from "node:test";
import { awaitedApprovals, type ApprovalPolicy } from "../crds/approval-policy.ts";
import assert from "node:assert/strict";
import {
  formatAge,
  formatLeaverPlan,
  formatLogLine,
  formatOrders,
  formatTable,
  formatVerification,
  formatWaitingFor,
  formatJobHeader,
  type OrderView,
} from "./format.ts";

const now = new Date("2026-06-01T12:00:00Z");
const ago = (s: number) => new Date(now.getTime() - s * 1000);

test("AGE as kubectl prints it", () => {
  const cases: [seconds: number, want: string][] = [
    [-5, "<invalid>"],
    [0, "0s"],
    [45, "45s"],
    [119, "119s"],
    [120, "2m"],
    [200, "3m20s"],
    [600, "10m"],
    [3 * 3600 - 1, "179m"],
    [3 * 3600, "3h"],
    [5 * 3600 + 30 * 60, "5h30m"],
    [30 * 3600, "30h"],
    [3 * 86400, "3d"],
    [3 * 86400 + 5 * 3600, "3d5h"],
    [40 * 86400, "40d"],
    [3 * 365 * 86400 + 10 * 86400, "3y10d"],
    [9 * 365 * 86400, "9y"],
  ];
  for (const [s, want] of cases) assert.equal(formatAge(ago(s), now), want, `${s} s`);
});

test("tables: upper-case headers, columns three spaces apart, no trailing space", () => {
  assert.equal(
    formatTable(
      ["NAME", "PHASE", "AGE"],
      [
        ["a", "PendingApproval", "5s"],
        ["longer-name", "Scheduled", ""],
      ],
    ),
    [
      "NAME          PHASE             AGE",
      "a             PendingApproval   5s",
      "longer-name   Scheduled",
    ].join("\n"),
  );
});

const order = (over: Partial<OrderView> = {}): OrderView => ({
  name: "vpn-emp-1",
  namespace: "ipsolis",
  assetType: "vpn",
  action: "Provision",
  requester: { id: "emp", email: "emp@example.com" },
  phase: "PendingApproval",
  approvals: [],
  waitingFor: { policy: "Approvers", approvers: ["bert", "zed"], needed: 1 },
  createdAt: ago(90).toISOString(),
  ...over,
});

test("WAITING FOR: who has not approved yet, or how many of them; nothing once not pending", () => {
  const cases: [o: Pick<OrderView, "phase" | "waitingFor">, want: string][] = [
    [
      { phase: "PendingApproval", waitingFor: { policy: "Approvers", approvers: ["bert"], needed: 1 } },
      "bert",
    ],
    [
      {
        phase: "PendingApproval",
        waitingFor: { policy: "Approvers", approvers: ["a", "b", "c"], needed: 2 },
      },
      "2 of a, b, c",
    ],
    [
      { phase: "PendingApproval", waitingFor: { policy: "Approvers", approvers: ["a", "b"], needed: 2 } },
      "a, b",
    ],
    [
      { phase: "PendingApproval", waitingFor: { policy: "Approvers", approvers: ["a", "b"], needed: 1 } },
      "a or b",
    ],
    [
      { phase: "PendingApproval", waitingFor: { policy: "Manager", approvers: [], needed: 1 } },
      "nobody (the requester has no manager)",
    ],
    [{ phase: "PendingApproval" }, "<none>"],
    [{ phase: "Scheduled", waitingFor: { policy: "Approvers", approvers: ["bert"], needed: 1 } }, "<none>"],
  ];
  for (const [o, want] of cases) assert.equal(formatWaitingFor(o), want);
});

test("WAITING FOR says so when the quorum cannot be met: more needed than approvers left, or the requester is their own manager", () => {
  // What the API computes (crds/approval-policy.ts awaitedApprovals), as the plugin gets it.
  const requester = { id: "emp", email: "emp@example.com", manager: "boss@example.com" };
  const show = (
    policy: ApprovalPolicy,
    approvals: { approver: string; decision: string }[] = [],
    who = requester,
  ) => {
    const a = awaitedApprovals(policy, who, approvals);
    assert.ok(a, "awaited");
    return formatWaitingFor({
      phase: "PendingApproval",
      waitingFor: { policy: policy.policy, ...a },
      requester: who,
    });
  };
  assert.equal(
    show({ policy: "Approvers", approvers: ["ann", "bert"], quorum: 3 }),
    "unreachable: needs 3 more approvals, only 2 approvers left (ann, bert)",
  );
  assert.equal(
    show({ policy: "Approvers", approvers: ["ann", "bert"], quorum: 3 }, [
      { approver: "ann", decision: "Approved" },
    ]),
    "unreachable: needs 2 more approvals, only 1 approver left (bert)",
  );
  // The requester is listed but never counts: 2 of [emp, ann] cannot be reached.
  assert.equal(
    show({ policy: "Approvers", approvers: ["emp", "ann"], quorum: 2 }),
    "unreachable: needs 2 more approvals, only 1 approver left (ann)",
  );
  assert.equal(
    show({ policy: "Approvers", approvers: ["emp"], quorum: 1 }),
    "unreachable: needs 1 more approval, no approver left",
  );
  assert.equal(
    show({ policy: "Manager" }, [], { ...requester, manager: "EMP@example.com" }),
    "unreachable: the requester is their own manager",
  );
  assert.equal(
    show({ policy: "Manager" }, [], { id: "emp", email: "emp@example.com" } as typeof requester),
    "nobody (the requester has no manager)",
  );
  assert.equal(show({ policy: "Manager" }), "boss@example.com");
  assert.equal(show({ policy: "Approvers", approvers: ["ann", "bert"], quorum: 2 }), "ann, bert");
});

test("step output is printed without terminal control sequences; tab and newline stay", () => {
  const line = (text: string) => formatLogLine({ job: "j", seq: 1, ts: "", kind: "line", text });
  assert.equal(line("\x1b[31mred\x1b[0m plain"), "red plain");
  assert.equal(line("a\x1b]0;owned title\x07b"), "ab", "OSC (window title), BEL-terminated");
  assert.equal(line("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"), "alinkb", "OSC 8, ST-terminated");
  assert.equal(line("x\x1bPq#0;2;0;0;0\x1b\\y"), "xy", "DCS string");
  assert.equal(line("over\rwrite\x08\x08!\x00\x7f"), "overwrite!");
  assert.equal(line("c1:\x9b2Jgone\x85\x9d0;t\x9c."), "c1:gone.");
  assert.equal(line("\x1bcreset\x1b7saved"), "resetsaved");
  assert.equal(line("tab\there\nnext"), "tab\there\nnext");
  assert.equal(line("ünïcode ✓ 日本"), "ünïcode ✓ 日本");
  assert.equal(
    formatLogLine({
      job: "j",
      seq: 2,
      ts: "",
      kind: "step_end",
      step: "a\x1b[2Kb",
      state: "Failed",
      message: "m\x1b[1Ax",
    }),
    "<== step ab: Failed: mx",
  );
  assert.equal(formatJobHeader("j\x1b[8m"), "--- job j");
});

test("get orders: the default, -A and -o wide columns", () => {
  const list = [
    order(),
    order({
      name: "m365-ada-2",
      assetType: "m365",
      phase: "Provisioned",
      waitingFor: undefined,
      message: "all\nsteps done",
      createdAt: ago(7200).toISOString(),
    }),
  ];
  assert.equal(
    formatOrders(list, { wide: false, allNamespaces: false, now }),
    [
      "NAME         ASSET TYPE   FOR               PHASE             WAITING FOR   AGE",
      "vpn-emp-1    vpn          emp@example.com   PendingApproval   bert or zed   90s",
      "m365-ada-2   m365         emp@example.com   Provisioned       <none>        120m",
    ].join("\n"),
  );
  const wide = formatOrders(list, { wide: true, allNamespaces: true, now }).split("\n");
  assert.match(
    wide[0]!,
    /^NAMESPACE +NAME +ASSET TYPE +FOR +PHASE +WAITING FOR +AGE +ACTION +TARGET +MESSAGE$/,
  );
  assert.match(wide[2]!, /^ipsolis +m365-ada-2 .* Provision +<none> +all steps done$/);
});

test("step output: lines as written, step and run markers", () => {
  const base = { job: "j-1", seq: 1, ts: "2026-06-01T12:00:00Z" };
  assert.equal(formatLogLine({ ...base, kind: "line", text: "  adding user" }), "  adding user");
  assert.equal(formatLogLine({ ...base, kind: "step_start", step: "add", attempt: 1 }), "==> step add");
  assert.equal(
    formatLogLine({ ...base, kind: "step_start", step: "add", attempt: 2 }),
    "==> step add (attempt 2)",
  );
  assert.equal(
    formatLogLine({
      ...base,
      kind: "step_end",
      step: "add",
      state: "Failed",
      exitCode: 3,
      message: "exit 3",
    }),
    "<== step add: Failed (exit 3): exit 3",
  );
  assert.equal(formatLogLine({ ...base, kind: "run_end", state: "Succeeded" }), "==> run Succeeded");
});

test("the leaver plan lists what would be cancelled and revoked", () => {
  const text = formatLeaverPlan("jdoe", {
    employee: { id: "e-1", userName: "jdoe" },
    effectiveAt: "2026-06-01T12:00:00.000Z",
    wouldCancel: ["vpn-jdoe-1"],
    wouldRevoke: [
      {
        target: "m365-jdoe-2",
        assetType: "m365",
        deprovisionOrder: "m365-jdoe-2-deprovision",
        alreadyQueued: false,
      },
    ],
  });
  assert.equal(
    text,
    [
      "Leaver plan for jdoe (employee e-1), effective 2026-06-01T12:00:00.000Z (dry run: nothing was changed)",
      "",
      "Would cancel 1 pending order(s):",
      "  ORDER",
      "  vpn-jdoe-1",
      "",
      "Would revoke 1 asset(s):",
      "  ORDER         ASSET TYPE   DEPROVISION ORDER         ALREADY QUEUED",
      "  m365-jdoe-2   m365         m365-jdoe-2-deprovision   no",
    ].join("\n"),
  );
  assert.match(
    formatLeaverPlan("nobody@x", { employee: null, effectiveAt: "t", wouldCancel: [], wouldRevoke: [] }),
    /^Leaver plan for nobody@x \(not in the directory\).*\n\nWould cancel 0 pending order\(s\)\.\n\nWould revoke 0 asset\(s\)\.$/,
  );
});

test("the audit check in one line", () => {
  assert.equal(
    formatVerification({ intact: true, message: "intact: 3 rows, head 3 ab" }),
    "audit chain intact: 3 rows, head 3 ab",
  );
  assert.equal(
    formatVerification({ intact: false, message: "broken link at audit row 2: hash expected a, found b" }),
    "audit chain broken: broken link at audit row 2: hash expected a, found b",
  );
});
