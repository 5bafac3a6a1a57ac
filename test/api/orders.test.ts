// Orders through the API on the real API server: employees order for themselves and see only
// their own; admins order on behalf; cancel only before Processing; revoke creates the
// deterministic Deprovision Order once; a blocked leaver cannot order.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, setOrderPhase, signInAs, signInAsEmployee } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

type OrderOut = {
  name: string;
  requester: { id: string; email: string };
  action: string;
  target?: string;
  cancelRequested: boolean;
};

async function setup(t: Parameters<typeof newApi>[0]) {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: { spec: assetTypeSpec() },
  });
  assert.equal(at.statusCode, 201, at.body);
  return { api, ada };
}

test("employees order for themselves and see only their own orders; admins order on behalf", async (t) => {
  const { api, ada } = await setup(t);
  const eve = await signInAsEmployee(api, "eve@example.com", "eve");
  const tom = await signInAsEmployee(api, "tom@example.com", "tom");

  const mine = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: eve.headers,
    payload: { assetType: "vpn", reason: "remote work", attributes: { mailboxSize: "50GB" } },
  });
  assert.equal(mine.statusCode, 201, mine.body);
  const o = mine.json<OrderOut>();
  assert.deepEqual(o.requester, { id: "eve", email: "eve@example.com", displayName: "eve" });
  // The CR was created by ipsolis-api.
  const objs = api.kc.makeApiClient(k8s.CustomObjectsApi);
  const cr = (await objs.getNamespacedCustomObject({
    group: "ipsolis.io",
    version: "v1alpha1",
    namespace: api.namespace,
    plural: "orders",
    name: o.name,
  })) as { metadata: { managedFields: { manager: string }[] } };
  assert.ok(cr.metadata.managedFields.some((f) => f.manager === "ipsolis-api"));

  const forOther = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: eve.headers,
    payload: { assetType: "vpn", requester: { id: "tom", email: "tom@example.com" } },
  });
  assert.equal(forOther.statusCode, 403);

  const onBehalf = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "vpn", requester: { id: "tom", email: "tom@example.com" } },
  });
  assert.equal(onBehalf.statusCode, 201, onBehalf.body);
  const noRequester = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "vpn" },
  });
  assert.equal(noRequester.statusCode, 400);
  const missingType = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: eve.headers,
    payload: { assetType: "nope" },
  });
  assert.equal(missingType.statusCode, 404);

  const eveList = await api.app.inject({ method: "GET", url: "/orders", headers: eve.headers });
  assert.deepEqual(
    eveList.json<{ items: OrderOut[] }>().items.map((i) => i.name),
    [o.name],
  );
  const tomSees = await api.app.inject({ method: "GET", url: `/orders/${o.name}`, headers: tom.headers });
  const missing = await api.app.inject({ method: "GET", url: `/orders/${o.name}x`, headers: tom.headers });
  assert.equal(tomSees.statusCode, 404);
  assert.equal(
    tomSees.body,
    missing.body.replace(`${o.name}x`, o.name),
    "someone else's order looks missing",
  );
  const all = await api.app.inject({ method: "GET", url: "/orders?requester=tom", headers: ada.headers });
  assert.equal(all.json<{ items: unknown[] }>().items.length, 1);

  const audit = await api.db.query<{ actor: string; source: string }>(
    "SELECT actor, source FROM audit_events WHERE action = 'order_created' ORDER BY id",
  );
  assert.deepEqual(audit.rows, [
    { actor: "user:eve@example.com", source: "portal" },
    { actor: "admin:ada", source: "api" },
  ]);
});

