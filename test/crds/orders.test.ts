// Order CRD against the real API server: the schema, the CEL rules (target iff Modify/
// Deprovision, immutable fields, spec frozen once approved, approvals append-only, cancel only
// before Processing) and every phase pair of the state machine, written through the status
// subresource as the operator does.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { Order, OrderStatusPhase } from "../../crds/generated/index.ts";
import { isAllowedPhaseChange, orderPhases } from "../../crds/reasons.ts";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { apiMessage, create, get, refusal, update, updateStatus, validOrder } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

const approval = (approver: string, decision: "Approved" | "Declined" = "Approved") => ({
  approver,
  decision,
  at: "2026-11-25T10:00:00Z",
});

async function setPhase(ns: string, name: string, phase: OrderStatusPhase): Promise<Order> {
  return updateStatus<Order>(ns, "orders", name, (o) => (o.status = { ...o.status, phase }));
}

test("a valid Order is accepted; action defaults to Provision", async (t) => {
  const ns = await newNamespace(t);
  const got = await create(ns, "orders", validOrder());
  assert.equal(got.spec.action, "Provision");
  await create(ns, "orders", validOrder("o1-deprovision", { action: "Deprovision", target: "o1" }));
});

const badCreates: { name: string; order: Order; want: RegExp }[] = [
  {
    name: "Deprovision without target",
    order: validOrder("d", { action: "Deprovision" }),
    want: /spec\.target: Invalid value: target is required for Modify and Deprovision and not allowed for Provision/,
  },
  {
    name: "Provision with a target",
    order: validOrder("p", { target: "o1" }),
    want: /target is required for Modify and Deprovision and not allowed for Provision/,
  },
  {
    name: "unknown action",
    order: validOrder("u", { action: "Upgrade" as "Modify", target: "o1" }),
    want: /spec\.action: Unsupported value: "Upgrade"/,
  },
  {
    name: "requester without email",
    order: validOrder("r", { requester: { id: "jdoe" } as Order["spec"]["requester"] }),
    want: /spec\.requester\.email: Required value/,
  },
  {
    name: "requester e-mail without @",
    order: validOrder("e", { requester: { id: "jdoe", email: "jdoe" } }),
    want: /spec\.requester\.email in body should match/,
  },
  {
    name: "approval with an unknown decision",
    order: validOrder("a", { approvals: [{ ...approval("alice"), decision: "Maybe" as "Approved" }] }),
    want: /spec\.approvals\[0\]\.decision: Unsupported value: "Maybe"/,
  },
  {
    name: "approval time that is not RFC 3339",
    order: validOrder("t", { approvals: [{ ...approval("alice"), at: "yesterday" }] }),
    want: /spec\.approvals\[0\]\.at in body must be of type date-time/,
  },
  {
    name: "two approvals by one approver",
    order: validOrder("two", { approvals: [approval("alice"), approval("alice", "Declined")] }),
    want: /spec\.approvals\[1\]: Duplicate value: \{"approver":"alice"\}/,
  },
  {
    // Its name becomes a label value on the Job and its pods (at most 63 characters).
    name: "a name longer than 63 characters",
    order: validOrder("o".repeat(64)),
    want: /metadata\.name must be at most 63 characters/,
  },
];
for (const c of badCreates) {
  test(`Order refused: ${c.name}`, async (t) => {
    const ns = await newNamespace(t);
    assert.match(await refusal(create(ns, "orders", c.order)), c.want);
  });
}

