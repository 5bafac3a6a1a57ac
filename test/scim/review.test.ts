// Conformance review (RFC 7643/7644, and what Entra ID and Okta provisioning send): defects a
// SCIM test suite probes, each found by a real request on the real wiring, then fixed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newScimApi, userBody } from "./support.ts";

const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

test("SCIM review: a filter naming an attribute the User schema does not define is 400 invalidFilter", async (t) => {
  const api = await newScimApi(t, { crds: false });
  assert.equal((await api.scim("POST", "/Users", userBody("a@example.com", { title: "x" }))).statusCode, 201);
  const q = (f: string) => api.scim("GET", `/Users?filter=${encodeURIComponent(f)}`);
  for (const f of [
    'foo eq "x"',
    'name.foo eq "x"',
    'emails[foo eq "x"]',
    'userName eq "a@example.com" and nope pr',
    'urn:example:custom:2.0:User:badge eq "1"',
  ]) {
    const r = await q(f);
    assert.equal(r.statusCode, 400, `${f}: ${r.body}`);
    const body = r.json<{ schemas: string[]; scimType: string; status: string }>();
    assert.deepEqual(body.schemas, [ERROR]);
    assert.equal(body.scimType, "invalidFilter", f);
    assert.equal(body.status, "400");
  }
  // Defined attributes in any case, qualified or not, still filter.
  for (const f of [
    'USERNAME Eq "A@EXAMPLE.COM"',
    "title pr",
    'emails[TYPE eq "work"]',
    'emails.Value co "a@"',
    'meta.resourceType eq "User"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@example.com"',
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr or userName pr",
  ]) {
    const r = await q(f);
    assert.equal(r.statusCode, 200, `${f}: ${r.body}`);
    assert.equal(r.json<{ totalResults: number }>().totalResults, 1, f);
  }
});

test("SCIM review: externalId is unique among live Users (409 uniqueness on POST, PUT and PATCH)", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const a = await api.scim("POST", "/Users", userBody("a@example.com", { externalId: "X1" }));
  assert.equal(a.statusCode, 201);
  const b = await api.scim("POST", "/Users", userBody("b@example.com", { externalId: "x2" }));
  assert.equal(b.statusCode, 201);
  const bId = b.json<{ id: string }>().id;

  const dup = await api.scim("POST", "/Users", userBody("c@example.com", { externalId: "X1" }));
  assert.equal(dup.statusCode, 409, dup.body);
  const err = dup.json<{ schemas: string[]; scimType: string; detail: string }>();
  assert.deepEqual(err.schemas, [ERROR]);
  assert.equal(err.scimType, "uniqueness");
  assert.match(err.detail, /externalId/);
  // externalId is caseExact (RFC 7643 §3.1): another case is another value.
  assert.equal(
    (await api.scim("POST", "/Users", userBody("d@example.com", { externalId: "x1" }))).statusCode,
    201,
  );

  const put = await api.scim("PUT", `/Users/${bId}`, userBody("b@example.com", { externalId: "X1" }));
  assert.equal(put.statusCode, 409);
  assert.equal(put.json<{ scimType: string }>().scimType, "uniqueness");
  const patch = await api.scim("PATCH", `/Users/${bId}`, {
    schemas: [PATCH],
    Operations: [{ op: "replace", path: "externalId", value: "X1" }],
  });
  assert.equal(patch.statusCode, 409);
  // Re-sending one's own externalId is no conflict; a deleted User frees its externalId.
  assert.equal(
    (await api.scim("PUT", `/Users/${bId}`, userBody("b@example.com", { externalId: "x2" }))).statusCode,
    200,
  );
  assert.equal((await api.scim("DELETE", `/Users/${a.json<{ id: string }>().id}`)).statusCode, 204);
  assert.equal(
    (await api.scim("POST", "/Users", userBody("e@example.com", { externalId: "X1" }))).statusCode,
    201,
  );
  // Users without an externalId never clash.
  assert.equal((await api.scim("POST", "/Users", userBody("f@example.com"))).statusCode, 201);
  assert.equal((await api.scim("POST", "/Users", userBody("g@example.com"))).statusCode, 201);
});

