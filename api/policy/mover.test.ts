import assert from "node:assert/strict";
import { test } from "node:test";
import {
  changedFacts,
  describeChanges,
  factsOf,
  mergeChanges,
  moverOrderName,
  planMover,
  type EmployeeFacts,
  type MoverOrder,
  type MoverType,
} from "./mover.ts";
import { validateAttributes, type AttributeDef } from "./attributes.ts";
import { checkOrderForm } from "./order-form.ts";

const facts = (over: Partial<EmployeeFacts> = {}): EmployeeFacts => ({
  department: "Sales",
  title: "Engineer",
  manager: "bob@example.com",
  displayName: "Ann Example",
  employeeNumber: "42",
  costCenter: "",
  userName: "ann@example.com",
  email: "ann@example.com",
  ...over,
});

test("factsOf: the record's columns, the title from the document, the manager's userName; '' where none", () => {
  const f = factsOf(
    {
      userName: "ann@example.com",
      displayName: null,
      employeeNumber: null,
      emails: ["ann@example.com", "a@example.org"],
      department: "Sales",
      costCenter: null,
      resource: { title: "Engineer" },
    },
    null,
  );
  assert.deepEqual(f, {
    department: "Sales",
    title: "Engineer",
    manager: "",
    displayName: "",
    employeeNumber: "",
    costCenter: "",
    userName: "ann@example.com",
    email: "ann@example.com",
  });
});

test("changedFacts and mergeChanges: first from, newest to; a field changed back drops out", () => {
  const a = changedFacts(facts(), facts({ department: "Finance" }));
  assert.deepEqual(a, { department: { from: "Sales", to: "Finance" } });
  const b = changedFacts(facts({ department: "Finance" }), facts({ department: "Legal", title: "Lead" }));
  assert.deepEqual(mergeChanges(a, b), {
    department: { from: "Sales", to: "Legal" },
    title: { from: "Engineer", to: "Lead" },
  });
  const back = changedFacts(facts({ department: "Finance" }), facts());
  assert.deepEqual(mergeChanges(a, back), {});
  assert.equal(describeChanges({ title: { from: "", to: "Lead" } }), "title (none) → Lead");
});

const types = new Map<string, MoverType>([
  [
    "account",
    {
      hasModifyRunbook: true,
      attributes: [
        { name: "department", fromEmployee: "department" },
        { name: "title", fromEmployee: "title" },
        { name: "note" },
      ],
    },
  ],
  ["badge", { hasModifyRunbook: false, attributes: [{ name: "dept", fromEmployee: "department" }] }],
  ["licence", { hasModifyRunbook: true, attributes: [{ name: "seats" }] }],
]);
const ann = { ids: ["ann@example.com"], emails: ["ann@example.com"] };
const o = (name: string, assetType: string, over: Partial<MoverOrder> = {}): MoverOrder => ({
  name,
  assetType,
  action: "Provision",
  requester: { id: "ann@example.com", email: "ann@example.com" },
  phase: "Provisioned",
  attributes: { department: "Sales", title: "Engineer", note: "x", dept: "Sales" },
  ...over,
});

test("planMover: a Modify per held asset that follows a changed field, with the full new set", () => {
  const orders = [
    o("acc-1", "account"),
    o("badge-1", "badge"),
    o("lic-1", "licence"),
    o("acc-bob", "account", { requester: { id: "bob", email: "bob@example.com" } }),
  ];
  const p = planMover(orders, types, ann, ["department"], facts({ department: "Finance" }));
  assert.deepEqual(p.modify, [
    {
      target: "acc-1",
      assetType: "account",
      values: { department: "Finance", title: "Engineer", note: "x", dept: "Sales" },
      changed: ["department"],
    },
  ]);
  assert.deepEqual(p.noModifyRunbook, ["badge-1"]);
  assert.deepEqual(p.unchanged, []);
  assert.deepEqual(p.waiting, []);
});