test("assetType, action, target and requester are immutable even before approval", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "orders", validOrder());
  await create(ns, "orders", validOrder("m", { action: "Modify", target: "o1" }));
  assert.match(
    await refusal(update<Order>(ns, "orders", "o1", (o) => (o.spec.assetType = "other"))),
    /spec\.assetType: Invalid value: "[^"]*": assetType is immutable/,
  );
  assert.match(
    await refusal(update<Order>(ns, "orders", "o1", (o) => (o.spec.requester.email = "x@example.com"))),
    /spec\.requester: Invalid value: requester is immutable/,
  );
  assert.match(
    await refusal(update<Order>(ns, "orders", "m", (o) => (o.spec.target = "o2"))),
    /spec\.target: Invalid value: "[^"]*": target is immutable/,
  );
  assert.match(
    await refusal(
      update<Order>(ns, "orders", "m", (o) => {
        o.spec.action = "Provision";
        delete o.spec.target;
      }),
    ),
    /action is immutable/,
  );
  // Before approval the requester may still correct attributes and reason.
  const changed = await update<Order>(ns, "orders", "o1", (o) => {
    o.spec.attributes = { usageLocation: "AT" };
    o.spec.reason = "changed team";
  });
  assert.equal(changed.spec.attributes?.usageLocation, "AT");
});

test("once an approval is recorded the spec is frozen except cancelRequested and new approvals", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "orders", validOrder());
  await setPhase(ns, "o1", "PendingApproval");
  await update<Order>(ns, "orders", "o1", (o) => (o.spec.approvals = [approval("alice")]));
  const frozen =
    /the Order is approved or in progress: its spec is immutable except cancelRequested and appending approvals/;
  assert.match(
    await refusal(update<Order>(ns, "orders", "o1", (o) => (o.spec.attributes = { usageLocation: "AT" }))),
    frozen,
  );
  assert.match(await refusal(update<Order>(ns, "orders", "o1", (o) => delete o.spec.reason)), frozen);
  // Appending the second approval of a 2-of-N quorum is allowed.
  const two = await update<Order>(ns, "orders", "o1", (o) => o.spec.approvals?.push(approval("bob")));
  assert.deepEqual(
    two.spec.approvals?.map((a) => a.approver),
    ["alice", "bob"],
  );
  // Editing, removing or dropping approvals is not.
  const appendOnly = /approvals can only be appended, never edited or removed/;
  assert.match(
    await refusal(
      update<Order>(ns, "orders", "o1", (o) => {
        const first = o.spec.approvals?.[0];
        if (first) first.decision = "Declined";
      }),
    ),
    appendOnly,
  );
  assert.match(
    await refusal(update<Order>(ns, "orders", "o1", (o) => (o.spec.approvals = o.spec.approvals?.slice(1)))),
    appendOnly,
  );
  assert.match(await refusal(update<Order>(ns, "orders", "o1", (o) => delete o.spec.approvals)), appendOnly);
  const cancelled = await update<Order>(ns, "orders", "o1", (o) => (o.spec.cancelRequested = true));
  assert.equal(cancelled.spec.cancelRequested, true);
});

test("once past approval (Scheduled) the spec is frozen even without approvals (policy None)", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "orders", validOrder());
  await setPhase(ns, "o1", "Scheduled");
  assert.match(
    await refusal(update<Order>(ns, "orders", "o1", (o) => (o.spec.reason = "other"))),
    /its spec is immutable except cancelRequested and appending approvals/,
  );
});

test("cancel is allowed before Processing, refused from Processing on, and cannot be withdrawn", async (t) => {
  const ns = await newNamespace(t);
  for (const name of ["pending", "scheduled", "processing"]) await create(ns, "orders", validOrder(name));
  await setPhase(ns, "pending", "PendingApproval");
  await setPhase(ns, "scheduled", "Scheduled");
  await setPhase(ns, "processing", "Scheduled");
  await setPhase(ns, "processing", "Processing");
  await update<Order>(ns, "orders", "pending", (o) => (o.spec.cancelRequested = true));
  await update<Order>(ns, "orders", "scheduled", (o) => (o.spec.cancelRequested = true));
  assert.match(
    await refusal(update<Order>(ns, "orders", "processing", (o) => (o.spec.cancelRequested = true))),
    /spec\.cancelRequested: Invalid value: an Order can be cancelled only before Processing/,
  );
  assert.match(
    await refusal(update<Order>(ns, "orders", "pending", (o) => (o.spec.cancelRequested = false))),
    /spec\.cancelRequested: Invalid value: cancelRequested cannot be withdrawn/,
  );
});

