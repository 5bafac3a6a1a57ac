// Conformance review (RFC 7643/7644, and what Entra ID and Okta provisioning send): defects a
// SCIM test suite probes, each found by a real request on the real wiring, then fixed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newScimApi, userBody } from "./support.ts";

const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

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
