// The operator against the real API server and controller-manager, up to the launch of the Job
// (no pod runs here): the approval-free path to Processing and the Job's shape, approvals,
// decline, cancel allowed and refused, the per-asset lock, restart safety and the Events a
// user sees.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { verifyIngestToken } from "../../record/ingest-token.ts";
import { assetLeaseName } from "../../operator/order/names.ts";
import type { Order, Runbook } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { makeRest } from "../../operator/kube/rest.ts";
import {
  api,
  assetType,
  bashStep,
  condition,
  create,
  eventsFor,
  get,
  INGEST_SECRET,
  jobsOf,
  order,
  patchSpec,
  phaseIs,
  runbook,
  runOperator,
  simpleCatalog,
  waitOrder,
} from "./support.ts";

before(async () => {
  await applyCrds();
});

test("approval-free order: Scheduled then Processing, with one Job built to the contract", async (t) => {
  const ns = await newNamespace(t);
  const grant = bashStep("grant", "echo $GROUP", {
    timeoutSeconds: 30,
    retries: 2,
    retryDelaySeconds: 1,
    parameters: [
      { name: "GROUP", value: "VPN" },
      { name: "API_KEY", valueFrom: { secretKeyRef: { name: "api", key: "key" } } },
    ],
  });
  const notify = bashStep("notify", "echo hi", { critical: false, timeoutSeconds: 10 });
  for (const name of ["api", "svc-keytab"]) await runbookSecret(ns, name);
  await create(
    ns,
    "runbooks",
    runbook("vpn-grant", [grant, notify], {
      kerberos: { secretName: "svc-keytab", principal: "svc@EXAMPLE.COM" },
    }),
  );
  await create(ns, "assettypes", assetType("vpn"));
  // Nothing listens there: this test only checks the token the pod would get.
  await runOperator(t, ns, {
    IPSOLIS_INGEST_URL: "http://127.0.0.1:9/ingest",
    IPSOLIS_INGEST_SECRET: INGEST_SECRET,
  });
  const o = await create<Order>(ns, "orders", order("o1", { assetType: "vpn" }));

  const seen = await waitOrder(ns, "o1", phaseIs("Processing"));
  assert.equal(seen.status?.attempt, 1);
  assert.equal(seen.status?.jobName, "o1-1");
  assert.equal(seen.status?.observedGeneration, seen.metadata?.generation);
  assert.deepEqual(
    seen.status?.steps?.map((s) => [s.name, s.state]),
    [
      ["grant", "Pending"],
      ["notify", "Pending"],
    ],
  );
  assert.equal(condition(seen, "Ready")?.status, "False");
  assert.equal(condition(seen, "Ready")?.reason, "Processing");
  assert.equal(condition(seen, "Approved")?.reason, "ApprovalNotRequired");
  assert.equal(condition(seen, "Reconciled")?.status, "True");
  for (const c of seen.status?.conditions ?? [])
    assert.equal(c.observedGeneration, seen.metadata?.generation);

  const jobs = await jobsOf(ns, "o1");
  assert.equal(jobs.length, 1);
  const job = jobs[0]!;
  assert.equal(job.metadata?.name, "o1-1");
  const owner = job.metadata?.ownerReferences?.[0];
  assert.deepEqual(
    [owner?.kind, owner?.name, owner?.uid, owner?.controller, owner?.blockOwnerDeletion],
    ["Order", "o1", o.metadata?.uid, true, true],
  );
  assert.equal(job.spec?.backoffLimit, 0);
  // 30 × 3 + 1 × 2 + 10 + slack 120
  assert.equal(job.spec?.activeDeadlineSeconds, 30 * 3 + 2 + 10 + 120);
  assert.ok((job.spec?.ttlSecondsAfterFinished ?? 0) >= 24 * 3600);
  const pod = job.spec?.template;
  assert.equal(pod?.metadata?.labels?.["ipsolis.io/runner"], "true");
  assert.equal(pod?.metadata?.labels?.["ipsolis.io/order"], "o1");
  const c = pod?.spec?.containers[0];
  assert.equal(c?.image, "ipsolis/runner:test");
  const env = new Map((c?.env ?? []).map((e) => [e.name, e]));
  const plan = JSON.parse(env.get("IPSOLIS_PLAN")?.value ?? "{}") as { steps: { parameters: object[] }[] };
  assert.deepEqual(plan.steps[0]?.parameters, [
    { name: "GROUP", value: "VPN" },
    { name: "API_KEY", env: "IPSOLIS_SECRET_0_1", secret: true },
  ]);
  const ref = env.get("IPSOLIS_SECRET_0_1")?.valueFrom?.secretKeyRef;
  assert.deepEqual([ref?.name, ref?.key], ["api", "key"]);
  assert.equal(env.get("IPSOLIS_SECRET_0_1")?.value, undefined, "no secret value in the Job spec");
  assert.match(env.get("KRB5CCNAME")?.value ?? "", /^FILE:\//);
  const krbMount = c?.volumeMounts?.find((m) => m.name === "kerberos");
  assert.equal(krbMount?.readOnly, true);
  assert.equal(pod?.spec?.volumes?.find((v) => v.name === "kerberos")?.secret?.secretName, "svc-keytab");

  // The per-Job ingest token: in a Secret owned by the Order (made before the Job), valid for this Job only.
  const tokenRef = env.get("IPSOLIS_INGEST_TOKEN")?.valueFrom?.secretKeyRef;
  assert.ok(tokenRef, "token comes from a Secret");
  const secret = await eventually("ingest secret", () =>
    api()
      .core.readNamespacedSecret({ namespace: ns, name: tokenRef.name ?? "" })
      .catch(() => undefined),
  );
  assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, o.metadata?.uid);
  const token = Buffer.from(secret.data?.[tokenRef.key] ?? "", "base64").toString();
  const check = verifyIngestToken(INGEST_SECRET, token, new Date());
  assert.ok(check.ok);
  assert.deepEqual(check.ok && [check.claims.namespace, check.claims.job, check.claims.order], [
    ns,
    "o1-1",
    "o1",
  ]);

  // The asset lock is held by the Order.
  const lease = await api().coordination.readNamespacedLease({
    namespace: ns,
    name: assetLeaseName("vpn/jdoe"),
  });
  assert.equal(lease.spec?.holderIdentity, "o1");

  // Events, one per transition, same reasons as Ready.
  const events = await eventually("two events", async () => {
    const ev = await eventsFor(ns, "o1");
    return ev.length >= 2 ? ev : undefined;
  });
  assert.deepEqual(
    events.map((e) => [e.type, e.reason]),
    [
      ["Normal", "Pending"],
      ["Normal", "Processing"],
    ],
  );
  assert.match(events[0]?.note ?? "", /New → Scheduled/);
});