test("planMover: waits on running provisions and open changes, reports pending approvals, skips the unchanged", () => {
  const orders = [
    o("acc-run", "account", { phase: "Processing" }),
    o("acc-new", "account", { phase: undefined }),
    o("acc-pend", "account", { phase: "PendingApproval" }),
    o("acc-open", "account"),
    o("acc-open-m-1", "account", { action: "Modify", target: "acc-open", phase: "Scheduled" }),
    o("acc-same", "account", { attributes: { department: "Finance", title: "Engineer" } }),
    o("acc-failed", "account", { phase: "Failed" }),
  ];
  const p = planMover(orders, types, ann, ["department"], facts({ department: "Finance" }));
  assert.deepEqual(p.modify, []);
  assert.deepEqual(p.waiting.sort(), ["acc-new", "acc-open", "acc-run"]);
  assert.deepEqual(p.pendingApproval, ["acc-pend"]);
  assert.deepEqual(p.unchanged, ["acc-same"]);
});

test("planMover: a revert while a change is open waits (it is not 'unchanged')", () => {
  // A mover Modify to Finance is still Scheduled; the record went back to Sales, which the
  // target still shows: the open change must finish first, then the revert is a real change.
  const orders = [
    o("acc-1", "account"),
    o("acc-1-mv-1", "account", { action: "Modify", target: "acc-1", phase: "Scheduled" }),
  ];
  const p = planMover(orders, types, ann, ["department"], facts());
  assert.deepEqual([p.waiting, p.unchanged, p.modify], [["acc-1"], [], []]);
});

test("planMover: an empty record value leaves the attribute out (the runbook clears it)", () => {
  const p = planMover([o("acc-1", "account")], types, ann, ["title"], facts({ title: "" }));
  assert.deepEqual(p.modify[0]?.values, { department: "Sales", note: "x", dept: "Sales" });
  assert.deepEqual(p.modify[0]?.changed, ["title"]);
});

test("moverOrderName: deterministic per event, version and target; at most 63 characters", () => {
  const a = moverOrderName("e1", 1, "x".repeat(80));
  assert.ok(a.length <= 63, a);
  assert.equal(a, moverOrderName("e1", 1, "x".repeat(80)));
  assert.notEqual(moverOrderName("e1", 2, "acc"), moverOrderName("e1", 1, "acc"));
  assert.match(moverOrderName("e1", 1, "acc"), /^acc-mv-[0-9a-f]{10}$/);
});

const schema: AttributeDef[] = [
  { name: "department", type: "string", required: true, fromEmployee: "department" },
  { name: "title", type: "string", fromEmployee: "title" },
  { name: "note", type: "string" },
];

test("validateAttributes: fromEmployee values come from the record; a different value sent is refused", () => {
  assert.deepEqual(validateAttributes(schema, { note: "n" }, { employee: facts() }), {
    ok: true,
    values: { department: "Sales", title: "Engineer", note: "n" },
  });
  // The record's own value may be echoed back.
  assert.equal(validateAttributes(schema, { department: "Sales" }, { employee: facts() }).ok, true);
  const r = validateAttributes(schema, { department: "Finance" }, { employee: facts() });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : "", /department follows the employee record's department \("Sales"\)/);
  // Required, and the record has none (or there is no record).
  const none = validateAttributes(schema, {}, { employee: facts({ department: "" }) });
  assert.match(!none.ok ? none.message : "", /is required, and the employee record has no department/);
  assert.equal(validateAttributes(schema, {}, { employee: null }).ok, false);
  // Senders whose forms carry more (ServiceNow): dropped, the record's value used.
  assert.deepEqual(
    validateAttributes(schema, { department: "X" }, { employee: facts(), unknown: "ignore" }),
    {
      ok: true,
      values: { department: "Sales", title: "Engineer" },
    },
  );
  // Not looked up (undefined): validated like any other attribute, e.g. a kept current value.
  assert.deepEqual(validateAttributes(schema, {}, { current: { department: "Sales" } }), {
    ok: true,
    values: { department: "Sales" },
  });
});

test("checkOrderForm: a field that follows the record is not a form field", () => {
  assert.deepEqual(checkOrderForm(schema as never, { note: "n" }), { ok: true, attributes: { note: "n" } });
  const r = checkOrderForm(schema, { department: "Finance" });
  assert.deepEqual(r, { ok: false, problems: [{ attribute: "department", reason: "Unknown" }] });
});
