// The kubectl bypass attempt (issue #5): someone with RBAC update rights on Orders edits
// spec.approvals directly and is refused by the ValidatingAdmissionPolicy of
// manifests/admission/ with its message; even the cluster admin is; the API's own
// ServiceAccount (here: `ipsolis-api` in the test namespace) succeeds through the API.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { addAdmin, newApi, setOrderPhase, signInAs } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

const manifest = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../manifests/admission/order-approvals.yaml",
);

before(async () => {
  await applyCrds();
});

/** A KubeConfig that authenticates as a ServiceAccount, with a token from the TokenRequest API. */
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
    clusters: [
      {
        name: "c",
        server: cluster.server,
        caData: cluster.caData,
        caFile: cluster.caFile,
        skipTLSVerify: false,
      },
    ],
    users: [{ name: sa, token: tr.status!.token }],
    contexts: [{ name: "c", cluster: "c", user: sa, namespace }],
    currentContext: "c",
  });
  return kc;
}

async function serviceAccountWithRole(ns: string, name: string, rules: k8s.V1PolicyRule[]) {
  const admin = testKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
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

test("only the API's ServiceAccount writes spec.approvals: a kubectl edit is refused with the policy's message", async (t) => {
  const ns = await newNamespace(t, "adm");
  const admin = testKubeConfig();
  const objects = k8s.KubernetesObjectApi.makeApiClient(admin);

  // The policy from manifests/, and a binding limited to this test's namespace (the test
  // cluster is shared: a cluster-wide binding would judge other tests' Orders too).
  const docs = k8s.loadAllYaml(await readFile(manifest, "utf8")) as k8s.KubernetesObject[];
  const policy = docs.find((d) => d.kind === "ValidatingAdmissionPolicy")!;
  const binding = docs.find(
    (d) => d.kind === "ValidatingAdmissionPolicyBinding",
  ) as k8s.V1ValidatingAdmissionPolicyBinding;
  await objects.patch(policy, undefined, undefined, "ipsolis-test", true, k8s.PatchStrategy.ServerSideApply);
  const scoped: k8s.V1ValidatingAdmissionPolicyBinding = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: `ipsolis-order-approvals-${ns}` },
    spec: {
      ...binding.spec,
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } },
    },
  };
  const reg = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  await reg.createValidatingAdmissionPolicyBinding({ body: scoped });
  t.after(async () => {
    await reg.deleteValidatingAdmissionPolicyBinding({ name: scoped.metadata!.name! });
  });

  await serviceAccountWithRole(ns, "ipsolis-api", [
    {
      apiGroups: ["ipsolis.io"],
      resources: ["orders", "assettypes"],
      verbs: ["get", "list", "create", "patch", "update"],
    },
  ]);
  await serviceAccountWithRole(ns, "mallory", [
    { apiGroups: ["ipsolis.io"], resources: ["orders"], verbs: ["get", "list", "update", "patch"] },
  ]);

  // The world, made by the cluster admin: an asset type (bert approves) and a pending order.
  const api = await newApi(t, { namespace: ns });
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  const root = await signInAs(api, "root");
  assert.equal(
    (
      await api.app.inject({
        method: "PUT",
        url: "/assettypes/vpn",
        headers: root.headers,
        payload: { spec: assetTypeSpec({ approval: { policy: "Approvers", approvers: ["bert"] } }) },
      })
    ).statusCode,
    201,
  );
  const created = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: root.headers,
    payload: { assetType: "vpn", requester: { id: "emp", email: "emp@example.com" } },
  });
  assert.equal(created.statusCode, 201, created.body);
  const name = created.json<{ name: string }>().name;
  await setOrderPhase(api, name, "PendingApproval");

  const self = { approver: "bert", decision: "Approved", at: new Date().toISOString() };
  const patchAs = async (kc: k8s.KubeConfig, dryRun?: string) => {
    const client = k8s.KubernetesObjectApi.makeApiClient(kc);
    return client
      .patch(
        {
          apiVersion: "ipsolis.io/v1alpha1",
          kind: "Order",
          metadata: { name, namespace: ns },
          spec: { approvals: [self] },
        } as k8s.KubernetesObject,
        undefined,
        dryRun,
        "kubectl-edit",
        undefined,
        k8s.PatchStrategy.MergePatch,
      )
      .then(
        () => "allowed",
        (e: unknown) => (e instanceof k8s.ApiException ? `${e.code} ${String(e.body)}` : String(e)),
      );
  };

  const mallory = await kubeConfigAs(ns, "mallory");
  const apiUser = `system:serviceaccount:${ns}:ipsolis-api`;
  // Policies take effect asynchronously: probe with server-side dry runs (admission still runs).
  const refusal = await eventually("the policy refuses mallory", async () => {
    const r = await patchAs(mallory, "All");
    return r === "allowed" ? undefined : r;
  });
  assert.match(refusal, /^403 /);
  assert.match(refusal, /ValidatingAdmissionPolicy 'ipsolis-order-approvals'/);
  assert.ok(
    refusal.includes(`spec.approvals of an Order can be written only by ${apiUser}`),
    `the policy's message: ${refusal}`,
  );
  // For real, and as the cluster admin too.
  assert.match(await patchAs(mallory), /can be written only by/);
  assert.match(await patchAs(admin), /can be written only by/);

  // Mallory may still change other fields (the policy guards approvals only).
  const cancel = await k8s.KubernetesObjectApi.makeApiClient(mallory)
    .patch(
      {
        apiVersion: "ipsolis.io/v1alpha1",
        kind: "Order",
        metadata: { name, namespace: ns },
        spec: { reason: "edited" },
      } as k8s.KubernetesObject,
      undefined,
      undefined,
      "kubectl-edit",
      undefined,
      k8s.PatchStrategy.MergePatch,
    )
    .then(() => "allowed");
  assert.equal(cancel, "allowed");

  const still = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: root.headers });
  assert.deepEqual(still.json<{ approvals: unknown[] }>().approvals, []);

  // The API, running as its ServiceAccount, records bert's approval.
  const asApi = await newApi(t, { namespace: ns, kc: await kubeConfigAs(ns, "ipsolis-api") });
  await addAdmin(asApi, "bert", "approver", undefined, "bert@example.com");
  const bert = await signInAs(asApi, "bert");
  const ok = await asApi.app.inject({
    method: "POST",
    url: `/orders/${name}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(ok.statusCode, 200, ok.body);
  const order = (await objects.read({
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name, namespace: ns },
  })) as unknown as { spec: { approvals: { approver: string }[] } };
  assert.deepEqual(
    order.spec.approvals.map((a) => a.approver),
    ["bert"],
  );
});
