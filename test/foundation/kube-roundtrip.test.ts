// Foundation acceptance: a CustomResourceDefinition on the real API server, an object
// round-tripped with both Kubernetes clients (server-side apply and a watch event included),
// and the API server's own refusal of an object that breaks the schema.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { K8s, RegisterKind, GenericKind, kind } from "kubernetes-fluent-client";
import { testEnv } from "../support/env.ts";
import { testKubeConfig, newNamespace, eventually } from "../support/kube.ts";

const group = `f${randomBytes(3).toString("hex")}.test.ipsolis.io`;
const plural = "widgets";

class Widget extends GenericKind {
  declare spec?: { size: number; colour?: string };
}

before(async () => {
  // kubernetes-fluent-client reads the kubeconfig from the environment, like kubectl.
  process.env.KUBECONFIG = testEnv().kubeconfig;
  const ext = testKubeConfig().makeApiClient(k8s.ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        scope: "Namespaced",
        names: { plural, singular: "widget", kind: "Widget" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    required: ["size"],
                    properties: { size: { type: "integer", minimum: 1 }, colour: { type: "string" } },
                  },
                },
              },
            },
          },
        ],
      },
    },
  });
  await eventually("CRD Established", async () => {
    const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
      ? true
      : undefined;
  });
  RegisterKind(Widget, { group, version: "v1", kind: "Widget", plural });
});

test("client-node creates and reads a custom object; kfc applies server-side and sees the watch event", async (t) => {
  const ns = await newNamespace(t);
  const objs = testKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  await objs.createNamespacedCustomObject({
    group,
    version: "v1",
    namespace: ns,
    plural,
    body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "a" }, spec: { size: 2 } },
  });
  const read = (await objs.getNamespacedCustomObject({
    group,
    version: "v1",
    namespace: ns,
    plural,
    name: "a",
  })) as Widget;
  assert.equal(read.spec?.size, 2);

  const seen: string[] = [];
  const watcher = K8s(Widget, { namespace: ns }).Watch((obj, phase) => {
    seen.push(`${phase}:${obj.metadata?.name}:${obj.spec?.size}:${obj.spec?.colour ?? ""}`);
  });
  await watcher.start();
  t.after(() => watcher.close());

  const applied = await K8s(Widget).Apply(
    {
      apiVersion: `${group}/v1`,
      kind: "Widget",
      metadata: { name: "b", namespace: ns },
      spec: { size: 3, colour: "red" },
    },
    { force: true },
  );
  assert.equal(applied.spec?.colour, "red");
  assert.ok(
    applied.metadata?.managedFields?.some((f) => f.operation === "Apply"),
    "server-side apply records an Apply field manager",
  );
  await eventually("watch event for b", async () => (seen.includes(`ADDED:b:3:red`) ? true : undefined));

  // kfc reads back what client-node wrote, and client-node what kfc applied.
  const viaKfc = await K8s(Widget, { namespace: ns }).Get("a");
  assert.equal(viaKfc.spec?.size, 2);
  const viaClient = (await objs.getNamespacedCustomObject({
    group,
    version: "v1",
    namespace: ns,
    plural,
    name: "b",
  })) as Widget;
  assert.equal(viaClient.spec?.colour, "red");

  // A second apply that changes a field arrives as a MODIFIED event.
  await K8s(Widget).Apply(
    {
      apiVersion: `${group}/v1`,
      kind: "Widget",
      metadata: { name: "b", namespace: ns },
      spec: { size: 4, colour: "red" },
    },
    { force: true },
  );
  await eventually("watch MODIFIED for b", async () =>
    seen.includes(`MODIFIED:b:4:red`) ? true : undefined,
  );
});

test("the API server refuses an object that violates the CRD schema, saying why", async (t) => {
  const ns = await newNamespace(t);
  const objs = testKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const err = await objs
    .createNamespacedCustomObject({
      group,
      version: "v1",
      namespace: ns,
      plural,
      body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "bad" }, spec: { size: 0 } },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof k8s.ApiException, "expected an ApiException");
  assert.equal(err.code, 422);
  assert.match(
    String(err.body),
    /spec\.size: Invalid value: 0: spec\.size in body should be greater than or equal to 1/,
  );

  // The same refusal through kubernetes-fluent-client.
  const kfcErr = await K8s(Widget)
    .Apply({
      apiVersion: `${group}/v1`,
      kind: "Widget",
      metadata: { name: "bad2", namespace: ns },
      spec: { size: -1 },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(kfcErr, "kfc apply must fail");
  assert.match(JSON.stringify(kfcErr), /should be greater than or equal to 1/);
});

test("the controller-manager runs: a Job gets its Pod from the real Job controller", async (t) => {
  const ns = await newNamespace(t);
  const kc = testKubeConfig();
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await eventually(
    "default ServiceAccount",
    async () =>
      await core.readNamespacedServiceAccount({ name: "default", namespace: ns }).then(
        () => true,
        () => undefined,
      ),
  );
  await batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name: "j" },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } },
      },
    },
  });
  const pod = await eventually("pod of job j", async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=j" });
    return pods.items[0];
  });
  // No scheduler and no kubelet: it stays Pending until a (local) node runs it.
  assert.equal(pod.status?.phase, "Pending");
  void kind;
});
