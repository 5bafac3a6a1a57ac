// Deleting an asset type that orders still use (#19): refused with 409 naming how many, unless a
// superadmin forces it, which the audit records. Real API server and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, signInAs } from "../api/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";

before(async () => {
  await applyCrds();
});

test("an asset type in use is deleted only when a superadmin forces it, audited", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  const ada = await signInAs(api, "ada");
  const root = await signInAs(api, "root");
  const put = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: { spec: assetTypeSpec({ attributes: [] }) },
  });
  assert.equal(put.statusCode, 201, put.body);
  for (const id of ["tom", "una"]) {
    const r = await api.app.inject({
      method: "POST",
      url: "/orders",
      headers: ada.headers,
      payload: { assetType: "vpn", requester: { id, email: `${id}@example.com` } },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  const refused = await api.app.inject({ method: "DELETE", url: "/assettypes/vpn", headers: ada.headers });
  assert.equal(refused.statusCode, 409, refused.body);
  assert.match(refused.json<{ error: string }>().error, /referenced by 2 open or provisioned orders/);
  assert.equal(refused.json<{ inUse: number }>().inUse, 2);
  const adminForce = await api.app.inject({
    method: "DELETE",
    url: "/assettypes/vpn?force=true",
    headers: ada.headers,
  });
  assert.equal(adminForce.statusCode, 409);
  assert.match(adminForce.json<{ error: string }>().error, /only a superadmin may force/);
  const still = await api.app.inject({ method: "GET", url: "/assettypes/vpn", headers: ada.headers });
  assert.equal(still.statusCode, 200);

  const forced = await api.app.inject({
    method: "DELETE",
    url: "/assettypes/vpn?force=true",
    headers: root.headers,
  });
  assert.equal(forced.statusCode, 204, forced.body);
  const rows = await api.db.query<{ actor: string; data: Record<string, unknown> }>(
    "SELECT actor, data FROM audit_events WHERE action = 'asset_type_deleted'",
  );
  assert.equal(rows.rows.length, 1);
  assert.equal(rows.rows[0]!.data.forced, true);
  assert.equal(rows.rows[0]!.data.ordersInUse, 2);
});
