// ServiceNow inbound on the real API server and Postgres: a request item becomes an Order,
// once per RITM, with clear refusals for unknown catalog items and requesters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addAdmin, addToken, bearer } from "../api/support.ts";
import { addGrant } from "../../record/identity/users.ts";
import { createApiToken } from "../../record/identity/tokens.ts";
import { signBody } from "../../api/leaver/signature.ts";
import {
  SNOW_SECRET,
  auditRows,
  createAssetType,
  listOrders,
  newScimApi,
  userBody,
  type ScimApi,
} from "../scim/support.ts";

function snow(api: ScimApi, body: unknown, sig?: string | null) {
  const raw = JSON.stringify(body);
  const header = sig === null ? undefined : (sig ?? signBody(SNOW_SECRET, raw));
  return api.app.inject({
    method: "POST",
    url: "/servicenow/v1/requests",
    headers: {
      "content-type": "application/json",
      ...(header !== undefined ? { "x-hub-signature-256": header } : {}),
    },
    payload: raw,
  });
}

async function world(t: Parameters<typeof newScimApi>[0]) {
  const api = await newScimApi(t);
  for (const u of ["boss@example.com", "jane@example.com"]) {
    assert.equal((await api.scim("POST", "/Users", userBody(u))).statusCode, 201);
  }
  const boss = (
    await api.scim("GET", `/Users?filter=${encodeURIComponent('userName eq "boss@example.com"')}`)
  ).json<{
    Resources: { id: string }[];
  }>().Resources[0]!.id;
  const jane = (
    await api.scim("GET", `/Users?filter=${encodeURIComponent('userName eq "jane@example.com"')}`)
  ).json<{
    Resources: { id: string }[];
  }>().Resources[0]!.id;
  await api.scim("PATCH", `/Users/${jane}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      { op: "add", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: boss },
      {
        op: "add",
        path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        value: "E-9",
      },
    ],
  });
  await createAssetType(api, "adobe-acrobat", "CapacityPooled", {
    displayName: "Adobe Acrobat Pro",
    attributes: [
      { name: "edition", type: "enum", enum: ["standard", "pro"], required: true },
      { name: "seats", type: "number" },
    ],
  });
  return { api, jane };
}

const item = (more: Record<string, unknown> = {}) => ({
  number: "RITM0010001",
  sys_id: "a1b2c3d4e5f6",
  requested_for: { user_name: "jane@example.com", display_value: "Jane Doe" },
  cat_item: { display_value: "Adobe Acrobat Pro", sys_id: "cat123" },
  variables: { edition: "pro", seats: 1, unrelated: "ignored" },
  short_description: "Acrobat for contract work",
  ...more,
});

test("ServiceNow: a signed request item becomes one Order, idempotent on the RITM number", async (t) => {
  const { api } = await world(t);
  const r = await snow(api, item());
  assert.equal(r.statusCode, 201, r.body);
  assert.deepEqual(r.json(), { order: "snow-ritm0010001", created: true, phase: null });
  const again = await snow(api, item({ short_description: "changed on resend" }));
  assert.equal(again.statusCode, 200);
  assert.equal(again.json<{ created: boolean }>().created, false);
  const orders = (await listOrders(api)).filter(
    (o) => o.metadata?.labels?.["ipsolis.io/source"] === "servicenow",
  );
  assert.equal(orders.length, 1);
  const o = orders[0]!;
  assert.equal(o.spec.assetType, "adobe-acrobat");
  assert.equal(o.spec.action, "Provision");
  assert.deepEqual(o.spec.requester, {
    id: "jane@example.com",
    email: "jane@example.com",
    displayName: "Test jane",
    manager: "boss@example.com",
  });
  assert.deepEqual(o.spec.attributes, { edition: "pro", seats: "1" });
  assert.equal(o.metadata?.annotations?.["ipsolis.io/servicenow-ritm"], "RITM0010001");
  const rows = await auditRows(api, "source = 'servicenow'");
  assert.deepEqual(
    rows.map((x) => [x.actor, x.action, x.order]),
    [["integration:servicenow", "order_created", "snow-ritm0010001"]],
  );
  // Ordered on the employee's behalf (ServiceNow's catalogue decided); the row says whether
  // ipsolis' own entitlement agreed.
  assert.equal(rows[0]?.data.onBehalf, true);
  // This asset type names nobody in its entitlement: created all the same, and said so.
  assert.equal(rows[0]?.data.entitled, false, JSON.stringify(rows[0]?.data));
  assert.equal(rows[0]?.data.notEntitledReason, "NoEntitlement");
  // By bare names and a token with the servicenow scope; by employee number too.
  const token = await addToken(api, "admin", ["servicenow"], "snow-flow");
  const byToken = await api.app.inject({
    method: "POST",
    url: "/servicenow/v1/requests",
    headers: { ...bearer(token), "content-type": "application/json" },
    payload: item({ number: "RITM0010002", requested_for: "E-9", cat_item: "adobe-acrobat" }),
  });
  assert.equal(byToken.statusCode, 201, byToken.body);
  assert.equal((await auditRows(api, "actor = 'token:snow-flow'")).length, 1);
});

test("ServiceNow: clear 4xx for unknown asset types, unknown or blocked requesters, bad variables, bad auth", async (t) => {
  const { api, jane } = await world(t);
  const cases: [string, unknown, number, string | undefined][] = [
    ["unknown catalog item", item({ cat_item: "Photoshop" }), 422, "cat_item"],
    ["unknown requester", item({ requested_for: "nobody@example.com" }), 422, "requested_for"],
    ["missing required variable", item({ variables: { seats: 2 } }), 422, "variables.edition"],
    ["enum violated", item({ variables: { edition: "ultimate" } }), 422, "variables.edition"],
    ["number violated", item({ variables: { edition: "pro", seats: "many" } }), 422, "variables.seats"],
    ["not a RITM", item({ number: "REQ0001" }), 400, undefined],
    ["no requested_for", item({ requested_for: {} }), 400, undefined],
  ];
  for (const [name, body, status, field] of cases) {
    const r = await snow(api, body);
    assert.equal(r.statusCode, status, `${name}: ${r.body}`);
    if (field) assert.equal(r.json<{ field: string }>().field, field, name);
  }
  assert.equal((await snow(api, item(), "sha256=" + "0".repeat(64))).statusCode, 401);
  assert.equal((await snow(api, item(), null)).statusCode, 401);
  // A leaver cannot order through ServiceNow.
  await api.scim("PATCH", `/Users/${jane}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "active", value: false }],
  });
  const blocked = await snow(api, item({ number: "RITM0010009" }));
  assert.equal(blocked.statusCode, 422);
  assert.equal(blocked.json<{ reason: string; field: string }>().reason, "RequesterBlocked");
  assert.equal((await listOrders(api)).filter((o) => o.metadata?.name?.startsWith("snow-")).length, 0);
});