test("SCIM review: If-None-Match * or a list holding the current ETag answers 304 on GET", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const c = await api.scim("POST", "/Users", userBody("a@example.com"));
  const { id, meta } = c.json<{ id: string; meta: { version: string } }>();
  for (const h of ["*", `W/"999", ${meta.version}`, meta.version.replace(/^W\//, "")]) {
    const r = await api.scim("GET", `/Users/${id}`, undefined, { "if-none-match": h });
    assert.equal(r.statusCode, 304, h);
    assert.equal(r.headers.etag, meta.version);
  }
  const other = await api.scim("GET", `/Users/${id}`, undefined, { "if-none-match": 'W/"999"' });
  assert.equal(other.statusCode, 200);
});

test("SCIM review: If-Match with a list of ETags matches when one of them is current", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const c = await api.scim("POST", "/Users", userBody("a@example.com"));
  const { id, meta } = c.json<{ id: string; meta: { version: string } }>();
  const op = { schemas: [PATCH], Operations: [{ op: "add", path: "title", value: "t" }] };
  const ok = await api.scim("PATCH", `/Users/${id}`, op, { "if-match": `W/"999", ${meta.version}` });
  assert.equal(ok.statusCode, 200, ok.body);
  const stale = await api.scim("PATCH", `/Users/${id}`, op, { "if-match": `W/"998", ${meta.version}` });
  assert.equal(stale.statusCode, 412);
  assert.equal(stale.json<{ scimType: string }>().scimType, "invalidVers");
  const garbage = await api.scim("PATCH", `/Users/${id}`, op, { "if-match": "nonsense" });
  assert.equal(garbage.statusCode, 412);
});

test("SCIM review: /Me and /Bulk, which this server does not offer, answer 501 in the error schema", async (t) => {
  const api = await newScimApi(t, { crds: false });
  for (const [method, url] of [
    ["GET", "/Me"],
    ["PATCH", "/Me"],
    ["POST", "/Bulk"],
  ] as const) {
    const r = await api.scim(
      method,
      url,
      method === "GET" ? undefined : { schemas: [PATCH], Operations: [] },
    );
    assert.equal(r.statusCode, 501, `${method} ${url}`);
    assert.match(r.headers["content-type"] as string, /^application\/scim\+json/);
    const body = r.json<{ schemas: string[]; status: string }>();
    assert.deepEqual(body.schemas, [ERROR]);
    assert.equal(body.status, "501");
    assert.match((body as { detail?: string }).detail ?? "", /not supported/);
  }
  // Still behind the scim token.
  const anon = await api.app.inject({ method: "GET", url: "/scim/v2/Me" });
  assert.equal(anon.statusCode, 401);
});

test("SCIM review: attributes/excludedAttributes shape the resource POST, PUT and PATCH return", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const c = await api.scim("POST", "/Users?attributes=userName,active", userBody("a@example.com"));
  assert.equal(c.statusCode, 201);
  const created = c.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(created).sort(), ["active", "id", "schemas", "userName"]);
  const id = created.id as string;
  assert.ok(c.headers.location, "Location still names the resource");
  assert.ok(c.headers.etag, "the ETag header still comes");
  const put = await api.scim("PUT", `/Users/${id}?excludedAttributes=emails,name`, userBody("a@example.com"));
  assert.equal(put.statusCode, 200);
  const p = put.json<Record<string, unknown>>();
  assert.equal(p.emails, undefined);
  assert.equal(p.name, undefined);
  assert.equal(p.userName, "a@example.com");
  const patch = await api.scim("PATCH", `/Users/${id}?attributes=title`, {
    schemas: [PATCH],
    Operations: [{ op: "add", path: "title", value: "Boss" }],
  });
  assert.equal(patch.statusCode, 200);
  assert.deepEqual(Object.keys(patch.json<object>()).sort(), ["id", "schemas", "title"]);
});

