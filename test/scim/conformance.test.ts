// SCIM 2.0 conformance on the real wiring (Postgres, auth plugin, tokens): every operation and
// every error status the server promises, in the SCIM error schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newScimApi, userBody } from "./support.ts";
import { addToken, bearer } from "../api/support.ts";

const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

test("SCIM: discovery endpoints", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const spc = await api.scim("GET", "/ServiceProviderConfig");
  assert.equal(spc.statusCode, 200);
  assert.match(spc.headers["content-type"] as string, /^application\/scim\+json/);
  const s = spc.json<Record<string, { supported: boolean }>>();
  assert.equal(s.patch!.supported, true);
  assert.equal(s.etag!.supported, true);
  assert.equal(s.bulk!.supported, false);
  const rt = await api.scim("GET", "/ResourceTypes");
  assert.deepEqual(
    rt.json<{ Resources: { id: string }[] }>().Resources.map((r) => r.id),
    ["User", "Group"],
  );
  assert.equal((await api.scim("GET", "/ResourceTypes/User")).statusCode, 200);
  const groupType = await api.scim("GET", "/ResourceTypes/Group");
  assert.equal(groupType.statusCode, 200);
  assert.equal(groupType.json<{ endpoint: string }>().endpoint, "/Groups");
  assert.equal((await api.scim("GET", "/ResourceTypes/Nope")).statusCode, 404);
  const schemas = await api.scim("GET", "/Schemas");
  assert.deepEqual(
    schemas.json<{ Resources: { id: string }[] }>().Resources.map((r) => r.id),
    ["urn:ietf:params:scim:schemas:core:2.0:User", ENT, "urn:ietf:params:scim:schemas:core:2.0:Group"],
  );
  const core = await api.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
  assert.equal(core.statusCode, 200);
  const attrs = core.json<{ attributes: { name: string; caseExact: boolean }[] }>().attributes;
  assert.equal(attrs.find((a) => a.name === "userName")?.caseExact, false);
  assert.equal((await api.scim("GET", `/Schemas/${ENT}`)).statusCode, 200);
  const group = await api.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group");
  assert.equal(group.statusCode, 200);
  assert.deepEqual(
    group.json<{ attributes: { name: string }[] }>().attributes.map((a) => a.name),
    ["displayName", "members"],
  );
  const groups = await api.scim("GET", "/Groups");
  assert.equal(groups.statusCode, 200, "Groups are served");
  assert.deepEqual(groups.json<{ schemas: string[] }>().schemas, [LIST]);
  const other = await api.scim("GET", "/Nope");
  assert.equal(other.statusCode, 404);
  assert.deepEqual(other.json<{ schemas: string[] }>().schemas, [ERROR]);
  const missing = await api.scim("GET", "/Schemas/urn:nope");
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json<{ schemas: string[] }>().schemas, [ERROR]);
});

test("SCIM: 401 without a token, 403 for a token without the scim scope, in the error schema", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const anon = await api.app.inject({ method: "GET", url: "/scim/v2/Users" });
  assert.equal(anon.statusCode, 401);
  assert.deepEqual(anon.json<{ schemas: string[]; status: string }>(), {
    ...anon.json<object>(),
    schemas: [ERROR],
    status: "401",
  });
  const bad = await api.app.inject({ method: "GET", url: "/scim/v2/Users", headers: bearer("ips_nope") });
  assert.equal(bad.statusCode, 401);
  const other = await addToken(api, "admin", ["orders:read"], "orders-only");
  const forbidden = await api.app.inject({ method: "GET", url: "/scim/v2/Users", headers: bearer(other) });
  assert.equal(forbidden.statusCode, 403);
  assert.equal(forbidden.json<{ schemas: string[] }>().schemas[0], ERROR);
});

