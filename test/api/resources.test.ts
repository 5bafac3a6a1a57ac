// The API's custom-resource client (api/plugins/resources.ts) on the real API server: lists
// walk every page, and create carries labels and annotations (the leaver fan-out and the
// ServiceNow webhook create their Orders through it, api/leaver/orders.ts).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { makeResources } from "../../api/plugins/resources.ts";
import { createOrder, listOrders } from "../../api/leaver/orders.ts";
import { assetTypeSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("list walks every page; create keeps labels and annotations; a second create of a name is an answer", async (t) => {
  const kc = testKubeConfig();
  const ns = await newNamespace(t, "res");
  const res = makeResources(kc, ns, { pageSize: 2 });
  const names = ["a", "b", "c", "d", "e"];
  for (const n of names) await res.create("AssetType", n, assetTypeSpec(), { "ipsolis.io/t": "x" });
  const all = await res.list("AssetType");
  assert.deepEqual(all.map((o) => o.metadata.name).sort(), names, "5 objects in pages of 2");
  assert.equal((await res.list("AssetType", "ipsolis.io/t=x")).length, 5);

  const order = {
    metadata: {
      name: "o1",
      labels: { "ipsolis.io/source": "test" },
      annotations: { "ipsolis.io/ritm": "R1" },
    },
    spec: { assetType: "a", action: "Provision" as const, requester: { id: "e", email: "e@example.com" } },
  };
  const first = await createOrder(kc, ns, order);
  assert.equal(first.created, true);
  const again = await createOrder(kc, ns, order);
  assert.equal(again.created, false);
  const got = again.created ? undefined : again.existing;
  assert.equal(got?.metadata?.labels?.["ipsolis.io/source"], "test");
  assert.equal(got?.metadata?.annotations?.["ipsolis.io/ritm"], "R1");
  assert.deepEqual(
    (await listOrders(kc, ns)).map((o) => o.metadata?.name),
    ["o1"],
  );
});
