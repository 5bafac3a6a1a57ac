// Orders run to the end: the operator's Jobs run on the local node (the runner as a process, in
// place of the kubelet) and the real Job controller completes or fails them. Provisioned with
// per-step status, a failing critical step, retries and a timeout visible in status.steps,
// Deprovision revoking its target, the lock handed on, a pooled slot returned, and Ready never
// stale in any version of the object a watcher sees.
import { test, before, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Order } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { testEnv } from "../support/env.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { startLocalNode } from "../localnode/node.ts";
import {
  api,
  assetType,
  bashStep,
  condition,
  create,
  eventsFor,
  jobsOf,
  order,
  phaseIs,
  runbook,
  runOperator,
  simpleCatalog,
  waitOrder,
} from "./support.ts";

before(async () => {
  await applyCrds();
});

const RUN_MS = 60_000;

/** A namespace with the operator, the local node and a watcher that checks every Order version. */
async function setup(t: TestContext) {
  const ns = await newNamespace(t);
  await runLocalNodeIn(t, ns, 30);
  // Every version of every Order a watcher sees: Ready=True only ever with phase Provisioned.
  const stale: string[] = [];
  const versions: Order[] = [];
  const watch = await new k8s.Watch(testKubeConfig()).watch(
    `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/orders`,
    {},
    (_type: string, o: Order) => {
      versions.push(o);
      const ready = condition(o, "Ready");
      if (ready?.status === "True" && o.status?.phase !== "Provisioned") {
        stale.push(`${o.metadata?.name}: Ready=True in ${o.status?.phase}`);
      }
    },
    () => undefined,
  );
  t.after(() => {
    watch.abort();
    assert.deepEqual(stale, [], "Ready was never stale");
  });
  const op = await runOperator(t, ns);
  return { ns, versions, op };
}

test("approval-free order runs to Provisioned: steps from the runner, Ready=True, lock released", async (t) => {
  const { ns, op } = await setup(t);
  await simpleCatalog(ns, "vpn", [bashStep("grant", "echo granted"), bashStep("verify", "echo ok")]);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  const o = await waitOrder(ns, "o1", phaseIs("Provisioned"), RUN_MS);
  assert.equal(condition(o, "Ready")?.status, "True");
  assert.equal(condition(o, "Ready")?.reason, "Provisioned");
  assert.equal(condition(o, "JobReady")?.reason, "JobSucceeded");
  assert.ok(o.status?.provisionedAt);
  assert.deepEqual(o.status?.asset, { id: "vpn/jdoe" });
  assert.deepEqual(
    o.status?.steps?.map((s) => [s.name, s.state, s.attempts, s.exitCode]),
    [
      ["grant", "Succeeded", 1, 0],
      ["verify", "Succeeded", 1, 0],
    ],
  );
  for (const s of o.status?.steps ?? []) assert.ok(s.startedAt && s.finishedAt, "step times");
  const leases = await api().coordination.listNamespacedLease({
    namespace: ns,
    labelSelector: "ipsolis.io/lock=asset",
  });
  await eventually("lock released", async () => {
    const l = await api().coordination.listNamespacedLease({
      namespace: ns,
      labelSelector: "ipsolis.io/lock=asset",
    });
    return l.items.length === 0 ? true : undefined;
  });
  assert.ok(leases.items.length <= 1);
  const reasons = await eventually("three transition events", async () => {
    const ev = (await eventsFor(ns, "o1")).map((e) => `${e.type}/${e.reason}`);
    return ev.includes("Normal/Provisioned") ? ev : undefined;
  });
  assert.deepEqual(reasons, ["Normal/Pending", "Normal/Processing", "Normal/Provisioned"]);
  const metrics = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
  assert.match(metrics, /ipsolis_operator_job_outcomes_total\{outcome="succeeded"\} 1/);
  assert.match(metrics, /ipsolis_operator_step_duration_seconds_count\{runbook="vpn-grant",step="grant"\} 1/);
  assert.match(metrics, /ipsolis_operator_orders\{phase="Provisioned"\} 1/);
  // Process metrics, the work queue and leadership (the only replica leads).
  assert.match(metrics, /^ipsolis_operator_process_resident_memory_bytes \d+/m);
  assert.match(metrics, /^ipsolis_operator_queue_depth \d+$/m);
  assert.match(metrics, /^ipsolis_operator_leader 1$/m);
  assert.match(metrics, /^# TYPE ipsolis_operator_queue_retries_total counter$/m);
});

test("a failing critical step fails the order with the step's error; retries counted; non-critical skipped past", async (t) => {
  const { ns } = await setup(t);
  await create(
    ns,
    "runbooks",
    runbook("vpn-grant", [
      bashStep("notify", "echo 'smtp down' >&2; exit 3", { critical: false }),
      bashStep("grant", "echo 'group VPN-Users not found' >&2; exit 2", { retries: 2, retryDelaySeconds: 0 }),
      bashStep("after", "echo never"),
    ]),
  );
  await create(ns, "assettypes", assetType("vpn"));
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  const o = await waitOrder(ns, "o1", phaseIs("Failed"), RUN_MS);
  const ready = condition(o, "Ready");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "Failed");
  assert.match(ready?.message ?? "", /^step grant failed: .*/);
  assert.equal(condition(o, "JobReady")?.reason, "JobFailed");
  const steps = new Map(o.status?.steps?.map((s) => [s.name, s]));
  assert.equal(steps.get("notify")?.state, "Failed");
  assert.equal(steps.get("grant")?.state, "Failed");
  assert.equal(steps.get("grant")?.attempts, 3, "1 + 2 retries");
  assert.equal(steps.get("grant")?.exitCode, 2);
  assert.equal(steps.get("after")?.state, "Skipped");
  const warn = await eventually("warning", async () =>
    (await eventsFor(ns, "o1")).find((e) => e.type === "Warning" && e.reason === "Failed"),
  );
  assert.match(warn.note ?? "", /Processing → Failed: step grant failed/);
});

