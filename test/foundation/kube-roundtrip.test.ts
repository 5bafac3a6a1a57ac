// Foundation acceptance: a CustomResourceDefinition on the real API server, an object
// round-tripped between client-node's generated API and the product's own kernel
// (operator/kube: the keep-alive REST client's server-side apply and the informer's watch), and
// the API server's own refusal of an object that breaks the schema.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { APPLY_PATCH, makeRest, type Rest } from "../../operator/kube/rest.ts";
import { makeInformer } from "../../operator/kube/informer.ts";
import { createLogger } from "../../record/log.ts";
import { testKubeConfig, newNamespace, eventually } from "../support/kube.ts";

const group = `f${randomBytes(3).toString("hex")}.test.ipsolis.io`;
const plural = "widgets";

type Widget = k8s.KubernetesObject & { spec?: { size: number; colour?: string } };
let rest: Rest;
const widgets = (ns: string) => `/apis/${group}/v1/namespaces/${ns}/${plural}`;
const apply = (ns: string, name: string, spec: Widget["spec"]) =>
  rest.call<Widget>({
    method: "PATCH",
    path: `${widgets(ns)}/${name}`,
    query: { fieldManager: "ipsolis-test", force: "true" },
    contentType: APPLY_PATCH,
    body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name, namespace: ns }, spec },
  });

before(async () => {
  rest = await makeRest(testKubeConfig(), "ipsolis-test");
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
});
after(() => rest.close());

test("client-node creates and reads a custom object; the kernel applies server-side and its informer sees the change", async (t) => {
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
  const informer = makeInformer<Widget>({
    kc: testKubeConfig(),
    rest,
    path: widgets(ns),
    namespace: ns,
    log: createLogger({ name: "roundtrip", level: "warn" }),
    onChange: (obj, change) => {
      seen.push(`${change}:${obj.metadata?.name}:${obj.spec?.size}:${obj.spec?.colour ?? ""}`);
    },
  });
  await informer.start();
  t.after(() => informer.stop());
  await eventually("informer synced", async () => (informer.synced ? true : undefined));
  assert.equal(informer.get("a")?.spec?.size, 2, "the informer lists what client-node created");

  const applied = await apply(ns, "b", { size: 3, colour: "red" });
  assert.equal(applied.spec?.colour, "red");
  assert.ok(
    applied.metadata?.managedFields?.some((f) => f.operation === "Apply"),
    "server-side apply records an Apply field manager",
  );
  await eventually("watch event for b", async () => (seen.includes(`add:b:3:red`) ? true : undefined));

  // The kernel reads back what client-node wrote, and client-node what the kernel applied.
  const viaRest = await rest.call<Widget>({ method: "GET", path: `${widgets(ns)}/a` });
  assert.equal(viaRest.spec?.size, 2);
  const viaClient = (await objs.getNamespacedCustomObject({
    group,
    version: "v1",
    namespace: ns,
    plural,
    name: "b",
  })) as Widget;
  assert.equal(viaClient.spec?.colour, "red");

  // A second apply that changes a field arrives as an update, and the cache holds it.
  await apply(ns, "b", { size: 4, colour: "red" });
  await eventually("watch update for b", async () => (seen.includes(`update:b:4:red`) ? true : undefined));
  assert.equal(informer.get("b")?.spec?.size, 4);
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

  // The same refusal through the kernel's server-side apply, as client-node's ApiException.
  const restErr = await apply(ns, "bad2", { size: -1 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(restErr instanceof k8s.ApiException, "the kernel's apply must fail with an ApiException");
  assert.equal(restErr.code, 422);
  assert.match(String(restErr.body), /should be greater than or equal to 1/);
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
});
