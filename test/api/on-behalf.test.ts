// On-behalf orders (#15 item 3): staff order only for people the directory (SCIM) knows; who the
// requester is and who their manager is come from the directory, never from the body; the order
// records who placed it, and that person cannot approve it (also not through their token).
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, addPeople, newApi, setOrderPhase, signInAs, type Api } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

async function world(t: Parameters<typeof newApi>[0]) {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "ada", "admin", undefined, "ada.admin@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  // The directory: mia reports to boss.
  await addPeople(api, ["boss"]);
  await addPeople(api, ["mia"], "boss");
  const root = await signInAs(api, "root");
  for (const [name, approval] of [
    ["vpn", { policy: "Approvers", approvers: ["bert", "ada"], quorum: 1 }],
    ["laptop", { policy: "Manager" }],
  ] as const) {
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: root.headers,
      payload: { spec: assetTypeSpec({ approval }) },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  return { api, root, ada: await signInAs(api, "ada") };
}

const place = (api: Api, h: Record<string, string>, body: object) =>
  api.app.inject({ method: "POST", url: "/orders", headers: h, payload: body });

test("an on-behalf order for a person the directory does not know is refused with 422", async (t) => {
  const { api, ada } = await world(t);
  const r = await place(api, ada.headers, {
    assetType: "vpn",
    requester: { id: "ghost", email: "ghost@nowhere.example" },
  });
  assert.equal(r.statusCode, 422, r.body);
  assert.equal(r.json<{ reason: string }>().reason, "UnknownRequester");
  const list = await api.app.inject({ method: "GET", url: "/orders", headers: ada.headers });
  assert.equal(list.json<{ items: unknown[] }>().items.length, 0, "nothing was created");
});

test("the requester and their manager come from the directory; a manager in the body is ignored and recorded", async (t) => {
  const { api, ada } = await world(t);
  const r = await place(api, ada.headers, {
    assetType: "laptop",
    requester: {
      id: "anything",
      email: "MIA@example.com",
      displayName: "Not Mia",
      manager: "ada.admin@example.com",
    },
  });
  assert.equal(r.statusCode, 201, r.body);
  const o = r.json<{
    name: string;
    requester: { id: string; email: string; manager?: string; displayName?: string };
  }>();
  assert.equal(o.requester.id, "mia");
  assert.equal(o.requester.email, "mia@example.com");
  assert.equal(o.requester.manager, "boss@example.com");
  assert.equal(o.requester.displayName, "mia");
  const row = await api.db.query<{ actor: string; data: Record<string, unknown> }>(
    "SELECT actor, data FROM audit_events WHERE action = 'order_created' AND order_name = $1",
    [o.name],
  );
  assert.equal(row.rows[0]?.actor, "admin:ada");
  assert.equal(row.rows[0]?.data.managerFromBodyIgnored, "ada.admin@example.com");
  assert.equal(row.rows[0]?.data.onBehalf, true);
});

test("whoever placed an order on someone's behalf cannot approve it; another approver can", async (t) => {
  const { api, ada } = await world(t);
  const r = await place(api, ada.headers, {
    assetType: "vpn",
    requester: { id: "mia", email: "mia@example.com" },
  });
  assert.equal(r.statusCode, 201, r.body);
  const name = r.json<{ name: string }>().name;
  await setOrderPhase(api, name, "PendingApproval");
  const byAda = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approve`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(byAda.statusCode, 409, byAda.body);
  assert.equal(byAda.json<{ reason: string }>().reason, "SelfApproval");
  assert.match(byAda.body, /you placed this order/);
  const bert = await signInAs(api, "bert");
  const byBert = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(byBert.statusCode, 200, byBert.body);
});
