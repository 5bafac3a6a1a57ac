import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatAge,
  formatLeaverPlan,
  formatLogLine,
  formatOrders,
  formatTable,
  formatVerification,
  formatWaitingFor,
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