test("cancel only before Processing; revoke creates <name>-deprovision once", async (t) => {
  const { api, ada } = await setup(t);
  const order = async () => {
    const r = await api.app.inject({
      method: "POST",
      url: "/orders",
      headers: ada.headers,
      payload: { assetType: "vpn", requester: { id: "tom", email: "tom@example.com" } },
    });
    return r.json<OrderOut>().name;
  };
  const a = await order();
  await setOrderPhase(api, a, "PendingApproval");
  const c = await api.app.inject({
    method: "POST",
    url: `/orders/${a}/cancel`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(c.statusCode, 200, c.body);
  assert.equal(c.json<OrderOut>().cancelRequested, true);

  const b = await order();
  await setOrderPhase(api, b, "Scheduled", "Processing");
  const late = await api.app.inject({
    method: "POST",
    url: `/orders/${b}/cancel`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(late.statusCode, 409);
  assert.match(late.body, /only before Processing/);

  const notYet = await api.app.inject({
    method: "POST",
    url: `/orders/${b}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(notYet.statusCode, 409);
  await setOrderPhase(api, b, "Provisioned");
  const r1 = await api.app.inject({
    method: "POST",
    url: `/orders/${b}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(r1.statusCode, 201, r1.body);
  const d = r1.json<OrderOut>();
  assert.equal(d.name, `${b}-deprovision`);
  assert.equal(d.action, "Deprovision");
  assert.equal(d.target, b);
  const r2 = await api.app.inject({
    method: "POST",
    url: `/orders/${b}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(r2.statusCode, 200, "idempotent");
  assert.equal(r2.json<OrderOut>().name, `${b}-deprovision`);
  const again = await api.app.inject({
    method: "POST",
    url: `/orders/${d.name}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(again.statusCode, 409, "a Deprovision order is not revoked");
});

test("a deactivated employee (leaver) cannot order", async (t) => {
  const { api } = await setup(t);
  const has = await api.db.query("SELECT to_regclass('employees') IS NOT NULL AS ok");
  assert.ok((has.rows[0] as { ok: boolean }).ok, "the employees table (record/employees) exists");
  await api.db.query(
    `INSERT INTO employees (user_name, display_name, emails, active, resource)
     VALUES ('lea', 'Lea', ARRAY['lea@example.com'], false, '{}'::jsonb)`,
  );
  const lea = await signInAsEmployee(api, "lea@example.com", "lea");
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: lea.headers,
    payload: { assetType: "vpn" },
  });
  assert.equal(r.statusCode, 409, r.body);
  assert.equal(r.json<{ reason: string }>().reason, "OrderingBlocked");
});

test("no self-approval through a link: employees cannot mint approval links, nor anyone for their own order", async (t) => {
  const { api, ada } = await setup(t);
  const emp = await signInAsEmployee(api, "emp@example.com", "emp");
  const mine = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: emp.headers,
    payload: { assetType: "vpn" },
  });
  assert.equal(mine.statusCode, 201, mine.body);
  const name = mine.json<OrderOut>().name;
  const byEmployee = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approval-links`,
    headers: emp.headers,
    payload: { approver: "boss@example.com" },
  });
  assert.equal(byEmployee.statusCode, 403, byEmployee.body);
  // An admin's own order (on behalf of herself): no link from her either.
  const own = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "vpn", requester: { id: "ada", email: "ada@example.com" } },
  });
  assert.equal(own.statusCode, 201, own.body);
  const self = await api.app.inject({
    method: "POST",
    url: `/orders/${own.json<OrderOut>().name}/approval-links`,
    headers: ada.headers,
    payload: { approver: "bert" },
  });
  assert.equal(self.statusCode, 409, self.body);
  assert.match(self.body, /SelfApproval/);
  // For someone else's order she may mint her own link, not one that decides as bert (that is
  // a superadmin's, audited: test/api/link-mint.test.ts).
  const other = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approval-links`,
    headers: ada.headers,
    payload: { approver: "bert" },
  });
  assert.equal(other.statusCode, 403, other.body);
  assert.equal(other.json<{ reason: string }>().reason, "NotOwnLink");
  const forHerself = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approval-links`,
    headers: ada.headers,
    payload: { approver: "ada" },
  });
  assert.equal(forHerself.statusCode, 201, forHerself.body);
});