test("a step over its timeout is killed and the order fails saying so", async (t) => {
  const { ns } = await setup(t);
  await simpleCatalog(ns, "vpn", [bashStep("slow", "sleep 30", { timeoutSeconds: 1 })]);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  const o = await waitOrder(ns, "o1", phaseIs("Failed"), RUN_MS);
  const slow = o.status?.steps?.find((s) => s.name === "slow");
  assert.equal(slow?.state, "Failed");
  assert.match(`${slow?.message ?? ""} ${condition(o, "Ready")?.message ?? ""}`, /time/i);
});

test("Deprovision runs the deprovision runbook; both orders end Revoked, Ready flips in the same write", async (t) => {
  const { ns, versions } = await setup(t);
  await simpleCatalog(ns);
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Provisioned"), RUN_MS);
  await create(
    ns,
    "orders",
    order("o1-deprovision", { assetType: "vpn", action: "Deprovision", target: "o1" }),
  );
  const d = await waitOrder(ns, "o1-deprovision", phaseIs("Revoked"), RUN_MS);
  assert.ok(d.status?.revokedAt);
  assert.deepEqual(
    d.status?.steps?.map((s) => [s.name, s.state]),
    [["revoke", "Succeeded"]],
  );
  const [job] = await jobsOf(ns, "o1-deprovision");
  assert.equal(job?.metadata?.labels?.["ipsolis.io/runbook"], "vpn-revoke");
  const target = await waitOrder(ns, "o1", phaseIs("Revoked"), RUN_MS);
  assert.ok(target.status?.revokedAt);
  assert.equal(condition(target, "Ready")?.status, "False");
  assert.equal(condition(target, "Ready")?.reason, "Revoked");
  assert.equal(condition(target, "Deprovisioning")?.reason, "DeprovisionSucceeded");
  // The first version in Revoked already says Ready=False (no stale Ready=True in between).
  const firstRevoked = versions.find((v) => v.metadata?.name === "o1" && v.status?.phase === "Revoked");
  assert.equal(condition(firstRevoked!, "Ready")?.status, "False");
});

test("per-asset lock: the second order waits with AssetBusy, then runs once the first is done", async (t) => {
  const { ns } = await setup(t);
  await simpleCatalog(ns, "vpn", [bashStep("grant", "sleep 2")]);
  await create(ns, "orders", order("first", { assetType: "vpn" }));
  await waitOrder(ns, "first", phaseIs("Processing"));
  await create(ns, "orders", order("second", { assetType: "vpn" }));
  const waiting = await waitOrder(ns, "second", (o) => condition(o, "AssetLocked")?.reason === "AssetBusy");
  assert.equal(waiting.status?.phase, "Scheduled");
  const second = await waitOrder(ns, "second", phaseIs("Provisioned"), RUN_MS);
  const first = await waitOrder(ns, "first", phaseIs("Provisioned"));
  assert.equal(condition(second, "AssetLocked")?.status, "False");
  // Never two runs at once: the second started after the first finished.
  const firstEnd = Date.parse(first.status?.steps?.[0]?.finishedAt ?? "");
  const secondStart = Date.parse(second.status?.steps?.[0]?.startedAt ?? "");
  assert.ok(secondStart >= firstEnd, `second started ${secondStart - firstEnd} ms after the first ended`);
});