test("SCIM review: a PUT that omits active keeps the current value (a leaver is not re-activated by a profile sync)", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const c = await api.scim("POST", "/Users", userBody("a@example.com"));
  const id = c.json<{ id: string }>().id;
  const off = await api.scim("PUT", `/Users/${id}`, userBody("a@example.com", { active: false }));
  assert.equal(off.json<{ active: boolean }>().active, false);
  const body = userBody("a@example.com", { displayName: "Ada" });
  delete body.active;
  const sync = await api.scim("PUT", `/Users/${id}`, body);
  assert.equal(sync.statusCode, 200);
  assert.equal(
    sync.json<{ active: boolean }>().active,
    false,
    "omitted active is not asserted by the client",
  );
  assert.equal(sync.json<{ displayName: string }>().displayName, "Ada");
  const open = await api.db.query("SELECT 1 FROM leaver_events WHERE closed_at IS NULL");
  assert.equal(open.rowCount, 1, "the leaver event stays open");
  // An explicit active:true still re-activates; a new User without active is active.
  const on = await api.scim("PUT", `/Users/${id}`, userBody("a@example.com", { active: true }));
  assert.equal(on.json<{ active: boolean }>().active, true);
  const fresh = userBody("b@example.com");
  delete fresh.active;
  assert.equal((await api.scim("POST", "/Users", fresh)).json<{ active: boolean }>().active, true);
});

test("SCIM review: attributes/excludedAttributes naming the enterprise extension's URN select or drop it whole", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const c = await api.scim(
    "POST",
    "/Users",
    userBody("a@example.com", { [ENT]: { department: "R&D", costCenter: "CC-1" } }),
  );
  const id = c.json<{ id: string }>().id;
  const only = await api.scim("GET", `/Users/${id}?attributes=${encodeURIComponent(ENT)}`);
  assert.equal(only.statusCode, 200);
  assert.deepEqual(only.json<Record<string, unknown>>()[ENT], { department: "R&D", costCenter: "CC-1" });
  assert.equal(only.json<Record<string, unknown>>().userName, undefined);
  const without = await api.scim("GET", `/Users/${id}?excludedAttributes=${encodeURIComponent(ENT)}`);
  assert.equal(without.json<Record<string, unknown>>()[ENT], undefined);
  assert.equal(without.json<Record<string, unknown>>().userName, "a@example.com");
  const list = await api.scim("GET", `/Users?attributes=userName,${encodeURIComponent(ENT.toLowerCase())}`);
  const r = list.json<{ Resources: Record<string, unknown>[] }>().Resources[0]!;
  assert.deepEqual(r[ENT], { department: "R&D", costCenter: "CC-1" });
  assert.equal(r.userName, "a@example.com");
});

test("SCIM review: ServiceProviderConfig refuses a filter with 403 (RFC 7644 §4) and names the bearer-token spec", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const f = await api.scim(
    "GET",
    `/ServiceProviderConfig?filter=${encodeURIComponent("patch.supported eq false")}`,
  );
  assert.equal(f.statusCode, 403);
  assert.deepEqual(f.json<{ schemas: string[] }>().schemas, [ERROR]);
  const spc = await api.scim("GET", "/ServiceProviderConfig");
  const s = spc.json<{
    filter: { supported: boolean; maxResults: number };
    authenticationSchemes: { type: string; name: string; description: string; specUri?: string }[];
  }>();
  assert.equal(s.filter.supported, true);
  assert.ok(s.filter.maxResults > 0);
  assert.equal(s.authenticationSchemes[0]!.type, "oauthbearertoken");
  assert.equal(s.authenticationSchemes[0]!.specUri, "https://www.rfc-editor.org/info/rfc6750");
});