test("SCIM: create, get, list with filter and paging, replace, patch, delete", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const created = await api.scim(
    "POST",
    "/Users",
    userBody("ada@example.com", {
      externalId: "ext-ada",
      displayName: "Ada Lovelace",
      [ENT]: { employeeNumber: "1001", department: "R&D", costCenter: "CC-7", manager: { value: "boss" } },
    }),
  );
  assert.equal(created.statusCode, 201, created.body);
  const ada = created.json<{ id: string; meta: { version: string; location: string }; active: boolean }>();
  assert.equal(created.headers.location, ada.meta.location);
  assert.equal(created.headers.etag, ada.meta.version);
  assert.equal(ada.active, true);

  const dup = await api.scim("POST", "/Users", userBody("ADA@example.com"));
  assert.equal(dup.statusCode, 409, "userName is unique, case-insensitively");
  assert.equal(dup.json<{ scimType: string }>().scimType, "uniqueness");

  for (let i = 0; i < 5; i++) {
    assert.equal((await api.scim("POST", "/Users", userBody(`user${i}@example.com`))).statusCode, 201);
  }
  const got = await api.scim("GET", `/Users/${ada.id}`);
  assert.equal(got.statusCode, 200);
  assert.equal(got.json<Record<string, { department: string }>>()[ENT]!.department, "R&D");

  const q = (f: string, extra = "") => api.scim("GET", `/Users?filter=${encodeURIComponent(f)}${extra}`);
  const byName = await q('userName eq "ADA@EXAMPLE.COM"');
  assert.equal(byName.json<{ totalResults: number }>().totalResults, 1);
  assert.deepEqual(byName.json<{ schemas: string[] }>().schemas, [LIST]);
  assert.equal((await q('externalId eq "EXT-ADA"')).json<{ totalResults: number }>().totalResults, 0);
  assert.equal((await q('emails.value co "user"')).json<{ totalResults: number }>().totalResults, 5);
  // Entra's form (a sub-attribute after the value filter) means the bracketed one below.
  assert.equal(
    (await q('emails[type eq "work"].value sw "user1"')).json<{ totalResults: number }>().totalResults,
    1,
  );
  assert.equal(
    (await q('emails[type eq "work" and value sw "user1"]')).json<{ totalResults: number }>().totalResults,
    1,
  );
  assert.equal((await q(`${ENT}:department eq "R&D"`)).json<{ totalResults: number }>().totalResults, 1);
  assert.equal(
    (await q('userName sw "user" and not (userName ew "3@example.com")')).json<{ totalResults: number }>()
      .totalResults,
    4,
  );
  const paged = await q('userName sw "user"', "&startIndex=2&count=2");
  const p = paged.json<{
    totalResults: number;
    itemsPerPage: number;
    startIndex: number;
    Resources: { userName: string }[];
  }>();
  assert.deepEqual([p.totalResults, p.itemsPerPage, p.startIndex], [5, 2, 2]);
  assert.deepEqual(
    p.Resources.map((r) => r.userName),
    ["user1@example.com", "user2@example.com"],
  );
  const proj = await q('userName eq "ada@example.com"', "&attributes=userName");
  assert.deepEqual(Object.keys(proj.json<{ Resources: object[] }>().Resources[0]!).sort(), [
    "id",
    "schemas",
    "userName",
  ]);
  const badFilter = await q('userName eq "x" and');
  assert.equal(badFilter.statusCode, 400);
  assert.equal(badFilter.json<{ scimType: string }>().scimType, "invalidFilter");
  assert.equal((await q("active gt true")).json<{ scimType: string }>().scimType, "invalidFilter");

  // PUT replaces; If-Match with a stale ETag → 412.
  const put = await api.scim(
    "PUT",
    `/Users/${ada.id}`,
    userBody("ada@example.com", { displayName: "Countess" }),
    {
      "if-match": ada.meta.version,
    },
  );
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json<{ displayName: string }>().displayName, "Countess");
  assert.equal(put.json<Record<string, unknown>>()[ENT], undefined, "PUT replaces the whole resource");
  const stale = await api.scim("PUT", `/Users/${ada.id}`, userBody("ada@example.com"), {
    "if-match": ada.meta.version,
  });
  assert.equal(stale.statusCode, 412);
  assert.equal(stale.json<{ scimType: string }>().scimType, "invalidVers");
  const current = put.json<{ meta: { version: string } }>().meta.version;
  const stalePatch = await api.scim(
    "PATCH",
    `/Users/${ada.id}`,
    {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "add", path: "title", value: "x" }],
    },
    { "if-match": 'W/"999"' },
  );
  assert.equal(stalePatch.statusCode, 412);
  assert.equal(
    (await api.scim("DELETE", `/Users/${ada.id}`, undefined, { "if-match": 'W/"999"' })).statusCode,
    412,
  );
  const okPatch = await api.scim(
    "PATCH",
    `/Users/${ada.id}`,
    {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "add", path: "title", value: "x" }],
    },
    { "if-match": current },
  );
  assert.equal(okPatch.statusCode, 200);
  assert.notEqual(okPatch.headers.etag, current, "every write changes the ETag");
  const taken = await api.scim("PUT", `/Users/${ada.id}`, userBody("user1@example.com"));
  assert.equal(taken.statusCode, 409);

  const patched = await api.scim("PATCH", `/Users/${ada.id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      { op: "add", path: "nickName", value: "Ada" },
      { op: "replace", path: 'emails[type eq "work"].value', value: "ada@new.example" },
      { op: "remove", path: "name.givenName" },
    ],
  });
  assert.equal(patched.statusCode, 200, patched.body);
  const pj = patched.json<{ nickName: string; emails: { value: string }[]; name: Record<string, string> }>();
  assert.equal(pj.nickName, "Ada");
  assert.equal(pj.emails[0]!.value, "ada@new.example");
  assert.equal(pj.name.givenName, undefined);
  for (const [ops, scimType] of [
    [[{ op: "replace", path: "nope", value: 1 }], "invalidPath"],
    [[{ op: "remove" }], "noTarget"],
    [[{ op: "replace", path: "id", value: "x" }], "mutability"],
    [[{ op: "jump", path: "title", value: "x" }], "invalidSyntax"],
    [[{ op: "replace", path: "active", value: "maybe" }], "invalidValue"],
  ] as const) {
    const r = await api.scim("PATCH", `/Users/${ada.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: ops,
    });
    assert.equal(r.statusCode, 400, JSON.stringify(ops));
    assert.equal(r.json<{ scimType: string }>().scimType, scimType);
  }
  const bad = await api.scim("POST", "/Users", "{not json");
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ schemas: string[] }>().schemas[0], ERROR);
  assert.equal(
    (await api.scim("POST", "/Users", { name: { givenName: "x" } })).json<{ scimType: string }>().scimType,
    "invalidValue",
  );

  assert.equal((await api.scim("DELETE", `/Users/${ada.id}`)).statusCode, 204);
  const gone = await api.scim("GET", `/Users/${ada.id}`);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json<{ status: string }>().status, "404");
  assert.equal((await api.scim("DELETE", `/Users/${ada.id}`)).statusCode, 404);
  assert.equal(
    (await api.scim("PATCH", "/Users/not-a-uuid", { Operations: [{ op: "add", value: {} }] })).statusCode,
    404,
  );
  // The deleted userName is free again.
  assert.equal((await api.scim("POST", "/Users", userBody("ada@example.com"))).statusCode, 201);

  const rows = await api.db.query<{ action: string; actor: string; source: string }>(
    "SELECT action, actor, source FROM audit_events WHERE target LIKE 'employee:%' ORDER BY id",
  );
  assert.ok(
    rows.rows.some(
      (r) => r.action === "employee_created" && r.actor === "token:entra-provisioning" && r.source === "scim",
    ),
  );
  assert.ok(rows.rows.some((r) => r.action === "employee_deleted"));
});

test("SCIM: application/json is accepted too, and the answer is application/scim+json", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const r = await api.app.inject({
    method: "POST",
    url: "/scim/v2/Users",
    headers: { ...bearer(api.token), "content-type": "application/json" },
    payload: JSON.stringify(userBody("json@example.com")),
  });
  assert.equal(r.statusCode, 201);
  assert.match(r.headers["content-type"] as string, /^application\/scim\+json/);
  const id = r.json<{ id: string; meta: { version: string } }>();
  const notModified = await api.scim("GET", `/Users/${id.id}`, undefined, {
    "if-none-match": id.meta.version,
  });
  assert.equal(notModified.statusCode, 304);
});