async function runbookSecret(
  ns: string,
  name: string,
  labels: Record<string, string> = { "ipsolis.io/runbook-secret": "true" },
  annotations: Record<string, string> = {},
) {
  await api().core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name, labels, annotations }, stringData: { key: "v", keytab: "k" } },
  });
}

test("a runbook may only read Secrets labelled for runbook use: no Job, the order Failed saying why, a Warning", async (t) => {
  const ns = await newNamespace(t);
  // Another Job's ingest token or another team's keytab: present, but not labelled for runbooks.
  await runbookSecret(ns, "other-job-ingest", { "ipsolis.io/job": "x-1" });
  await runbookSecret(ns, "ok");
  const steal = bashStep("steal", "echo $T | rev", {
    parameters: [
      { name: "T", valueFrom: { secretKeyRef: { name: "other-job-ingest", key: "key" } } },
      { name: "OK", valueFrom: { secretKeyRef: { name: "ok", key: "key" } } },
      { name: "GONE", valueFrom: { secretKeyRef: { name: "no-such-secret", key: "key" } } },
    ],
  });
  await create(ns, "runbooks", runbook("vpn-grant", [steal]));
  await create(ns, "assettypes", assetType("vpn"));
  await runOperator(t, ns, {
    IPSOLIS_INGEST_URL: "http://127.0.0.1:9/ingest",
    IPSOLIS_INGEST_SECRET: INGEST_SECRET,
  });
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  // Refused for good: the Order ends Failed saying why (a retry runs once the runbook is fixed).
  const o = await waitOrder(ns, "o1", phaseIs("Failed"));
  const msg = condition(o, "Ready")?.message ?? "";
  assert.match(msg, /^the run was not started: /);
  assert.match(msg, /no-such-secret, other-job-ingest/);
  assert.match(msg, /ipsolis\.io\/runbook-secret="true"/);
  assert.doesNotMatch(msg, /\bok\b/);
  const ev = await eventually("warning", async () =>
    (await eventsFor(ns, "o1")).find((e) => e.type === "Warning" && /other-job-ingest/.test(e.note ?? "")),
  );
  assert.ok(ev);
  assert.equal((await jobsOf(ns, "o1")).length, 0, "no Job was built");
  const secrets = await api().core.listNamespacedSecret({
    namespace: ns,
    labelSelector: "ipsolis.io/order=o1",
  });
  assert.equal(secrets.items.length, 0, "no ingest token was minted");

  // A scheduled runbook is refused the same way: no CronJob, CronJobSynced=False.
  await create(ns, "runbooks", runbook("nightly", [steal], { schedule: { cron: "@daily" } }));
  const rb = await eventually("runbook refused", async () => {
    const r = await get<Runbook>(ns, "runbooks", "nightly");
    return condition(r, "CronJobSynced")?.status === "False" ? r : undefined;
  });
  assert.match(condition(rb, "CronJobSynced")?.message ?? "", /other-job-ingest/);
  const crons = await api().batch.listNamespacedCronJob({ namespace: ns });
  assert.equal(crons.items.length, 0);
});

