// Approvals cannot be skipped through the status subresource (#15 item 1), and a deleted Order
// gives back what it held (#15 item 21). Real API server, controller-manager (garbage
// collector), operator and local node.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { Order } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import {
  api,
  assetType,
  bashStep,
  create,
  get,
  jobsOf,
  order,
  patchSpec,
  phaseIs,
  runbook,
  runOperator,
  waitOrder,
} from "../operator/support.ts";

before(async () => {
  await applyCrds();
});

const manifest = join(import.meta.dirname, "../../manifests/admission/order-status.yaml");

async function kubeConfigAs(namespace: string, sa: string): Promise<k8s.KubeConfig> {
  const admin = testKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: sa, token: tr.status!.token }],
    contexts: [{ name: "c", cluster: "c", user: sa, namespace }],
    currentContext: "c",
  });
  return kc;
}

async function serviceAccountWithRole(ns: string, name: string, rules: k8s.V1PolicyRule[]) {
  const admin = testKubeConfig();
  await admin
    .makeApiClient(k8s.CoreV1Api)
    .createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    },
  });
}

async function setPhaseAs(kc: k8s.KubeConfig, ns: string, name: string, phase: string, dryRun?: string) {
  const objs = kc.makeApiClient(k8s.CustomObjectsApi);
  const key = { group: "ipsolis.io", version: "v1alpha1", namespace: ns, plural: "orders", name };
  const o = (await testKubeConfig()
    .makeApiClient(k8s.CustomObjectsApi)
    .getNamespacedCustomObject(key)) as Order;
  return objs
    .replaceNamespacedCustomObjectStatus({
      ...key,
      body: { ...o, status: { ...(o.status ?? {}), phase } },
      ...(dryRun ? { dryRun } : {}),
    })
    .then(
      () => "allowed",
      (e: unknown) => (e instanceof k8s.ApiException ? `${e.code} ${String(e.body)}` : String(e)),
    );
}

test("only the operator's ServiceAccount writes orders/status: a workload with RBAC on it is refused", async (t) => {
  const ns = await newNamespace(t, "sts");
  const admin = testKubeConfig();
  const docs = k8s.loadAllYaml(await readFile(manifest, "utf8")) as k8s.KubernetesObject[];
  const policy = docs.find((d) => d.kind === "ValidatingAdmissionPolicy")!;
  const binding = docs.find(
    (d) => d.kind === "ValidatingAdmissionPolicyBinding",
  ) as k8s.V1ValidatingAdmissionPolicyBinding;
  await k8s.KubernetesObjectApi.makeApiClient(admin).patch(
    policy,
    undefined,
    undefined,
    "ipsolis-test",
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  // Bound to this namespace only: the test cluster is shared.
  const reg = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  const name = `ipsolis-order-status-${ns}`;
  await reg.createValidatingAdmissionPolicyBinding({
    body: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name },
      spec: {
        ...binding.spec,
        matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } },
      },
    },
  });
  t.after(async () => {
    await reg.deleteValidatingAdmissionPolicyBinding({ name });
  });
  const rules = [
    {
      apiGroups: ["ipsolis.io"],
      resources: ["orders", "orders/status"],
      verbs: ["get", "list", "update", "patch"],
    },
  ];
  await serviceAccountWithRole(ns, "mallory", rules);
  await serviceAccountWithRole(ns, "ipsolis-operator", rules);

  await create(
    ns,
    "assettypes",
    assetType("vpn", { approval: { policy: "Approvers", approvers: ["bert"] } }),
  );
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  const mallory = await kubeConfigAs(ns, "mallory");
  const refusal = await eventually("the policy refuses mallory", async () => {
    const r = await setPhaseAs(mallory, ns, "o1", "PendingApproval", "All");
    return r === "allowed" ? undefined : r;
  });
  assert.match(refusal, /^403 /);
  assert.match(refusal, /ValidatingAdmissionPolicy 'ipsolis-order-status'/);
  assert.ok(refusal.includes(`can be written only by system:serviceaccount:${ns}:ipsolis-operator`), refusal);
  assert.match(await setPhaseAs(mallory, ns, "o1", "PendingApproval"), /^403 /);
  assert.match(await setPhaseAs(admin, ns, "o1", "PendingApproval"), /^403 /, "the cluster admin too");
  // The operator's ServiceAccount may.
  assert.equal(
    await setPhaseAs(await kubeConfigAs(ns, "ipsolis-operator"), ns, "o1", "PendingApproval"),
    "allowed",
  );
  // A plain spec edit is not judged by this policy.
  await patchSpec(ns, "orders", "o1", { reason: "edited" });
  assert.equal((await get<Order>(ns, "orders", "o1")).status?.phase, "PendingApproval");
});

