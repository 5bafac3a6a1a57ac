// Revoking an asset whose type has no deprovision runbook (#19): the API says so with 409 and
// creates nothing, as crds/assettypes.yaml documents. Real API server and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, setOrderPhase, signInAs } from "../api/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";

before(async () => {
  await applyCrds();
});

test("revoke of an asset whose type has no deprovision runbook: 409, no Deprovision order", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  const put = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: { spec: assetTypeSpec({ attributes: [], runbooks: { provision: "vpn-grant" } }) },
  });
  assert.equal(put.statusCode, 201, put.body);
  const made = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "vpn", requester: { id: "tom", email: "tom@example.com" } },
  });
  assert.equal(made.statusCode, 201, made.body);
  const name = made.json<{ name: string }>().name;
  await setOrderPhase(api, name, "Scheduled", "Processing", "Provisioned");
  const r = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(r.statusCode, 409, r.body);
  assert.equal(r.json<{ reason: string }>().reason, "NoDeprovisionRunbook");
  assert.match(r.json<{ error: string }>().error, /has no deprovision runbook/);
  const list = await api.app.inject({ method: "GET", url: "/orders", headers: ada.headers });
  assert.equal(list.json<{ items: unknown[] }>().items.length, 1, "no Deprovision order was created");
});