test("a Secret kept to one team's asset types: its Orders run, another team's runbook naming it is refused", async (t) => {
  const ns = await newNamespace(t);
  await runbookSecret(ns, "m365-app", undefined, { "ipsolis.io/runbook-secret-asset-types": "m365" });
  const uses = bashStep("use", "true", {
    parameters: [{ name: "T", valueFrom: { secretKeyRef: { name: "m365-app", key: "key" } } }],
  });
  await create(ns, "runbooks", runbook("m365-grant", [uses]));
  await create(ns, "runbooks", runbook("vpn-grant", [uses]));
  await create(ns, "assettypes", assetType("m365", { runbooks: { provision: "m365-grant" } }));
  await create(ns, "assettypes", assetType("vpn", { runbooks: { provision: "vpn-grant" } }));
  await runOperator(t, ns, {
    IPSOLIS_INGEST_URL: "http://127.0.0.1:9/ingest",
    IPSOLIS_INGEST_SECRET: INGEST_SECRET,
  });
  await create(ns, "orders", order("own", { assetType: "m365" }));
  await create(ns, "orders", order("other", { assetType: "vpn" }));
  await waitOrder(ns, "own", phaseIs("Processing"));
  const refused = await waitOrder(ns, "other", phaseIs("Failed"));
  assert.match(
    condition(refused, "Ready")?.message ?? "",
    /Secret m365-app is kept to asset type m365 \(ipsolis\.io\/runbook-secret-asset-types\) and runbook vpn-grant runs for vpn/,
  );
  assert.equal((await jobsOf(ns, "other")).length, 0, "no Job for the other team's type");
  // The runbook itself says so (Ready=False), before anyone orders.
  const rb = await eventually("vpn-grant not Ready", async () => {
    const r = await get<Runbook>(ns, "runbooks", "vpn-grant");
    return condition(r, "Ready")?.reason === "SecretNotFound" ? r : undefined;
  });
  assert.match(condition(rb, "Ready")?.message ?? "", /runs for vpn/);
});

test("approvers quorum: waits in PendingApproval until two distinct approvers approve", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "runbooks", runbook("lic-grant", [bashStep("grant", "true")]));
  await create(
    ns,
    "assettypes",
    assetType("lic", { approval: { policy: "Approvers", approvers: ["carol", "dave", "erin"], quorum: 2 } }),
  );
  await runOperator(t, ns);
  await create(ns, "orders", order("o1", { assetType: "lic" }));
  let o = await waitOrder(ns, "o1", phaseIs("PendingApproval"));
  assert.equal(condition(o, "Approved")?.status, "Unknown");
  assert.match(condition(o, "Approved")?.message ?? "", /0 of 2/);
  const at = "2026-11-25T10:00:00Z";
  await patchSpec(ns, "orders", "o1", { approvals: [{ approver: "carol", decision: "Approved", at }] });
  o = await waitOrder(ns, "o1", (x) => /1 of 2/.test(condition(x, "Approved")?.message ?? ""));
  assert.equal(o.status?.phase, "PendingApproval");
  assert.equal((await jobsOf(ns, "o1")).length, 0, "no Job before approval");
  await patchSpec(ns, "orders", "o1", {
    approvals: [
      { approver: "carol", decision: "Approved", at },
      { approver: "dave", decision: "Approved", at },
    ],
  });
  o = await waitOrder(ns, "o1", phaseIs("Processing"));
  assert.equal(condition(o, "Approved")?.reason, "QuorumReached");
  assert.equal((await jobsOf(ns, "o1")).length, 1);
});