test("the operator re-checks approvals: a Scheduled written by someone else never runs, a declined order never runs", async (t) => {
  const ns = await newNamespace(t, "rck");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  await create(ns, "runbooks", runbook("vpn-grant", [bashStep("grant", "echo granted")]));
  await create(
    ns,
    "assettypes",
    assetType("vpn", { approval: { policy: "Approvers", approvers: ["bert"] } }),
  );
  await create(ns, "orders", order("o1", { assetType: "vpn" }));
  await waitOrder(ns, "o1", phaseIs("PendingApproval"));
  // Without the admission policy (not bound here), the cluster admin can write the phase.
  const admin = testKubeConfig();
  assert.equal(await setPhaseAs(admin, ns, "o1", "Scheduled"), "allowed");
  await waitOrder(ns, "o1", phaseIs("PendingApproval"));
  assert.deepEqual(await jobsOf(ns, "o1"), [], "no Job for an unapproved order");

  // Straight to Processing (two writes): if the second lands before the operator answers the
  // first, the order ends Failed without a run; otherwise it is back in PendingApproval (and
  // the CRD refused PendingApproval → Processing). Either way nothing runs.
  await create(ns, "orders", order("o2", { assetType: "vpn" }));
  await waitOrder(ns, "o2", phaseIs("PendingApproval"));
  await setPhaseAs(admin, ns, "o2", "Scheduled");
  const second = await setPhaseAs(admin, ns, "o2", "Processing");
  const o2 = await waitOrder(ns, "o2", (o) =>
    second === "allowed" ? o.status?.phase === "Failed" : o.status?.phase === "PendingApproval",
  );
  if (second === "allowed") assert.match(o2.status?.message ?? "", /not started/);
  else assert.match(second, /^(409|422) /, "refused: the phase or the version moved on");
  assert.deepEqual(await jobsOf(ns, "o2"), []);

  // A declined order moved from Failed to Scheduled ends Failed/Declined again.
  await create(
    ns,
    "orders",
    order("o3", {
      assetType: "vpn",
      approvals: [{ approver: "bert", decision: "Declined", at: new Date().toISOString() }],
    }),
  );
  await waitOrder(ns, "o3", phaseIs("Failed"));
  assert.equal(await setPhaseAs(admin, ns, "o3", "Scheduled"), "allowed");
  const o3 = await waitOrder(
    ns,
    "o3",
    (o) =>
      o.status?.phase === "Failed" && (o.metadata?.generation ?? 0) >= 1 && o.status.message !== undefined,
  );
  assert.equal(o3.status?.conditions?.find((c) => c.type === "Ready")?.reason, "Declined");
  assert.deepEqual(await jobsOf(ns, "o3"), []);
});

test("deleting an Order in any phase releases its pool slot and asset lock", async (t) => {
  const ns = await newNamespace(t, "del");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  // Slow provision (so Processing can be caught), fast revoke; a pool of one.
  await create(
    ns,
    "runbooks",
    runbook("pool-grant", [
      bashStep(
        "grant",
        'if [ "${IPSOLIS_ATTR_speed:-}" = slow ]; then sleep 60; fi; if [ "${IPSOLIS_ATTR_speed:-}" = fail ]; then exit 3; fi; echo ok',
      ),
    ]),
  );
  await create(ns, "runbooks", runbook("pool-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    ns,
    "assettypes",
    assetType("pool", {
      assignment: { model: "CapacityPooled", capacity: 1 },
      runbooks: { provision: "pool-grant", deprovision: "pool-revoke" },
      attributes: [{ name: "speed", type: "string" }],
    }),
  );
  const coord = api().coordination;
  const objs = api().objects;
  const assets = async () =>
    (
      (await objs.listNamespacedCustomObject({
        group: "ipsolis.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "assets",
      })) as { items: unknown[] }
    ).items.length;
  const leases = async () =>
    (await coord.listNamespacedLease({ namespace: ns, labelSelector: "ipsolis.io/lock=asset" })).items.length;
  const remove = (name: string) =>
    objs.deleteNamespacedCustomObject({
      group: "ipsolis.io",
      version: "v1alpha1",
      namespace: ns,
      plural: "orders",
      name,
    });
  const released = async (what: string) =>
    eventually(
      `${what}: slot and lock released`,
      async () => ((await assets()) === 0 && (await leases()) === 0 ? true : undefined),
      30_000,
    );

  // Processing: holds the slot and the lock.
  await create(ns, "orders", order("p1", { assetType: "pool", attributes: { speed: "slow" } }));
  await waitOrder(ns, "p1", phaseIs("Processing"), 30_000);
  assert.equal(await assets(), 1);
  await eventually("lock held", async () => ((await leases()) === 1 ? true : undefined));
  await remove("p1");
  await released("Processing");

  // Provisioned: holds the slot.
  await create(ns, "orders", order("p2", { assetType: "pool" }));
  await waitOrder(ns, "p2", phaseIs("Provisioned"), 60_000);
  assert.equal(await assets(), 1);
  await remove("p2");
  await released("Provisioned");

  // Failed, Scheduled (waiting for the pool), PendingApproval: nothing left behind either.
  await create(ns, "orders", order("p3", { assetType: "pool", attributes: { speed: "fail" } }));
  await waitOrder(ns, "p3", phaseIs("Failed"), 60_000);
  await remove("p3");
  await released("Failed");
  await create(ns, "orders", order("p4", { assetType: "pool", attributes: { speed: "slow" } }));
  await waitOrder(ns, "p4", phaseIs("Processing"), 30_000);
  await create(ns, "orders", order("p5", { assetType: "pool" }));
  await waitOrder(ns, "p5", phaseIs("Scheduled"));
  await remove("p5");
  await remove("p4");
  await released("Scheduled and Processing");

  // The pool is whole again: the next order gets the slot and is delivered.
  await create(ns, "orders", order("p6", { assetType: "pool" }));
  await waitOrder(ns, "p6", phaseIs("Provisioned"), 60_000);
});
