// The request shapes Microsoft Entra ID and Okta really send (quirks included), each on the real
// wiring. Sources: Microsoft's "Tutorial: Develop a sample SCIM endpoint" / "Known issues and
// resolutions with SCIM 2.0 protocol compliance" (capitalised ops, "False" strings, path-less
// value keys like "name.givenName", the probe filter with a random GUID) and Okta's "SCIM 2.0
// protocol reference" (filter=userName eq … with startIndex=1&count=100, PUT with active:false,
// PATCH {"op":"replace","value":{"active":false}}).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { newScimApi, userBody } from "./support.ts";
import { drainFanouts } from "../../api/leaver/background.ts";
import { isOrderingBlocked } from "../../record/employees/store.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

test("Entra: the connection-test probe filter with a random GUID answers an empty ListResponse", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const probe = await api.scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);
  assert.equal(probe.statusCode, 200);
  assert.deepEqual(probe.json(), {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    totalResults: 0,
    startIndex: 1,
    itemsPerPage: 0,
    Resources: [],
  });
});

test("Entra: create with the enterprise extension, then the PATCH shapes Entra sends", async (t) => {
  const api = await newScimApi(t);
  const create = await api.scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
    externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c12ed4c3",
    userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
    active: true,
    displayName: "Test User",
    emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b@contoso.com" }],
    meta: { resourceType: "User" },
    name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
    roles: [],
    [ENT]: { department: "Sales", employeeNumber: "E-77", manager: "manager-object-id" },
  });
  assert.equal(create.statusCode, 201, create.body);
  const id = create.json<{ id: string }>().id;
  assert.deepEqual(create.json<Record<string, { manager: unknown }>>()[ENT]!.manager, {
    value: "manager-object-id",
  });

  // Entra looks the user up by userName and externalId before every change.
  const byName = await api.scim(
    "GET",
    `/Users?filter=${encodeURIComponent('userName eq "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com"')}`,
  );
  assert.equal(byName.json<{ totalResults: number }>().totalResults, 1);

  const attrs = await api.scim("PATCH", `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@microsoft.com" },
      { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
      { op: "Add", path: `${ENT}:manager`, value: "new-manager-id" },
      {
        op: "Replace",
        value: { "name.givenName": "Oswaldo", "name.formatted": "Oswaldo Rylan", displayName: "O. Rylan" },
      },
      { op: "Replace", value: { [`${ENT}:department`]: "Marketing" } },
    ],
  });
  assert.equal(attrs.statusCode, 200, attrs.body);
  const u = attrs.json<Record<string, unknown>>();
  assert.deepEqual(u.emails, [{ primary: true, type: "work", value: "updatedEmail@microsoft.com" }]);
  assert.deepEqual(u.name, {
    formatted: "Oswaldo Rylan",
    familyName: "updatedFamilyName",
    givenName: "Oswaldo",
  });
  assert.equal(u.displayName, "O. Rylan");
  assert.deepEqual(u[ENT], {
    department: "Marketing",
    employeeNumber: "E-77",
    manager: { value: "new-manager-id" },
  });

  const removeManager = await api.scim("PATCH", `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Remove", path: `${ENT}:manager`, value: [{ value: "new-manager-id" }] }],
  });
  assert.equal(removeManager.statusCode, 200, removeManager.body);
  assert.equal(removeManager.json<Record<string, { manager?: unknown }>>()[ENT]!.manager, undefined);

  // Disable: capitalised op, the boolean as the string "False". That person is now a leaver.
  const disable = await api.scim("PATCH", `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Replace", path: "active", value: "False" }],
  });
  assert.equal(disable.statusCode, 200);
  assert.equal(disable.json<{ active: boolean }>().active, false);
  assert.equal(
    await isOrderingBlocked(
      api.db,
      { id: "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com" },
      api.clock.now,
    ),
    true,
  );
  const filtered = await api.scim("GET", `/Users?filter=${encodeURIComponent("active eq false")}`);
  assert.equal(
    filtered.json<{ totalResults: number }>().totalResults,
    1,
    "the validator filters disabled users",
  );
  // Re-enable ("True").
  const enable = await api.scim("PATCH", `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "Replace", path: "active", value: "True" }],
  });
  assert.equal(enable.json<{ active: boolean }>().active, true);
  await drainFanouts(api.app.deps);
  assert.equal(
    await isOrderingBlocked(
      api.db,
      { id: "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com" },
      api.clock.now,
    ),
    false,
  );
  // Entra finally deletes the user.
  assert.equal((await api.scim("DELETE", `/Users/${id}`)).statusCode, 204);
  await drainFanouts(api.app.deps);
});