test("a decline by an eligible approver ends the order Failed (reason Declined) with a Warning", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "runbooks", runbook("lic-grant", [bashStep("grant", "true")]));
  await create(ns, "assettypes", assetType("lic", { approval: { policy: "Manager" } }));
  await runOperator(t, ns);
  await create(ns, "orders", order("o1", { assetType: "lic" }));
  await waitOrder(ns, "o1", phaseIs("PendingApproval"));
  await patchSpec(ns, "orders", "o1", {
    approvals: [{ approver: "boss@example.com", decision: "Declined", at: "2026-11-25T10:00:00Z" }],
  });
  const o = await waitOrder(ns, "o1", phaseIs("Failed"));
  assert.equal(condition(o, "Ready")?.reason, "Declined");
  assert.equal(condition(o, "Approved")?.status, "False");
  const ev = await eventually("warning", async () =>
    (await eventsFor(ns, "o1")).find((e) => e.type === "Warning" && e.reason === "Declined"),
  );
  assert.match(ev.note ?? "", /declined by boss@example.com/);
});

test("cancel: honoured while PendingApproval; refused by the API server once Processing", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  await create(ns, "runbooks", runbook("lic-grant", [bashStep("grant", "true")]));
  await create(ns, "assettypes", assetType("lic", { approval: { policy: "Manager" } }));
  await runOperator(t, ns);

  await create(ns, "orders", order("pending", { assetType: "lic" }));
  await waitOrder(ns, "pending", phaseIs("PendingApproval"));
  await patchSpec(ns, "orders", "pending", { cancelRequested: true });
  const cancelled = await waitOrder(ns, "pending", phaseIs("Cancelled"));
  assert.equal(condition(cancelled, "Ready")?.reason, "Cancelled");
  assert.equal((await jobsOf(ns, "pending")).length, 0);

  await create(ns, "orders", order("running", { assetType: "vpn" }));
  await waitOrder(ns, "running", phaseIs("Processing"));
  const err = await patchSpec(ns, "orders", "running", { cancelRequested: true }).then(
    () => undefined,
    (e: unknown) => e as { body?: string },
  );
  assert.ok(err, "the API server refuses a cancel once Processing");
  assert.match(String(err.body), /an Order can be cancelled only before Processing/);
  const still = await waitOrder(ns, "running", phaseIs("Processing"));
  assert.equal(still.spec.cancelRequested, undefined);
});

test("per-asset lock: a second order for the same asset waits in Scheduled naming the holder", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  await runOperator(t, ns);
  await create(ns, "orders", order("first", { assetType: "vpn" }));
  await waitOrder(ns, "first", phaseIs("Processing"));
  await create(ns, "orders", order("second", { assetType: "vpn" }));
  const o = await waitOrder(ns, "second", (x) => condition(x, "AssetLocked")?.status === "True");
  assert.equal(o.status?.phase, "Scheduled");
  assert.equal(condition(o, "AssetLocked")?.reason, "AssetBusy");
  assert.match(condition(o, "AssetLocked")?.message ?? "", /order first/);
  assert.equal((await jobsOf(ns, "second")).length, 0);
  // Another requester's asset is not locked.
  await create(
    ns,
    "orders",
    order("other", { assetType: "vpn", requester: { id: "mmax", email: "m@example.com" } }),
  );
  await waitOrder(ns, "other", phaseIs("Processing"));
});

test("restart mid-Processing: a new operator creates no second Job for the attempt", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  const first = await runOperator(t, ns);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  await first.stop();
  // Delete nothing, change nothing: the new operator observes and must converge to the same state.
  const second = await runOperator(t, ns);
  await eventually("second operator leads", async () => (second.isLeader() ? true : undefined));
  await create(
    ns,
    "orders",
    order("o2", { assetType: "vpn", requester: { id: "x2", email: "x2@example.com" } }),
  );
  await waitOrder(ns, "o2", phaseIs("Processing"));
  const jobs = await jobsOf(ns, "o1");
  assert.deepEqual(
    jobs.map((j) => j.metadata?.name),
    ["o1-1"],
  );
  const o1 = await waitOrder(ns, "o1", phaseIs("Processing"));
  assert.equal(o1.status?.attempt, 1);
});