test("ServiceNow with a scoped admin's token: another team's asset type is the missing type's 422", async (t) => {
  const { api } = await world(t);
  await createAssetType(api, "team-b-tool");
  const sam = await addAdmin(api, "sam", "admin");
  await addGrant(api.db, sam.id, "team-b-tool");
  const { token } = await createApiToken(api.db, {
    name: "sam-snow",
    role: "admin",
    scopes: ["servicenow"],
    createdBy: "admin:sam",
  });
  const send = (cat: string, number: string) =>
    api.app.inject({
      method: "POST",
      url: "/servicenow/v1/requests",
      headers: { ...bearer(token), "content-type": "application/json" },
      payload: item({ number, cat_item: cat }),
    });
  const hidden = await send("adobe-acrobat", "RITM0020001");
  const missing = await send("no-such-tool", "RITM0020002");
  assert.equal(hidden.statusCode, 422, hidden.body);
  assert.equal(missing.statusCode, 422, missing.body);
  assert.equal(hidden.body.replace("adobe-acrobat", "X"), missing.body.replace("no-such-tool", "X"));
  assert.equal((await listOrders(api)).length, 0, "nothing ordered");
  const own = await send("team-b-tool", "RITM0020003");
  assert.equal(own.statusCode, 201, own.body);
});