// Shortest legal path from a fresh Order to each phase.
const pathTo: Record<OrderStatusPhase, OrderStatusPhase[]> = {
  PendingApproval: ["PendingApproval"],
  Scheduled: ["Scheduled"],
  Processing: ["Scheduled", "Processing"],
  Provisioned: ["Scheduled", "Processing", "Provisioned"],
  Failed: ["Failed"],
  Cancelled: ["Cancelled"],
  Revoked: ["Scheduled", "Processing", "Provisioned", "Revoked"],
};

for (const action of ["Provision", "Deprovision"] as const) {
  test(`every ${action} phase pair: the API server allows exactly the transitions in crds/reasons.ts`, async (t) => {
    const ns = await newNamespace(t);
    const deprovisionPath = (p: OrderStatusPhase[]) =>
      action === "Deprovision" ? p.filter((x) => x !== "Provisioned") : p;
    const results = await Promise.all(
      orderPhases.flatMap((from) =>
        orderPhases.map(async (to) => {
          const name = `${from}-${to}`.toLowerCase();
          const spec = action === "Deprovision" ? { action, target: "o1" } : {};
          await create(ns, "orders", validOrder(name, spec));
          for (const p of deprovisionPath(pathTo[from])) await setPhase(ns, name, p);
          const cur = (await get<Order>(ns, "orders", name)).status?.phase;
          if (cur !== from) return { from, to, skipped: true, allowed: false, message: "" };
          const outcome = await setPhase(ns, name, to).then(
            () => ({ allowed: true, message: "" }),
            (e: unknown) => ({ allowed: false, message: apiMessage(e) }),
          );
          return { from, to, skipped: false, ...outcome };
        }),
      ),
    );
    let checked = 0;
    for (const r of results) {
      if (r.skipped) {
        // Unreachable for this action (a Deprovision Order is never Provisioned).
        assert.ok(action === "Deprovision" && r.from === "Provisioned", `${r.from} unreachable`);
        continue;
      }
      checked++;
      const want = isAllowedPhaseChange(r.from, r.to, action);
      assert.equal(
        r.allowed,
        want,
        `${action} ${r.from} → ${r.to}: want ${want ? "allowed" : "refused"} (${r.message})`,
      );
      if (!want)
        assert.match(r.message, /phase cannot change from|never Provisioned|only a Deprovision Order/);
    }
    assert.equal(checked, action === "Provision" ? 49 : 42);
  });
}

test("a new Order cannot start in Processing, and a phase cannot be removed", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "orders", validOrder());
  assert.match(
    await refusal(setPhase(ns, "o1", "Processing")),
    /a new Order starts in PendingApproval or Scheduled \(or ends at once Failed or Cancelled\)/,
  );
  await setPhase(ns, "o1", "Scheduled");
  assert.match(
    await refusal(updateStatus<Order>(ns, "orders", "o1", (o) => delete o.status?.phase)),
    /status\.phase cannot be removed once set/,
  );
});

test("status fields are validated (step state enum, condition shape)", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "orders", validOrder());
  assert.match(
    await refusal(
      updateStatus<Order>(
        ns,
        "orders",
        "o1",
        (o) => (o.status = { steps: [{ name: "a", state: "Done" as "Failed" }] }),
      ),
    ),
    /status\.steps\[0\]\.state: Unsupported value: "Done"/,
  );
  assert.match(
    await refusal(
      updateStatus<Order>(
        ns,
        "orders",
        "o1",
        (o) =>
          (o.status = {
            conditions: [
              {
                type: "Ready",
                status: "Yes" as "True",
                reason: "Pending",
                message: "",
                lastTransitionTime: "2026-11-25T10:00:00Z",
              },
            ],
          }),
      ),
    ),
    /status\.conditions\[0\]\.status: Unsupported value: "Yes"/,
  );
});
