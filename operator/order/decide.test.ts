// The Order state machine, exhaustively: every phase × observation pair against one expected
// table (refused transitions included), then focused cases for actions, conditions and events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isAllowedPhaseChange } from "../../crds/reasons.ts";
import { decide, decideReconcileError, isAllowedTransition, TRANSITIONS, type Observed } from "./decide.ts";
import { PHASES, type AssetType, type Order, type Phase, type Runbook } from "./model.ts";

const NOW = new Date("2026-11-25T10:00:00.000Z");
const EARLIER = "2026-11-25T09:00:00.000Z";

function assetType(over: Partial<AssetType["spec"]> = {}): AssetType {
  return {
    metadata: { name: "vpn" },
    spec: {
      assignment: { model: "AssignedPersonal" },
      approval: { policy: "None" },
      runbooks: { provision: "vpn-grant", deprovision: "vpn-revoke" },
      ...over,
    },
  };
}

const runbook: Runbook = {
  metadata: { name: "vpn-grant" },
  spec: {
    image: "runner:1",
    steps: [
      { name: "add-group", script: "echo add" },
      { name: "notify", script: "echo hi", critical: false },
    ],
  },
};

function order(phase: Phase | undefined, over: Partial<Order["spec"]> = {}): Order {
  const inRun = phase && phase !== "PendingApproval" && phase !== "Scheduled";
  return {
    metadata: { name: "o1", namespace: "ns", generation: 3 },
    spec: {
      assetType: "vpn",
      requester: { id: "alice", email: "alice@example.com", manager: "bob@example.com" },
      ...over,
    },
    status: phase
      ? {
          phase,
          ...(inRun ? { attempt: 1, jobName: "o1-1" } : {}),
          conditions: [
            {
              type: "Ready",
              status: phase === "Provisioned" ? "True" : "False",
              reason: phase,
              message: `was ${phase}`,
              lastTransitionTime: EARLIER,
              observedGeneration: 2,
            },
          ],
        }
      : undefined,
  };
}

function base(phase: Phase | undefined): Observed {
  return {
    order: order(phase),
    assetType: assetType(),
    runbook,
    job: { state: "Absent" },
    lock: phase === "Processing" ? { state: "HeldBySelf" } : { state: "Free" },
    now: NOW,
  };
}

type Obs = { name: string; apply: (o: Observed) => Observed };
const OBSERVATIONS: Obs[] = [
  { name: "nothing new", apply: (o) => o },
  { name: "cancel requested", apply: (o) => ({ ...o, order: withSpec(o.order, { cancelRequested: true }) }) },
  { name: "asset type missing", apply: (o) => ({ ...o, assetType: undefined }) },
  { name: "runbook missing", apply: (o) => ({ ...o, runbook: undefined }) },
  {
    name: "approval pending (1 of 2)",
    apply: (o) => ({
      ...o,
      assetType: assetType({ approval: { policy: "Approvers", approvers: ["carol", "dave"], quorum: 2 } }),
      order: withSpec(o.order, { approvals: [{ approver: "carol", decision: "Approved" }] }),
    }),
  },
  {
    name: "approval quorum reached",
    apply: (o) => ({
      ...o,
      assetType: assetType({ approval: { policy: "Approvers", approvers: ["carol", "dave"], quorum: 2 } }),
      order: withSpec(o.order, {
        approvals: [
          { approver: "carol", decision: "Approved" },
          { approver: "Dave", decision: "Approved" },
        ],
      }),
    }),
  },
  {
    name: "declined by an approver",
    apply: (o) => ({
      ...o,
      assetType: assetType({ approval: { policy: "Approvers", approvers: ["carol", "dave"], quorum: 1 } }),
      order: withSpec(o.order, { approvals: [{ approver: "dave", decision: "Declined" }] }),
    }),
  },
  {
    name: "lock held by another order",
    apply: (o) => ({ ...o, lock: { state: "HeldByOther", holder: "o0" } }),
  },
  { name: "lock held by this order", apply: (o) => ({ ...o, lock: { state: "HeldBySelf" } }) },
  { name: "job running", apply: (o) => ({ ...o, job: { state: "Running" } }) },
  {
    name: "job succeeded",
    apply: (o) => ({
      ...o,
      job: {
        state: "Succeeded",
        steps: [
          { name: "add-group", state: "Succeeded", attempts: 1, exitCode: 0 },
          { name: "notify", state: "Succeeded", attempts: 1, exitCode: 0 },
        ],
      },
    }),
  },
  {
    name: "job failed in a critical step",
    apply: (o) => ({
      ...o,
      job: {
        state: "Failed",
        steps: [{ name: "add-group", state: "Failed", attempts: 3, exitCode: 2, message: "group not found" }],
      },
    }),
  },
  {
    name: "job hit its deadline",
    apply: (o) => ({ ...o, job: { state: "Failed", reason: "DeadlineExceeded" } }),
  },
  {
    name: "revoked by a deprovision order",
    apply: (o) => ({
      ...o,
      deprovision: { order: "o1-deprovision", phase: "Revoked", revokedAt: NOW.toISOString() },
    }),
  },
  {
    name: "deprovision order still running",
    apply: (o) => ({ ...o, deprovision: { order: "o1-deprovision", phase: "Processing" } }),
  },
  {
    name: "pool exhausted",
    apply: (o) => ({
      ...o,
      assetType: assetType({ assignment: { model: "CapacityPooled", capacity: 2 } }),
      pool: { heldByRequester: 0 },
    }),
  },
  {
    name: "requester at maxPerUser",
    apply: (o) => ({
      ...o,
      assetType: assetType({ assignment: { model: "CapacityPooled", capacity: 5, maxPerUser: 1 } }),
      pool: { free: "vpn/slot-2", heldByRequester: 1 },
    }),
  },
];

