// Contract test between the operator's Job (operator/order/job.ts buildJob) and the runner:
// the Job the operator would create, run on the local node, with Kerberos from a keytab
// Secret, a script from a ConfigMap and a secret parameter. Catches either side drifting
// from operator/runner/README.md.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Order } from "../../crds/generated/index.ts";
import { buildJob } from "../../operator/order/job.ts";
import type { Runbook } from "../../operator/order/model.ts";
import { applyCrds } from "../support/crds.ts";
import { startKdc, type Kdc } from "../support/kdc.ts";
import { jobCondition, setupLocalNode } from "../localnode/testing.ts";
import { create } from "../crds/fixtures.ts";

let kdc: Kdc;
before(async () => {
  await applyCrds();
  kdc = await startKdc();
});
after(() => kdc.stop());

test("the operator's Job runs on the local node: kinit, ConfigMap script, secret parameter, summary", async (t) => {
  const { ns, core, batch } = await setupLocalNode(t);
  const principal = await kdc.addPrincipal("svc-contract");
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: "svc-keytab" },
      data: { keytab: (await kdc.keytab(principal)).toString("base64") },
      stringData: { "krb5.conf": kdc.krb5Conf },
    },
  });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: "api" }, stringData: { key: "k-123" } },
  });
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: {
      metadata: { name: "scripts" },
      data: {
        "check.sh":
          'klist | grep -qxF "Default principal: $PRINCIPAL"\necho "ticket ok for $IPSOLIS_REQUESTER_ID"\n',
      },
    },
  });
  const order = await create<Order>(ns, "orders", {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name: "o1" },
    spec: {
      assetType: "vpn-access",
      requester: { id: "jdoe", email: "jdoe@example.com" },
      attributes: { a: "b" },
    },
  });
  const runbook: Runbook = {
    metadata: { name: "contract" },
    spec: {
      image: "registry.example.com/ipsolis/runner:1.0",
      kerberos: { secretName: "svc-keytab", principal, keytabKey: "keytab", krb5ConfKey: "krb5.conf" },
      steps: [
        {
          name: "check-ticket",
          shell: "bash",
          scriptFrom: { configMapKeyRef: { name: "scripts", key: "check.sh" } },
          parameters: [{ name: "PRINCIPAL", value: principal }],
        },
        {
          name: "secret-param",
          shell: "bash",
          script: '[ "$API_KEY" = "k-123" ] && [ "$IPSOLIS_ATTR_a" = "b" ]',
          parameters: [{ name: "API_KEY", valueFrom: { secretKeyRef: { name: "api", key: "key" } } }],
        },
      ],
    },
  };
  const job = buildJob({
    order: { ...order, metadata: { name: "o1", namespace: ns, uid: order.metadata?.uid ?? "" } },
    runbook,
    attempt: 1,
    jobName: "o1-1",
    config: { namespace: ns },
  });
  await batch.createNamespacedJob({ namespace: ns, body: job });
  await jobCondition(batch, ns, "o1-1", "Complete");
  const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=o1-1" })).items[0];
  const summary = JSON.parse(pod?.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "{}") as {
    steps: { name: string; state: string; attempts: number }[];
  };
  assert.deepEqual(
    summary.steps.map((s) => [s.name, s.state, s.attempts]),
    [
      ["check-ticket", "Succeeded", 1],
      ["secret-param", "Succeeded", 1],
    ],
  );
});
