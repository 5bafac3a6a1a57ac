// What an admin sees with kubectl: short names, the ipsolis category, printer columns, and
// `kubectl explain` showing the schema descriptions.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { testEnv } from "../support/env.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { create, validAssetType, validOrder, validRunbook, updateStatus } from "./fixtures.ts";
import type { Order } from "../../crds/generated/index.ts";

const run = promisify(execFile);

async function kubectl(...args: string[]): Promise<string> {
  const env = testEnv();
  const { stdout } = await run(join(env.binDir, "kubectl"), ["--kubeconfig", env.kubeconfig, ...args]);
  return stdout;
}

before(async () => {
  await applyCrds();
});

test("discovery lists short names and the ipsolis category for every kind", async () => {
  const list = await testKubeConfig()
    .makeApiClient(k8s.CustomObjectsApi)
    .getAPIResources({ group: "ipsolis.io", version: "v1alpha1" });
  const byName = new Map(list.resources.map((r) => [r.name, r]));
  for (const [plural, short] of [
    ["assettypes", "at"],
    ["runbooks", "rb"],
    ["orders", "ord"],
    ["assets", "ast"],
  ] as const) {
    const r = byName.get(plural);
    assert.ok(r, `${plural} served`);
    assert.deepEqual(r.shortNames, [short]);
    assert.deepEqual(r.categories, ["ipsolis"]);
    assert.equal(r.namespaced, true);
    assert.ok(byName.has(`${plural}/status`), `${plural} has a status subresource`);
  }
});

test("kubectl get shows the printer columns, by short name and by category", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "assettypes", validAssetType());
  await create(ns, "runbooks", validRunbook());
  await create(ns, "orders", validOrder());
  await updateStatus<Order>(ns, "orders", "o1", (o) => (o.status = { phase: "Scheduled" }));

  const orders = await kubectl("get", "ord", "-n", ns);
  const [header, row] = orders.trim().split("\n");
  assert.match(header ?? "", /^NAME\s+PHASE\s+ASSET TYPE\s+ACTION\s+REQUESTER\s+READY\s+AGE$/);
  assert.match(row ?? "", /^o1\s+Scheduled\s+m365-e3\s+Provision\s+jdoe\s+\d+s$/);
  assert.match(await kubectl("get", "ord", "-n", ns, "-o", "wide"), /JOB\s+TARGET/);

  const types = await kubectl("get", "at", "-n", ns);
  assert.match(types, /DISPLAY NAME\s+CATEGORY\s+MODEL\s+APPROVAL\s+PER MONTH\s+CURRENCY/);
  assert.match(types, /m365-e3\s+Microsoft 365 E3\s+Licences\s+CapacityPooled\s+Approvers\s+33\.60\s+EUR/);

  assert.match(
    await kubectl("get", "rb", "-n", ns),
    /ad-group-add\s+registry\.example\.com\/ipsolis\/runner:1\.0\s+0 2 \* \* \*/,
  );

  const all = await kubectl("get", "ipsolis", "-n", ns, "-o", "name");
  assert.deepEqual(all.trim().split("\n").sort(), [
    "assettype.ipsolis.io/m365-e3",
    "order.ipsolis.io/o1",
    "runbook.ipsolis.io/ad-group-add",
  ]);
});

test("kubectl explain shows the field descriptions", async () => {
  assert.match(
    await kubectl("explain", "order.spec.requester"),
    /The employee the asset is for\. Immutable\./,
  );
  assert.match(await kubectl("explain", "order.spec.requester.id"), /Employee id \(the SCIM userName\)/);
  assert.match(
    await kubectl("explain", "runbook.spec.steps.timeoutSeconds"),
    /the whole process tree is killed/,
  );
  assert.match(await kubectl("explain", "assettype.spec.cost.currency"), /ISO 4217 currency code/);
});
