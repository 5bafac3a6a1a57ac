// Entitlement on the real wiring (Postgres, the real API server, SCIM with a token): who may order
// which AssetType (spec.entitlement: everyone, departments, groups), for employees through the
// API and the portal, staff on behalf (allowed, audited `entitled: false`), and a revoke
// (Deprovision) that entitlement never blocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import {
  addToken,
  bearer,
  csrfField,
  setOrderPhase,
  signInAsEmployee,
  type Browser,
} from "../api/support.ts";
import { drainFanouts } from "../../api/leaver/background.ts";
import { auditRows, createAssetType, newScimApi, userBody, type ScimApi } from "../scim/support.ts";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async function scimUser(api: ScimApi, email: string, department?: string): Promise<string> {
  const r = await api.scim(
    "POST",
    "/Users",
    userBody(
      email,
      department
        ? { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENT], [ENT]: { department } }
        : {},
    ),
  );
  assert.equal(r.statusCode, 201, r.body);
  return r.json<{ id: string }>().id;
}

function order(api: ScimApi, who: Browser, assetType: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ method: "POST", url: "/orders", headers: who.headers, payload: { assetType } });
}

/** The catalogue with three types: open to all, to Sales, to the VPN Users group; one to nobody. */
async function catalogue(api: ScimApi): Promise<void> {
  await createAssetType(api, "laptop", "AssignedPersonal", { entitlement: { everyone: true } });
  await createAssetType(api, "crm-seat", "AssignedPersonal", { entitlement: { departments: ["sales"] } });
  await createAssetType(api, "vpn", "AssignedPersonal", { entitlement: { groups: ["vpn users"] } });
  await createAssetType(api, "legacy", "AssignedPersonal");
}

test("employees order what they are entitled to; anything else is the missing type's 404, byte for byte", async (t) => {
  const api = await newScimApi(t);
  await catalogue(api);
  await scimUser(api, "sam@example.com", "Sales");
  await scimUser(api, "fin@example.com", "Finance");
  const sam = await signInAsEmployee(api, "sam@example.com", "sam");
  const fin = await signInAsEmployee(api, "fin@example.com", "fin");
  // Signed in through OIDC, never provisioned over SCIM: only `everyone` types.
  const oidcOnly = await signInAsEmployee(api, "new@example.com", "new");

  const missing = await order(api, sam, "no-such-type");
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { error: 'assettype "no-such-type" not found' });

  assert.equal((await order(api, sam, "laptop")).statusCode, 201);
  assert.equal((await order(api, sam, "crm-seat")).statusCode, 201, "department Sales, listed as sales");
  assert.equal((await order(api, oidcOnly, "laptop")).statusCode, 201);
  for (const [who, type] of [
    [fin, "crm-seat"],
    [sam, "vpn"],
    [sam, "legacy"],
    [oidcOnly, "crm-seat"],
  ] as const) {
    const r = await order(api, who, type);
    assert.equal(r.statusCode, 404, `${type}: ${r.body}`);
    assert.equal(r.body, JSON.stringify({ error: `assettype "${type}" not found` }));
    assert.deepEqual(Object.keys(r.json()), Object.keys(missing.json<object>()));
  }
  const created = await auditRows(api, "action = 'order_created'");
  assert.equal(created.length, 3);
  for (const r of created) {
    assert.equal(r.data.entitled, true);
    assert.equal(r.data.onBehalf, false);
  }
});

test("staff order on behalf beyond the entitlement; the audit row says entitled: false", async (t) => {
  const api = await newScimApi(t);
  await catalogue(api);
  await scimUser(api, "fin@example.com", "Finance");
  const staff = await addToken(api, "admin", ["orders:write"], "helpdesk-bot");
  const onBehalf = (assetType: string) =>
    api.app.inject({
      method: "POST",
      url: "/orders",
      headers: bearer(staff),
      payload: { assetType, requester: { id: "fin", email: "fin@example.com" } },
    });
  const r1 = await onBehalf("crm-seat");
  assert.equal(r1.statusCode, 201, r1.body);
  const r2 = await onBehalf("laptop");
  assert.equal(r2.statusCode, 201, r2.body);
  const rows = await auditRows(api, "action = 'order_created'");
  assert.deepEqual(
    rows.map((r) => [r.actor, r.data.assetType, r.data.onBehalf, r.data.entitled, r.data.notEntitledReason]),
    [
      ["token:helpdesk-bot", "crm-seat", true, false, "NotEntitled"],
      ["token:helpdesk-bot", "laptop", true, true, undefined],
    ],
  );
  assert.equal(rows[1]!.data.entitledVia, "everyone");
});