test("two replicas: exactly one leads and reconciles; the standby takes over when it stops", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  const a = await runOperator(t, ns);
  const b = await runOperator(t, ns);
  const leader = await eventually("a leader", async () => (a.isLeader() !== b.isLeader() ? true : undefined));
  assert.ok(leader);
  const [lead, standby] = a.isLeader() ? [a, b] : [b, a];
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const events = await eventually("events", async () => {
    const ev = await eventsFor(ns, "o1");
    return ev.length >= 2 ? ev : undefined;
  });
  for (const e of events) assert.equal(e.reportingInstance, lead.identity, "only the leader writes");
  assert.equal(standby.isLeader(), false);
  const gauge = async (op: { port: number }) =>
    /^ipsolis_operator_leader (\d)$/m.exec(
      await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text(),
    )?.[1];
  assert.equal(await gauge(lead), "1");
  assert.equal(await gauge(standby), "0");

  await lead.stop();
  await eventually("standby leads", async () => (standby.isLeader() ? true : undefined));
  await create(
    ns,
    "orders",
    order("o2", { assetType: "vpn", requester: { id: "x2", email: "x2@example.com" } }),
  );
  await waitOrder(ns, "o2", phaseIs("Processing"));
  const ev2 = await eventually("events", async () => {
    const ev = await eventsFor(ns, "o2");
    return ev.length >= 2 ? ev : undefined;
  });
  for (const e of ev2) assert.equal(e.reportingInstance, standby.identity);
});

test("missing asset type: waits with Reconciled=False, proceeds once it exists", async (t) => {
  const ns = await newNamespace(t);
  await runOperator(t, ns);
  await create(ns, "orders", order("o1", { assetType: "later" }));
  const o = await waitOrder(ns, "o1", (x) => condition(x, "Reconciled")?.reason === "AssetTypeNotFound");
  assert.equal(o.status?.phase, "PendingApproval");
  assert.equal(condition(o, "Reconciled")?.status, "False");
  await simpleCatalog(ns, "later");
  const done = await waitOrder(ns, "o1", phaseIs("Processing"));
  assert.equal(condition(done, "Reconciled")?.status, "True");
});

test("readiness and metrics: /readyz after sync, orders by phase on /metrics", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  const op = await runOperator(t, ns);
  const base = `http://127.0.0.1:${op.port}`;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const text = await eventually("metrics", async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    return /ipsolis_operator_orders\{phase="Processing"\} 1/.test(m) ? m : undefined;
  });
  assert.match(text, /ipsolis_operator_reconcile_duration_seconds_count\{kind="Order",result="ok"\} \d+/);
});

test("a leader that loses its Lease stops reconciling", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  const op = await runOperator(t, ns, { IPSOLIS_LEADER_LEASE_SECONDS: 30 });
  await eventually("leader", async () => (op.isLeader() ? true : undefined));
  // Someone else takes the Lease (as a partitioned leader would find on its return).
  // (Raw: client-node would send the Lease's MicroTime fields with millisecond precision.)
  const rest = await makeRest(testKubeConfig(), "ipsolis-test");
  t.after(() => rest.close());
  const path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/ipsolis-operator-leader`;
  const lease = await rest.call<{ spec: Record<string, unknown> }>({ method: "GET", path });
  const now = new Date().toISOString().replace("Z", "000Z");
  await rest.call({
    method: "PUT",
    path,
    body: {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "another-replica", renewTime: now, acquireTime: now },
    },
  });
  await eventually("stepped down", async () => (op.isLeader() ? undefined : true));
  // The replica that holds it now does the work; the one that stepped down writes nothing.
  const other = await runOperator(t, ns, {
    IPSOLIS_OPERATOR_ID: "another-replica",
    IPSOLIS_LEADER_LEASE_SECONDS: 30,
  });
  await eventually("other leads", async () => (other.isLeader() ? true : undefined));
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const events = await eventually("events", async () => {
    const ev = await eventsFor(ns, "o1");
    return ev.length >= 2 ? ev : undefined;
  });
  assert.deepEqual(new Set(events.map((e) => e.reportingInstance)), new Set(["another-replica"]));
  assert.equal(op.isLeader(), false);
});

test("a stale asset lock (its holder Order is gone) is taken over", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns);
  const name = assetLeaseName("vpn/jdoe");
  const now = new Date().toISOString().replace("Z", "000Z");
  const rest = await makeRest(testKubeConfig(), "ipsolis-test");
  t.after(() => rest.close());
  await rest.call({
    method: "POST",
    path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    body: {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, labels: { "ipsolis.io/lock": "asset" } },
      spec: { holderIdentity: "ghost-order", acquireTime: now, renewTime: now },
    },
  });
  await runOperator(t, ns);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const lease = await api().coordination.readNamespacedLease({ namespace: ns, name });
  assert.equal(lease.spec?.holderIdentity, "o1");
});