test("Okta: lookup with startIndex/count, create, PUT updates, PUT deactivation, PATCH deactivation", async (t) => {
  const api = await newScimApi(t);
  const lookup = await api.scim(
    "GET",
    `/Users?filter=${encodeURIComponent('userName eq "isaac.brock@example.com"')}&startIndex=1&count=100`,
  );
  assert.equal(lookup.statusCode, 200);
  assert.equal(lookup.json<{ totalResults: number }>().totalResults, 0);

  const okta = {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "isaac.brock@example.com",
    name: { givenName: "Isaac", familyName: "Brock" },
    emails: [{ primary: true, value: "isaac.brock@example.com", type: "work" }],
    displayName: "Isaac Brock",
    locale: "en-US",
    externalId: "00ujl29u0le5T6Aj10h7",
    groups: [],
    password: "1mz050nq",
    active: true,
  };
  const created = await api.scim("POST", "/Users", okta);
  assert.equal(created.statusCode, 201, created.body);
  const u = created.json<{ id: string; password?: string }>();
  assert.equal(u.password, undefined, "a password is never stored nor returned");

  const again = await api.scim(
    "GET",
    `/Users?filter=${encodeURIComponent('userName eq "isaac.brock@example.com"')}&startIndex=1&count=100`,
  );
  const page = again.json<{
    totalResults: number;
    startIndex: number;
    itemsPerPage: number;
    Resources: { id: string }[];
  }>();
  assert.deepEqual(
    [page.totalResults, page.startIndex, page.itemsPerPage, page.Resources[0]!.id],
    [1, 1, 1, u.id],
  );

  // Okta's profile push: PUT of the full user, active:true (not a re-activation, not a leaver).
  const push = await api.scim("PUT", `/Users/${u.id}`, { ...okta, id: u.id, displayName: "Isaac B." });
  assert.equal(push.statusCode, 200);
  assert.equal(push.json<{ displayName: string }>().displayName, "Isaac B.");
  assert.equal((await api.db.query("SELECT 1 FROM leaver_events")).rowCount, 0);

  // Okta deactivates by PUT with active:false …
  const off = await api.scim("PUT", `/Users/${u.id}`, { ...okta, id: u.id, active: false });
  assert.equal(off.statusCode, 200);
  assert.equal(off.json<{ active: boolean }>().active, false);
  assert.equal(await isOrderingBlocked(api.db, { email: "isaac.brock@example.com" }, api.clock.now), true);
  // … and re-activates by PUT with active:true.
  assert.equal(
    (await api.scim("PUT", `/Users/${u.id}`, { ...okta, id: u.id, active: true })).statusCode,
    200,
  );
  await drainFanouts(api.app.deps);
  assert.equal(await isOrderingBlocked(api.db, { email: "isaac.brock@example.com" }, api.clock.now), false);

  // OIN integrations PATCH instead: {"op":"replace","value":{"active":false}}.
  const patchOff = await api.scim("PATCH", `/Users/${u.id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  assert.equal(patchOff.statusCode, 200);
  assert.equal(patchOff.json<{ active: boolean }>().active, false);
  await drainFanouts(api.app.deps);
  const events = await api.db.query<{ source: string; actor: string; closed_reason: string | null }>(
    "SELECT source, actor, closed_reason FROM leaver_events ORDER BY created_at, id",
  );
  assert.equal(events.rowCount, 2, "two separate leavings, the first re-activated");
  assert.ok(events.rows.every((e) => e.source === "scim" && e.actor === "token:entra-provisioning"));
  assert.equal(events.rows.filter((e) => e.closed_reason === "re-activated").length, 1);
});

test("Okta/Entra: userName is case-insensitive in filters; a second create of the same user is 409", async (t) => {
  const api = await newScimApi(t, { crds: false });
  assert.equal((await api.scim("POST", "/Users", userBody("Mixed.Case@Example.com"))).statusCode, 201);
  const r = await api.scim(
    "GET",
    `/Users?filter=${encodeURIComponent('userName eq "mixed.case@example.com"')}`,
  );
  assert.equal(r.json<{ totalResults: number }>().totalResults, 1);
  const dup = await api.scim("POST", "/Users", userBody("mixed.case@example.com"));
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json<{ scimType: string }>().scimType, "uniqueness");
});

test('Entra: matching on e-mail sends emails[type eq "work"].value eq …; answered, case-insensitively', async (t) => {
  const api = await newScimApi(t, { crds: false });
  const body = userBody("kim.lee@example.com", {
    emails: [
      { value: "Kim.Lee@Example.com", type: "work", primary: true },
      { value: "kim@home.example", type: "home" },
    ],
  });
  assert.equal((await api.scim("POST", "/Users", body)).statusCode, 201);
  const find = (filter: string) => api.scim("GET", `/Users?filter=${encodeURIComponent(filter)}`);
  const work = await find('emails[type eq "work"].value eq "kim.lee@example.com"');
  assert.equal(work.statusCode, 200, work.body);
  assert.deepEqual(
    work.json<{ Resources: { userName: string }[] }>().Resources.map((u) => u.userName),
    ["kim.lee@example.com"],
  );
  // The home address is not the work one; an unknown sub-attribute is invalidFilter, not empty.
  const home = await find('emails[type eq "work"].value eq "kim@home.example"');
  assert.equal(home.json<{ totalResults: number }>().totalResults, 0);
  const bad = await find('emails[type eq "work"].colour eq "x"');
  assert.equal(bad.statusCode, 400, bad.body);
  assert.equal(bad.json<{ scimType: string }>().scimType, "invalidFilter");
});