test("end to end: a SCIM group grants its members the entitlement; removing the member takes it away", async (t) => {
  const api = await newScimApi(t);
  await catalogue(api);
  const annId = await scimUser(api, "ann@example.com", "Engineering");
  const ann = await signInAsEmployee(api, "ann@example.com", "ann");
  assert.equal((await order(api, ann, "vpn")).statusCode, 404, "not yet a member");

  // Entra pushes the group and then its member.
  const g = await api.scim("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "VPN Users",
    externalId: "3c1e9c1b-aaaa-4bbb-8ccc-123456789abc",
  });
  assert.equal(g.statusCode, 201, g.body);
  const gid = g.json<{ id: string }>().id;
  const add = await api.scim("PATCH", `/Groups/${gid}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Add", path: "members", value: [{ value: annId }] }],
  });
  assert.equal(add.statusCode, 200, add.body);

  const granted = await order(api, ann, "vpn");
  assert.equal(granted.statusCode, 201, granted.body);
  const orderName = granted.json<{ name: string }>().name;
  assert.equal((await auditRows(api, "action = 'order_created'"))[0]!.data.entitledVia, "group");

  // The portal lists it too.
  const page = await api.app.inject({ method: "GET", url: "/portal/catalogue", headers: ann.headers });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /data-asset-type="vpn"/);

  // Entra removes the member: the type is gone for her again, in the API and the portal.
  const remove = await api.scim("PATCH", `/Groups/${gid}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Remove", path: "members", value: [{ value: annId }] }],
  });
  assert.equal(remove.statusCode, 200, remove.body);
  const refused = await order(api, ann, "vpn");
  assert.equal(refused.statusCode, 404, refused.body);
  assert.deepEqual(refused.json(), { error: 'assettype "vpn" not found' });
  const after = await api.app.inject({ method: "GET", url: "/portal/catalogue", headers: ann.headers });
  assert.doesNotMatch(after.body, /data-asset-type="vpn"/);

  // What she holds she can still give back: a revoke (Deprovision) is never gated by entitlement.
  await setOrderPhase(api, orderName, "Scheduled", "Processing", "Provisioned");
  const revoke = await api.app.inject({
    method: "POST",
    url: `/orders/${orderName}/revoke`,
    headers: ann.headers,
    payload: {},
  });
  assert.equal(revoke.statusCode, 201, revoke.body);
  assert.equal(revoke.json<{ action: string }>().action, "Deprovision");

  // Matching by the group's externalId (as an AssetType may name it) works the same way.
  await createAssetType(api, "vpn-by-ext", "AssignedPersonal", {
    entitlement: { groups: ["3c1e9c1b-aaaa-4bbb-8ccc-123456789abc"] },
  });
  assert.equal((await order(api, ann, "vpn-by-ext")).statusCode, 404);
  await api.scim("PATCH", `/Groups/${gid}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "add", path: "members", value: [{ value: annId }] }],
  });
  assert.equal((await order(api, ann, "vpn-by-ext")).statusCode, 201);

  // Deactivated: still a member of the group, but entitled to nothing (and signed out, as a
  // leaver is); staff ordering on behalf get the leaver answer.
  const off = await api.scim("PATCH", `/Users/${annId}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "replace", path: "active", value: false }],
  });
  assert.equal(off.statusCode, 200, off.body);
  // The leaver fan-out runs in the background: let it finish before the database goes.
  await drainFanouts(api.app.deps);
  const members = await api.scim("GET", `/Groups/${gid}`);
  assert.deepEqual(
    members.json<{ members: { value: string }[] }>().members.map((m) => m.value),
    [annId],
  );
  assert.equal((await order(api, ann, "vpn")).statusCode, 401);
  const staff = await addToken(api, "admin", ["orders:write"], "helpdesk-bot");
  const blocked = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: bearer(staff),
    payload: { assetType: "vpn", requester: { id: "ann", email: "ann@example.com" } },
  });
  assert.equal(blocked.statusCode, 409, blocked.body);
});

test("portal: the catalogue shows only entitled types; its order form obeys the same rule", async (t) => {
  const api = await newScimApi(t);
  await catalogue(api);
  await scimUser(api, "sam@example.com", "Sales");
  const sam = await signInAsEmployee(api, "sam@example.com", "sam");

  const page = await api.app.inject({ method: "GET", url: "/portal/catalogue", headers: sam.headers });
  assert.equal(page.statusCode, 200, page.body);
  const shown = [...page.body.matchAll(/data-asset-type="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(shown.sort(), ["crm-seat", "laptop"]);

  // The order form: review (a confirmation page carrying the sealed draft), then confirm.
  const form = (assetType: string, fields: Record<string, string>) =>
    api.app.inject({
      method: "POST",
      url: `/portal/catalogue/${assetType}/order`,
      headers: { cookie: sam.cookie, "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ _csrf: csrfField(page.body), ...fields }).toString(),
    });
  const post = async (assetType: string) => {
    const review = await form(assetType, { step: "review", reason: "need it" });
    if (review.statusCode !== 200) return review;
    const sealed = /name="sealed"\s+value="([^"]+)"/.exec(review.body)?.[1] ?? "";
    return form(assetType, { step: "confirm", sealed });
  };
  const ok = await post("crm-seat");
  assert.equal(ok.statusCode, 303, ok.body);
  assert.match(String(ok.headers.location), /^\/portal\/orders\/crm-seat-/);
  const created = await auditRows(api, "action = 'order_created'");
  assert.deepEqual(
    created.map((r) => [r.source, r.data.assetType, r.data.entitled]),
    [["portal", "crm-seat", true]],
  );

  const hidden = await post("vpn");
  const missing = await post("no-such-type");
  assert.equal(hidden.statusCode, 404);
  assert.equal(missing.statusCode, 404);
  assert.match(hidden.body, /assettype &quot;vpn&quot; not found/);
  // The same page as for a missing type, but for the name.
  const strip = (s: string) =>
    s
      .replaceAll("no-such-type", "X")
      .replaceAll("vpn", "X")
      .replace(/name="_csrf" value="[^"]+"/g, "");
  assert.equal(strip(hidden.body), strip(missing.body));
});