function withSpec(o: Order, spec: Partial<Order["spec"]>): Order {
  return { ...o, spec: { ...o.spec, ...spec } };
}

const COLUMNS = ["New", ...PHASES] as const;
// Expected phase after one decide, per observation (rows) and current phase (columns):
//                 New            PendingApproval  Scheduled     Processing     Provisioned    Failed    Cancelled    Revoked
const P = "Processing";
const EXPECTED: Record<string, Phase[]> = {
  "nothing new": ["Scheduled", "Scheduled", P, P, "Provisioned", "Failed", "Cancelled", "Revoked"],
  "cancel requested": [
    "Cancelled",
    "Cancelled",
    "Cancelled",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "asset type missing": [
    "PendingApproval",
    "PendingApproval",
    "Scheduled",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "runbook missing": [
    "Scheduled",
    "Scheduled",
    "Scheduled",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  // Approvals are re-checked at Scheduled, and in Processing before a Job exists (#15): a phase
  // written by someone else never starts a run.
  "approval pending (1 of 2)": [
    "PendingApproval",
    "PendingApproval",
    "PendingApproval",
    "Failed",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "approval quorum reached": [
    "Scheduled",
    "Scheduled",
    P,
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "declined by an approver": [
    "Failed",
    "Failed",
    "Failed",
    "Failed",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "lock held by another order": [
    "Scheduled",
    "Scheduled",
    "Scheduled",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "lock held by this order": [
    "Scheduled",
    "Scheduled",
    P,
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "job running": ["Scheduled", "Scheduled", P, P, "Provisioned", "Failed", "Cancelled", "Revoked"],
  "job succeeded": [
    "Scheduled",
    "Scheduled",
    P,
    "Provisioned",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "job failed in a critical step": [
    "Scheduled",
    "Scheduled",
    P,
    "Failed",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "job hit its deadline": [
    "Scheduled",
    "Scheduled",
    P,
    "Failed",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  // A Failed (partial) provision cleaned up by its Deprovision Order ends Revoked (#19).
  "revoked by a deprovision order": [
    "Scheduled",
    "Scheduled",
    P,
    P,
    "Revoked",
    "Revoked",
    "Cancelled",
    "Revoked",
  ],
  "deprovision order still running": [
    "Scheduled",
    "Scheduled",
    P,
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "pool exhausted": [
    "Scheduled",
    "Scheduled",
    "Scheduled",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
  "requester at maxPerUser": [
    "Scheduled",
    "Scheduled",
    "Failed",
    P,
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ],
};

test("the expected table covers every observation × phase", () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), OBSERVATIONS.map((o) => o.name).sort());
  for (const row of Object.values(EXPECTED)) assert.equal(row.length, COLUMNS.length);
});

for (const obs of OBSERVATIONS) {
  for (const [i, col] of COLUMNS.entries()) {
    const from: Phase | undefined = col === "New" ? undefined : col;
    const want = EXPECTED[obs.name]?.[i];
    test(`${col} + ${obs.name} → ${want}`, () => {
      const given = obs.apply(base(from));
      const { status, actions } = decide(given);
      assert.equal(status.phase, want);
      assert.ok(isAllowedTransition(from, status.phase!), "only allowed transitions");
      // Invariants that hold in every cell:
      const ready = status.conditions?.find((c) => c.type === "Ready");
      assert.equal(
        ready?.status,
        status.phase === "Provisioned" ? "True" : "False",
        "Ready follows the phase",
      );
      assert.equal(status.observedGeneration, 3);
      for (const c of status.conditions ?? []) assert.equal(c.observedGeneration, 3, `${c.type} generation`);
      // A missing AssetType or Runbook is a wait the controller reports on Reconciled.
      const missing =
        (obs.name === "asset type missing" &&
          (status.phase === "PendingApproval" || status.phase === "Scheduled")) ||
        (obs.name === "runbook missing" && (from === "Scheduled" || from === "Processing"));
      const rec = status.conditions?.find((c) => c.type === "Reconciled");
      assert.equal(rec?.status, missing ? "False" : "True", `Reconciled: ${rec?.message}`);
      const changed = from !== status.phase;
      const transitionEvents = actions.filter((a) => a.kind === "Emit" && a.note.includes("→"));
      assert.equal(transitionEvents.length, changed ? 1 : 0, "one Event per transition");
      const jobs = actions.filter((a) => a.kind === "CreateJob");
      assert.ok(jobs.length <= 1, "never two Jobs in one decision");
      if (jobs.length === 1) assert.equal(status.phase, "Processing", "Jobs only while Processing");
      if (TERMINAL.has(status.phase!) || status.phase === "Provisioned") {
        assert.equal(jobs.length, 0);
      }
    });
  }
}
const TERMINAL = new Set<Phase>(["Failed", "Cancelled", "Revoked"]);

test("every transition decide may make is one the CRD's CEL rule accepts", () => {
  for (const [from, tos] of Object.entries(TRANSITIONS)) {
    for (const to of tos) {
      const action = to === "Revoked" ? "Deprovision" : "Provision";
      assert.ok(
        isAllowedPhaseChange(from === "New" ? undefined : (from as Phase), to, action),
        `${from} → ${to}`,
      );
    }
  }
});

test("the transition table: Cancelled and Revoked are final, Failed only retries or is cleaned up", () => {
  for (const p of ["Cancelled", "Revoked"] as const) assert.deepEqual(TRANSITIONS[p], []);
  assert.deepEqual([...TRANSITIONS.Failed].sort(), ["Revoked", "Scheduled"]);
  assert.ok(!isAllowedTransition("Processing", "Cancelled"), "cancel only before Processing");
  assert.ok(!isAllowedTransition("Provisioned", "Processing"));
  assert.ok(isAllowedTransition("Scheduled", "PendingApproval"), "approvals re-checked at Scheduled");
  assert.ok(!isAllowedTransition("Scheduled", "Provisioned"), "no delivery without a run");
  assert.ok(!isAllowedTransition("Failed", "Provisioned"), "a retry runs again first");
  assert.ok(
    !isAllowedTransition("Processing", "Revoked", "Provision"),
    "only a Deprovision ends Revoked from a run",
  );
  assert.ok(isAllowedTransition("Processing", "Revoked", "Deprovision"));
});

test("approvals are re-checked before any run: a Scheduled or Processing order without them never starts", () => {
  const policy = assetType({ approval: { policy: "Approvers", approvers: ["carol"], quorum: 1 } });
  // Somebody wrote Scheduled through the status subresource: back to PendingApproval, no Job.
  const s = decide({ ...base("Scheduled"), assetType: policy });
  assert.equal(s.status.phase, "PendingApproval");
  assert.ok(!s.actions.some((a) => a.kind === "CreateJob" || a.kind === "AcquireLock"));
  // …or Processing: Failed without a run, saying why.
  const p = decide({ ...base("Processing"), assetType: policy });
  assert.equal(p.status.phase, "Failed");
  assert.match(p.status.message ?? "", /not started: the order was not approved/);
  assert.equal(p.status.conditions?.find((c) => c.type === "Ready")?.reason, "NotApproved");
  assert.ok(!p.actions.some((a) => a.kind === "CreateJob"));
  assert.ok(
    p.actions.some((a) => a.kind === "ReleaseLock"),
    "the lock it was handed is released",
  );
  // A declined order moved to Scheduled ends Failed/Declined again.
  const declined = withSpec(order("Scheduled"), { approvals: [{ approver: "carol", decision: "Declined" }] });
  const d = decide({ ...base("Scheduled"), order: declined, assetType: policy });
  assert.equal(d.status.phase, "Failed");
  assert.equal(d.status.conditions?.find((c) => c.type === "Ready")?.reason, "Declined");
  // A run that already started is left to finish (its Job exists: approvals were checked then).
  const running = decide({ ...base("Processing"), assetType: policy, job: { state: "Running" } });
  assert.equal(running.status.phase, "Processing");
});

test("a secret attribute's value in spec.attributes: the order fails before any Job (#15 item 4)", () => {
  const at = assetType({ attributes: [{ name: "pin", type: "string", secret: true }] } as never);
  const byHand = withSpec(order("Scheduled"), { attributes: { pin: "1234" } });
  const s = decide({ ...base("Scheduled"), order: byHand, assetType: at });
  assert.equal(s.status.phase, "Failed");
  assert.match(s.status.message ?? "", /pin of asset type vpn is secret/);
  assert.ok(!s.actions.some((a) => a.kind === "CreateJob" || a.kind === "AcquireLock"));
  const p = decide({
    ...base("Processing"),
    order: withSpec(order("Processing"), { attributes: { pin: "1" } }),
    assetType: at,
  });
  assert.equal(p.status.phase, "Failed");
  assert.ok(!p.actions.some((a) => a.kind === "CreateJob"));
  assert.ok(p.actions.some((a) => a.kind === "ReleaseLock"));
  // The value in a Secret (spec.secretAttributesFrom) runs as usual.
  const ok = decide({
    ...base("Scheduled"),
    order: withSpec(order("Scheduled"), {
      secretAttributesFrom: { secretName: "o1-attrs", keys: ["pin"] },
    }),
    assetType: at,
  });
  assert.equal(ok.status.phase, "Processing");
});

test("Modify orders use approval.onModify: Same, None, or their own policy", () => {
  const modify = (approvals: Order["spec"]["approvals"] = []) =>
    withSpec(order(undefined), { action: "Modify", target: "o0", approvals });
  const at = (onModify?: AssetType["spec"]["approval"]["onModify"]) =>
    assetType({
      approval: { policy: "Approvers", approvers: ["carol"], quorum: 1, ...(onModify ? { onModify } : {}) },
    });
  const phaseOf = (o: Order, t: AssetType) =>
    decide({ ...base(undefined), order: o, assetType: t, target: { found: true, phase: "Provisioned" } })
      .status.phase;
  assert.equal(phaseOf(modify(), at()), "PendingApproval", "unset is Same");
  assert.equal(phaseOf(modify(), at({ policy: "Same" })), "PendingApproval");
  assert.equal(phaseOf(modify(), at({ policy: "None" })), "Scheduled");
  const own = at({ policy: "Approvers", approvers: ["dave"], quorum: 1 });
  assert.equal(phaseOf(modify([{ approver: "carol", decision: "Approved" }]), own), "PendingApproval");
  assert.equal(phaseOf(modify([{ approver: "dave", decision: "Approved" }]), own), "Scheduled");
  assert.equal(phaseOf(modify(), at({ policy: "Manager" })), "PendingApproval");
  assert.equal(
    phaseOf(modify([{ approver: "bob@example.com", decision: "Approved" }]), at({ policy: "Manager" })),
    "Scheduled",
  );
});

test("approval-free order: New → Scheduled (the CRD's first phase), then Processing with lock and Job", () => {
  const first = decide(base(undefined));
  assert.equal(first.status.phase, "Scheduled");
  assert.deepEqual(
    first.actions.map((a) => a.kind),
    ["Emit"],
  );
  assert.equal(first.status.conditions?.find((c) => c.type === "Approved")?.reason, "ApprovalNotRequired");
  const { status, actions } = decide({
    ...base(undefined),
    order: { ...order(undefined), status: first.status },
  });
  assert.equal(status.phase, "Processing");
  assert.equal(status.attempt, 1);
  assert.equal(status.jobName, "o1-1");
  assert.deepEqual(
    status.steps?.map((s) => [s.name, s.state]),
    [
      ["add-group", "Pending"],
      ["notify", "Pending"],
    ],
  );
  assert.deepEqual(
    actions.map((a) => a.kind),
    ["AcquireLock", "CreateJob", "Emit"],
  );
  assert.equal(status.conditions?.find((c) => c.type === "AssetLocked")?.reason, "AssetFree");
  assert.equal(status.conditions?.find((c) => c.type === "JobReady")?.reason, "JobCreated");
});

test("a busy asset: waits in Scheduled with AssetLocked=True naming the holder, no Job", () => {
  const { status, actions } = decide({ ...base("Scheduled"), lock: { state: "HeldByOther", holder: "o0" } });
  const c = status.conditions?.find((x) => x.type === "AssetLocked");
  assert.equal(c?.status, "True");
  assert.equal(c?.reason, "AssetBusy");
  assert.match(c?.message ?? "", /o0/);
  assert.ok(!actions.some((a) => a.kind === "CreateJob" || a.kind === "AcquireLock"));
});

test("a failing critical step fails the order with the step's error, releases the lock, warns", () => {
  const given = OBSERVATIONS.find((o) => o.name === "job failed in a critical step")!.apply(
    base("Processing"),
  );
  const { status, actions } = decide(given);
  assert.equal(status.phase, "Failed");
  const ready = status.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.reason, "Failed");
  assert.equal(ready?.message, "step add-group failed: group not found");
  assert.equal(status.conditions?.find((c) => c.type === "JobReady")?.reason, "JobFailed");
  assert.equal(status.steps?.[0]?.attempts, 3);
  assert.ok(actions.some((a) => a.kind === "ReleaseLock"));
  const ev = actions.find((a) => a.kind === "Emit");
  assert.deepEqual(ev && ev.kind === "Emit" && [ev.type, ev.reason], ["Warning", "Failed"]);
});

test("a non-critical failed step does not name itself when a critical one failed", () => {
  const { status } = decide({
    ...base("Processing"),
    job: {
      state: "Failed",
      steps: [
        { name: "notify", state: "Failed", message: "smtp down" },
        { name: "add-group", state: "Failed", message: "denied" },
      ],
    },
  });
  assert.equal(status.message, "step add-group failed: denied");
});

test("a run that failed before any step (kinit): the Order's message is the runner's, not the Job's", () => {
  const why =
    "kerberos: kinit -kt /k/keytab svc@EX.COM failed: kinit: Preauthentication failed while getting initial credentials";
  const { status } = decide({
    ...base("Processing"),
    job: {
      state: "Failed",
      message: "Job has reached the specified backoff limit",
      runMessage: why,
      steps: [{ name: "add-group", state: "Skipped", attempts: 0, message: `skipped: ${why}` }],
    },
  });
  assert.equal(status.phase, "Failed");
  assert.equal(status.message, `the run failed: ${why}`);
  // Without the runner's summary, the Job controller's reason is all there is.
  const bare = decide({
    ...base("Processing"),
    job: { state: "Failed", message: "Job has reached the specified backoff limit" },
  });
  assert.equal(bare.status.message, "the run failed: Job has reached the specified backoff limit");
});

test("succeeded Job: Provisioned, Ready=True, steps from the runner summary, lock released", () => {
  const given = OBSERVATIONS.find((o) => o.name === "job succeeded")!.apply(base("Processing"));
  const { status, actions } = decide(given);
  assert.equal(status.phase, "Provisioned");
  assert.equal(status.provisionedAt, NOW.toISOString());
  assert.deepEqual(status.asset, { id: "vpn/alice" });
  assert.ok(status.steps?.every((s) => s.state === "Succeeded"));
  const ready = status.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.status, "True");
  assert.equal(ready?.lastTransitionTime, NOW.toISOString(), "flipped now");
  assert.deepEqual(
    actions.map((a) => a.kind),
    ["ReleaseLock", "Emit"],
  );
});

test("lastTransitionTime changes only when status flips", () => {
  const first = decide(base("Processing"));
  const ready = first.status.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.lastTransitionTime, EARLIER, "False → False keeps the old time");
  const again = decide({
    ...base("Processing"),
    order: { ...base("Processing").order, status: first.status },
  });
  assert.deepEqual(again.status, first.status, "a second reconcile writes nothing new");
  assert.deepEqual(
    again.actions.filter((a) => a.kind === "Emit"),
    [],
  );
});

test("Job absent while Processing: recreated under the same name (restart-safe), no status change", () => {
  const { status, actions } = decide(base("Processing"));
  assert.equal(status.attempt, 1);
  assert.deepEqual(
    actions.filter((a) => a.kind === "CreateJob"),
    [{ kind: "CreateJob", attempt: 1, jobName: "o1-1" }],
  );
});

test("cancel refused once Processing: Ready's message says so, and a single Warning event", () => {
  const given = { ...base("Processing"), order: withSpec(order("Processing"), { cancelRequested: true }) };
  const { status, actions } = decide(given);
  const c = status.conditions?.find((x) => x.type === "Ready");
  assert.match(c?.message ?? "", /cancellation refused: the order was already Processing/);
  assert.equal(actions.filter((a) => a.kind === "Emit" && a.reason === "CancelRefused").length, 1);
  const again = decide({ ...given, order: { ...given.order, status } });
  assert.equal(again.actions.filter((a) => a.kind === "Emit").length, 0, "not repeated");
});

test("manager policy: only the requester's manager approves; self-approval never counts", () => {
  const at = assetType({ approval: { policy: "Manager" } });
  const by = (approver: string, decision: "Approved" | "Declined" = "Approved") =>
    decide({
      ...base(undefined),
      assetType: at,
      order: withSpec(order(undefined), { approvals: [{ approver, decision }] }),
    }).status.phase;
  assert.equal(by("alice@example.com"), "PendingApproval");
  assert.equal(by("mallory@example.com"), "PendingApproval");
  assert.equal(by("Bob@Example.com"), "Scheduled");
  assert.equal(by("bob@example.com", "Declined"), "Failed");
  assert.equal(by("mallory@example.com", "Declined"), "PendingApproval", "ineligible declines are ignored");
});

test("approvers quorum counts distinct listed approvers, not repeats or the requester", () => {
  const at = assetType({
    approval: { policy: "Approvers", approvers: ["carol", "dave", "alice"], quorum: 2 },
  });
  const with_ = (...who: string[]) =>
    decide({
      ...base(undefined),
      assetType: at,
      order: withSpec(order(undefined), {
        approvals: who.map((approver) => ({ approver, decision: "Approved" })),
      }),
    }).status;
  assert.equal(with_("carol", "carol").phase, "PendingApproval");
  assert.equal(with_("carol", "alice").phase, "PendingApproval", "the requester cannot approve");
  const s = with_("carol", "dave");
  assert.equal(s.phase, "Scheduled");
  assert.equal(s.conditions?.find((c) => c.type === "Approved")?.reason, "QuorumReached");
  assert.equal(s.conditions?.find((c) => c.type === "Approved")?.message, "approved by carol, dave");
  assert.match(with_("carol").message ?? "", /1 of 2/);
});

test("decline ends the order Failed with reason Declined (a warning)", () => {
  const given = OBSERVATIONS.find((o) => o.name === "declined by an approver")!.apply(
    base("PendingApproval"),
  );
  const { status, actions } = decide(given);
  assert.equal(status.phase, "Failed");
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.reason, "Declined");
  assert.equal(status.conditions?.find((c) => c.type === "Approved")?.status, "False");
  assert.ok(actions.some((a) => a.kind === "Emit" && a.type === "Warning" && a.reason === "Declined"));
});

test("pooled: a free slot is allocated on entering Processing and returned on failure and revoke", () => {
  const at = assetType({ assignment: { model: "CapacityPooled", capacity: 3, maxPerUser: 2 } });
  const start = decide({
    ...base("Scheduled"),
    assetType: at,
    pool: { free: "vpn/slot-1", heldByRequester: 1 },
  });
  assert.equal(start.status.phase, "Processing");
  assert.deepEqual(start.status.asset, { id: "vpn/slot-1" });
  assert.ok(start.actions.some((a) => a.kind === "AllocateSlot" && a.slot === "vpn/slot-1"));

  const running = { ...order("Processing"), status: { ...start.status } };
  const failed = decide({
    ...base("Processing"),
    assetType: at,
    order: running,
    pool: { held: "vpn/slot-1", heldByRequester: 1 },
    job: { state: "Failed" },
  });
  assert.ok(failed.actions.some((a) => a.kind === "ReleaseSlot" && a.slot === "vpn/slot-1"));

  const revoked = decide({
    ...base("Provisioned"),
    assetType: at,
    pool: { held: "vpn/slot-1", heldByRequester: 1 },
    deprovision: { order: "o1-deprovision", phase: "Revoked", revokedAt: NOW.toISOString() },
  });
  assert.equal(revoked.status.phase, "Revoked");
  assert.equal(revoked.status.conditions?.find((c) => c.type === "Ready")?.status, "False");
  assert.ok(revoked.actions.some((a) => a.kind === "ReleaseSlot" && a.slot === "vpn/slot-1"));
});

// Deprovision (and Modify) orders act on a target.
const deprov = (
  phase: Phase | undefined,
  target: Observed["target"],
  job: Observed["job"] = { state: "Absent" },
) =>
  decide({
    ...base(phase),
    order: withSpec(order(phase), { action: "Deprovision", target: "o0" }),
    runbook: { ...runbook, metadata: { name: "vpn-revoke" } },
    target,
    job,
  });

const TARGET_CASES: { target: Observed["target"]; want: Phase; reason: string }[] = [
  { target: { found: false }, want: "Failed", reason: "TargetNotFound" },
  { target: { found: true, phase: "Scheduled" }, want: "Scheduled", reason: "Pending" },
  { target: { found: true, phase: "Processing" }, want: "Scheduled", reason: "Pending" },
  { target: { found: true, phase: "Provisioned" }, want: "Processing", reason: "Processing" },
  { target: { found: true, phase: "Revoked" }, want: "Failed", reason: "InvalidSpec" },
  { target: { found: true, phase: "Cancelled" }, want: "Failed", reason: "InvalidSpec" },
];
for (const c of TARGET_CASES) {
  test(`Deprovision with target ${c.target?.found ? c.target.phase : "missing"} → ${c.want} (${c.reason})`, () => {
    const { status } = deprov("Scheduled", c.target);
    assert.equal(status.phase, c.want);
    const conds = status.conditions ?? [];
    assert.ok(
      conds.some((x) => x.reason === c.reason),
      `a condition says ${c.reason}: ${JSON.stringify(conds)}`,
    );
  });
}

test("Deprovision succeeded: Revoked with revokedAt, target marked, lock released", () => {
  const { status, actions } = deprov(
    "Processing",
    { found: true, phase: "Provisioned" },
    { state: "Succeeded" },
  );
  assert.equal(status.phase, "Revoked");
  assert.equal(status.revokedAt, NOW.toISOString());
  assert.ok(actions.some((a) => a.kind === "MarkTargetRevoked" && a.target === "o0"));
  assert.ok(actions.some((a) => a.kind === "ReleaseLock"));
});

test("asset type without a deprovision runbook: Deprovision fails saying so", () => {
  const { status } = decide({
    ...base("Scheduled"),
    assetType: assetType({ runbooks: { provision: "vpn-grant" } }),
    order: withSpec(order("Scheduled"), { action: "Deprovision", target: "o0" }),
    target: { found: true, phase: "Provisioned" },
  });
  assert.equal(status.phase, "Failed");
  assert.equal(status.message, "asset type vpn has no deprovision runbook");
});

test("a lock left behind in a finished phase is released; a held slot after Failed is returned", () => {
  const p = decide({ ...base("Provisioned"), lock: { state: "HeldBySelf" } });
  assert.deepEqual(
    p.actions.map((a) => a.kind),
    ["ReleaseLock"],
  );
  const f = decide({ ...base("Failed"), pool: { held: "vpn/slot-0", heldByRequester: 1 } });
  assert.deepEqual(f.actions, [{ kind: "ReleaseSlot", slot: "vpn/slot-0" }]);
});

test("reconcile errors: Reconciled=False with the message, a stale Ready=True is flipped", () => {
  const o = order("Failed");
  o.status!.conditions![0]!.status = "True"; // a stale Ready=True left by someone else
  const { status, actions } = decideReconcileError(o, "Kubernetes API unavailable", NOW);
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "False");
  const rec = status.conditions?.find((c) => c.type === "Reconciled");
  assert.deepEqual(
    [rec?.status, rec?.reason, rec?.message],
    ["False", "ReconcileError", "Kubernetes API unavailable"],
  );
  assert.equal(actions.length, 1);
  const again = decideReconcileError({ ...o, status }, "Kubernetes API unavailable", NOW);
  assert.equal(again.actions.length, 0, "same error is not re-emitted");
  const ok = decideReconcileError(order("Provisioned"), "boom", NOW);
  assert.equal(
    ok.status.conditions?.find((c) => c.type === "Ready")?.status,
    "True",
    "delivered stays delivered",
  );
});

test("a delivered Modify keeps its message on later reconciles", () => {
  const mod = withSpec(order("Processing"), { action: "Modify", target: "o0" });
  const done = decide({ ...base("Processing"), order: mod, job: { state: "Succeeded" } });
  assert.equal(done.status.message, "the change to order o0 was delivered");
  const again = decide({ ...base("Provisioned"), order: { ...mod, status: done.status } });
  assert.equal(again.status.message, "the change to order o0 was delivered");
  assert.deepEqual(again.status, done.status, "nothing to write");
});

test("a Deprovision needs no approval even where granting does (revoke, leaver)", () => {
  for (const approval of [
    { policy: "Manager" as const },
    { policy: "Approvers" as const, approvers: ["ann", "bert"], quorum: 2 },
  ]) {
    const { status } = decide({
      ...base(undefined),
      assetType: assetType({ approval }),
      order: withSpec(order(undefined), { action: "Deprovision", target: "o0" }),
      target: { found: true, phase: "Provisioned" },
    });
    assert.equal(status.phase, "Scheduled", `${approval.policy}: ${status.message ?? ""}`);
    // The same asset type's Provision Order does wait for its approvers.
    const grant = decide({ ...base(undefined), assetType: assetType({ approval }) });
    assert.equal(grant.status.phase, "PendingApproval");
  }
});

test("eligibility is exact: e-mail local parts neither count as a listed username nor the reverse", () => {
  const phaseWith = (approvers: string[], approver: string) =>
    decide({
      ...base(undefined),
      assetType: assetType({ approval: { policy: "Approvers", approvers, quorum: 1 } }),
      order: withSpec(order(undefined), { approvals: [{ approver, decision: "Approved" }] }),
    }).status.phase;
  assert.equal(phaseWith(["bert"], "bert@other.example"), "PendingApproval");
  assert.equal(phaseWith(["bert@example.com"], "bert"), "PendingApproval");
  assert.equal(phaseWith(["bert@example.com"], "bert@other.example"), "PendingApproval");
  assert.equal(phaseWith(["bert@example.com"], " Bert@Example.com "), "Scheduled");
  assert.equal(phaseWith(["bert"], "BERT"), "Scheduled");
  // The manager policy is exact too: the manager's e-mail, not its local part.
  const byManager = (approver: string) =>
    decide({
      ...base(undefined),
      assetType: assetType({ approval: { policy: "Manager" } }),
      order: withSpec(order(undefined), { approvals: [{ approver, decision: "Approved" }] }),
    }).status.phase;
  assert.equal(byManager("bob"), "PendingApproval");
  assert.equal(byManager("bob@other.example"), "PendingApproval");
  assert.equal(byManager("bob@example.com"), "Scheduled");
});

test("cleanup of a partial provision: a Deprovision runs against a Failed target only when a step ran", () => {
  const dep = (needsCleanup: boolean) =>
    decide({
      ...base("Scheduled"),
      order: withSpec(order("Scheduled"), { action: "Deprovision", target: "o0" }),
      target: { found: true, phase: "Failed", needsCleanup },
    });
  const run = dep(true);
  assert.equal(run.status.phase, "Processing");
  assert.ok(run.actions.some((a) => a.kind === "CreateJob"));
  const none = dep(false);
  assert.equal(none.status.phase, "Failed");
  assert.match(none.status.message ?? "", /is Failed, so there is nothing to deprovision/);
});

test("retry: a failed run gets a new attempt with its own Job; earlier attempts kept; a decline is refused", () => {
  const failedRun = decide({
    ...base("Processing"),
    job: { state: "Failed", steps: [{ name: "add-group", state: "Failed", exitCode: 1 }] },
  }).status;
  const retried = decide({
    ...base("Failed"),
    order: { ...order("Failed", { retry: 1 }), status: failedRun },
  });
  assert.equal(retried.status.phase, "Scheduled");
  assert.equal(retried.status.retry, 1);
  assert.deepEqual(
    retried.status.previousAttempts?.map((a) => [a.attempt, a.jobName]),
    [[1, "o1-1"]],
  );
  const next = decide({
    ...base("Scheduled"),
    order: { ...order("Scheduled", { retry: 1 }), status: retried.status },
  });
  assert.equal(next.status.phase, "Processing");
  assert.equal(next.status.attempt, 2);
  assert.ok(next.actions.some((a) => a.kind === "CreateJob" && a.jobName === "o1-2" && a.attempt === 2));
  // Already answered: nothing more.
  assert.equal(
    decide({
      ...base("Failed"),
      order: { ...order("Failed", { retry: 1 }), status: { ...failedRun, retry: 1 } },
    }).status.phase,
    "Failed",
  );
  // A declined order: refused, stays Failed/Declined.
  const declined = decide({
    ...base(undefined),
    assetType: assetType({ approval: { policy: "Approvers", approvers: ["carol"], quorum: 1 } }),
    order: withSpec(order(undefined), { approvals: [{ approver: "carol", decision: "Declined" }] }),
  }).status;
  const refused = decide({
    ...base("Failed"),
    order: { ...order("Failed", { retry: 1 }), status: declined },
  });
  assert.equal(refused.status.phase, "Failed");
  assert.equal(refused.status.retry, 1);
  assert.equal(refused.status.conditions?.find((c) => c.type === "Ready")?.reason, "Declined");
  assert.match(refused.status.message ?? "", /retry refused/);
});

test("an approval expired by the API (system:approvals entry) fails the order with ApprovalExpired, votes after it ignored", () => {
  const at = assetType({ approval: { policy: "Approvers", approvers: ["carol", "dave"], quorum: 1 } });
  const o = order("PendingApproval", {
    approvals: [
      {
        approver: "system:approvals",
        decision: "Declined",
        at: NOW.toISOString(),
        comment: "no decision within 14d",
      },
      { approver: "carol", decision: "Approved", at: NOW.toISOString() },
    ],
  });
  const { status } = decide({ ...base("PendingApproval"), order: o, assetType: at });
  assert.equal(status.phase, "Failed");
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.reason, "ApprovalExpired");
  assert.equal(status.conditions?.find((c) => c.type === "Approved")?.reason, "ApprovalExpired");
});

// #19: a Provision Order shows the values of its newest successful Modify Order; a running or
// failed one (the reconciler passes only Provisioned ones as `modified`) leaves them as they were.
test("the target's attributes follow its newest successful Modify, never a running or failed one", () => {
  const ordered = { seats: "1", tier: "basic" };
  const target = withSpec(order("Provisioned"), { attributes: ordered });
  type Row = {
    name: string;
    modified: Observed["modified"];
    before?: Partial<Order["status"]>;
    want: { attributes?: Record<string, string>; modifiedBy?: string; modifiedAt?: string };
  };
  const rows: Row[] = [
    { name: "no Modify yet (or it runs, or it failed)", modified: undefined, want: {} },
    {
      name: "a Modify succeeded",
      modified: { order: "o1-m1", attributes: { seats: "3", tier: "basic" }, at: EARLIER },
      want: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
    },
    {
      name: "already shown: nothing to write",
      modified: { order: "o1-m1", attributes: { seats: "3", tier: "basic" }, at: EARLIER },
      before: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
      want: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
    },
    {
      name: "a later Modify succeeded",
      modified: { order: "o1-m2", attributes: { seats: "5", tier: "pro" }, at: NOW.toISOString() },
      before: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
      want: { attributes: { seats: "5", tier: "pro" }, modifiedBy: "o1-m2", modifiedAt: NOW.toISOString() },
    },
    {
      name: "the last one that succeeded stays shown while a newer one runs or after it fails",
      modified: { order: "o1-m1", attributes: { seats: "3", tier: "basic" }, at: EARLIER },
      before: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
      want: { attributes: { seats: "3", tier: "basic" }, modifiedBy: "o1-m1", modifiedAt: EARLIER },
    },
  ];
  for (const r of rows) {
    const o: Order = { ...target, status: { ...target.status, ...r.before } };
    const d = decide({ ...base("Provisioned"), order: o, modified: r.modified });
    assert.equal(d.status.phase, "Provisioned", r.name);
    assert.deepEqual(
      {
        ...(d.status.attributes ? { attributes: d.status.attributes } : {}),
        ...(d.status.modifiedBy ? { modifiedBy: d.status.modifiedBy } : {}),
        ...(d.status.modifiedAt ? { modifiedAt: d.status.modifiedAt } : {}),
      },
      r.want,
      r.name,
    );
    assert.deepEqual(o.spec.attributes, ordered, `${r.name}: the ordered values stay in the spec`);
    if (r.before && r.want.modifiedBy === r.before.modifiedBy) {
      assert.deepEqual(
        d.status,
        decide({ ...base("Provisioned"), order: { ...o, status: d.status }, modified: r.modified }).status,
        `${r.name}: stable`,
      );
    }
  }
  // A Modify or Deprovision Order itself never takes values this way.
  const mod = withSpec(order("Provisioned"), { action: "Modify", target: "o0" });
  const d = decide({ ...base("Provisioned"), order: mod, modified: { order: "x", attributes: { a: "b" } } });
  assert.equal(d.status.attributes, undefined);
});

test("a delivered Modify asks its target to take the new values; a failed one does not", () => {
  const mod = withSpec(order("Processing"), { action: "Modify", target: "o0", attributes: { seats: "3" } });
  const done = decide({ ...base("Processing"), order: mod, job: { state: "Succeeded" } });
  assert.ok(done.actions.some((a) => a.kind === "MarkTargetModified" && a.target === "o0"));
  const failed = decide({ ...base("Processing"), order: mod, job: { state: "Failed", steps: [] } });
  assert.equal(failed.status.phase, "Failed");
  assert.ok(!failed.actions.some((a) => a.kind === "MarkTargetModified"));
});