test("pooled asset: a full pool makes the next order wait; a revoke returns the slot", async (t) => {
  const { ns } = await setup(t);
  await create(ns, "runbooks", runbook("seat-grant", [bashStep("grant", "true")]));
  await create(ns, "runbooks", runbook("seat-revoke", [bashStep("revoke", "true")]));
  await create(
    ns,
    "assettypes",
    assetType("seat", {
      assignment: { model: "CapacityPooled", capacity: 1, maxPerUser: 1 },
      runbooks: { provision: "seat-grant", deprovision: "seat-revoke" },
    }),
  );
  await create(ns, "orders", order("a", { assetType: "seat" }));
  const a = await waitOrder(ns, "a", phaseIs("Provisioned"), RUN_MS);
  assert.equal(a.status?.asset?.id, "seat-slot-0");
  const slot = (await api().objects.getNamespacedCustomObject({
    group: "ipsolis.io",
    version: "v1alpha1",
    namespace: ns,
    plural: "assets",
    name: "seat-slot-0",
  })) as { spec: { order: string } };
  assert.equal(slot.spec.order, "a");

  const bob = { id: "bob", email: "bob@example.com" };
  await create(ns, "orders", order("b", { assetType: "seat", requester: bob }));
  const b = await waitOrder(ns, "b", (o) => condition(o, "AssetAllocated")?.reason === "PoolExhausted");
  assert.equal(b.status?.phase, "Scheduled");

  // maxPerUser: the holder of the only slot cannot take a second one.
  await create(ns, "orders", order("a2", { assetType: "seat" }));
  const a2 = await waitOrder(ns, "a2", phaseIs("Failed"));
  assert.equal(condition(a2, "AssetAllocated")?.reason, "MaxPerUserReached");

  await create(
    ns,
    "orders",
    order("a-deprovision", { assetType: "seat", action: "Deprovision", target: "a" }),
  );
  await waitOrder(ns, "a", phaseIs("Revoked"), RUN_MS);
  const got = await waitOrder(ns, "b", phaseIs("Provisioned"), RUN_MS);
  assert.equal(got.status?.asset?.id, "seat-slot-0");
});

test("operator killed mid-Processing (SIGKILL): the next one adopts the Job (no second Job) and completes", async (t) => {
  const ns = await newNamespace(t);
  await simpleCatalog(ns, "vpn", [bashStep("grant", "sleep 3")]);
  // The first operator is a real process, killed without any chance to clean up (leader Lease
  // and asset lock stay behind, as after a node failure).
  const child = spawn(process.execPath, [join(import.meta.dirname, "..", "..", "operator", "main.ts")], {
    env: {
      ...process.env,
      KUBECONFIG: testEnv().kubeconfig,
      IPSOLIS_NAMESPACE: ns,
      IPSOLIS_OPERATOR_PORT: "0",
      IPSOLIS_OPERATOR_HOST: "127.0.0.1",
      IPSOLIS_OPERATOR_ID: "doomed",
      IPSOLIS_LEADER_LEASE_SECONDS: "3",
      IPSOLIS_LEADER_RENEW_MS: "300",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  t.after(() => void child.kill("SIGKILL"));
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("Processing"));
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  // The Job runs on while no operator is there.
  const node = await startLocalNode({
    kubeconfig: testEnv().kubeconfig,
    namespace: ns,
    log: () => undefined,
  });
  t.after(() => node.stop());
  await eventually(
    "job finished without an operator",
    async () => {
      const [j] = await jobsOf(ns, "o1");
      return j?.status?.succeeded ? true : undefined;
    },
    RUN_MS,
  );
  const next = await runOperator(t, ns, { IPSOLIS_LEADER_LEASE_SECONDS: 3 });
  const o = await waitOrder(ns, "o1", phaseIs("Provisioned"), RUN_MS);
  assert.ok(next.isLeader(), "took over the killed leader's expired Lease");
  assert.equal(o.status?.attempt, 1);
  assert.deepEqual(
    (await jobsOf(ns, "o1")).map((j) => j.metadata?.name),
    ["o1-1"],
  );
});

test("Modify runs the modify runbook on the target's asset and ends Provisioned; the target stays", async (t) => {
  const { ns } = await setup(t);
  await create(ns, "runbooks", runbook("mbx-grant", [bashStep("grant", "true")]));
  await create(
    ns,
    "runbooks",
    runbook("mbx-resize", [
      bashStep("resize", 'echo "quota=$QUOTA"', { parameters: [{ name: "QUOTA", value: "50GB" }] }),
    ]),
  );
  await create(
    ns,
    "assettypes",
    assetType("mbx", { runbooks: { provision: "mbx-grant", modify: "mbx-resize" } }),
  );
  await create(ns, "orders", order("m1", { assetType: "mbx" }));
  await waitOrder(ns, "m1", phaseIs("Provisioned"), RUN_MS);
  await create(ns, "orders", order("m1-resize", { assetType: "mbx", action: "Modify", target: "m1" }));
  const m = await waitOrder(ns, "m1-resize", phaseIs("Provisioned"), RUN_MS);
  assert.match(condition(m, "Ready")?.message ?? "", /change to order m1 was delivered/);
  assert.deepEqual(
    m.status?.steps?.map((s) => [s.name, s.state]),
    [["resize", "Succeeded"]],
  );
  const [job] = await jobsOf(ns, "m1-resize");
  assert.equal(job?.metadata?.labels?.["ipsolis.io/runbook"], "mbx-resize");
  const target = await waitOrder(ns, "m1", phaseIs("Provisioned"));
  assert.equal(condition(target, "Ready")?.status, "True");
});
