// The edge of every route (issue #15 items 11, 15 and the 401 contract): a NUL byte is a 400
// before any route, our own request id goes into the audit (the client's is kept apart), and
// every 401 names the scheme in WWW-Authenticate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addAdmin, addToken, bearer, newApi, signInAs } from "./support.ts";

test("a NUL byte in the URL, the query or the body is a 400 at the edge, sign-in included", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const cases = [
    { method: "POST" as const, url: "/auth/login", payload: { username: "ro\u0000ot", password: "x" } },
    { method: "POST" as const, url: "/auth/login", payload: { username: "root", password: "a\u0000" } },
    { method: "GET" as const, url: "/audit?actor=a%00b" },
    { method: "GET" as const, url: "/assettypes/a%00b" },
    { method: "GET" as const, url: "/nowhere%00" },
  ];
  for (const c of cases) {
    const r = await api.app.inject(c);
    assert.equal(r.statusCode, 400, `${c.method} ${c.url}: ${r.body}`);
    assert.equal(r.json<{ reason: string }>().reason, "NulByte");
  }
  const s = await signInAs(api, "root");
  const r = await api.app.inject({
    method: "POST",
    url: "/admin/users",
    headers: s.headers,
    payload: { username: "ann", role: "auditor", password: "a long enough\u0000 password" },
  });
  assert.equal(r.statusCode, 400, r.body);
});

test("a client's X-Request-Id is not our request id: ours is generated and answered", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const r = await api.app.inject({
    method: "POST",
    url: "/auth/login",
    headers: { "x-request-id": "forged-id" },
    payload: { username: "root", password: "a long enough password" },
  });
  assert.equal(r.statusCode, 200, r.body);
  const ours = r.headers["x-request-id"];
  assert.match(String(ours), /^[0-9a-f-]{36}$/);
  const rows = await api.db.query<{ request_id: string | null }>(
    "SELECT request_id FROM audit_events WHERE action = 'login_succeeded'",
  );
  assert.equal(rows.rows[0]?.request_id, ours);
  const forged = await api.db.query("SELECT 1 FROM audit_events WHERE request_id = 'forged-id'");
  assert.equal(forged.rowCount, 0);
});

test("every 401 outside SCIM carries WWW-Authenticate", async (t) => {
  const api = await newApi(t);
  for (const headers of [{}, { authorization: "Bearer ips_nope" }, { authorization: "Basic x" }]) {
    const r = await api.app.inject({ method: "GET", url: "/audit", headers });
    assert.equal(r.statusCode, 401, r.body);
    assert.match(String(r.headers["www-authenticate"]), /^Bearer realm="ipsolis"/);
  }
});

test("the order log routes take Kubernetes names only: anything else is a 400 naming the field", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const s = await signInAs(api, "root");
  for (const base of ["/orders", "/audit/orders"]) {
    for (const name of ["x%3FlabelSelector%3Da", "..%2Fsecrets", "UPPER", "a_b", "-x"]) {
      const r = await api.app.inject({ method: "GET", url: `${base}/${name}/log`, headers: s.headers });
      assert.equal(r.statusCode, 400, `${base}/${name}: ${r.body}`);
      assert.match(r.json<{ error: string }>().error, /params\.name/);
      assert.doesNotMatch(r.body, /kubernetes|apiserver|serviceaccount/i);
    }
  }
});

test("SCIM: discovery needs no credentials; location and $ref come from the public URL, not Host", async (t) => {
  const api = await newApi(t, { config: { IPSOLIS_PUBLIC_URL: "https://ipsolis.example.org" } });
  for (const url of ["/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes", "/scim/v2/Schemas"]) {
    const r = await api.app.inject({ method: "GET", url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    assert.doesNotMatch(r.body, /evil/);
  }
  const token = await addToken(api, "admin", ["scim"], "scim");
  const r = await api.app.inject({
    method: "POST",
    url: "/scim/v2/Users",
    headers: { ...bearer(token), host: "evil.example", "content-type": "application/scim+json" },
    payload: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "ann@example.com" },
  });
  assert.equal(r.statusCode, 201, r.body);
  assert.match(String(r.headers.location), /^https:\/\/ipsolis\.example\.org\/scim\/v2\/Users\//);
  assert.match(r.json<{ meta: { location: string } }>().meta.location, /^https:\/\/ipsolis\.example\.org\//);
  const spc = await api.app.inject({
    method: "GET",
    url: "/scim/v2/ResourceTypes",
    headers: { host: "evil.example" },
  });
  assert.doesNotMatch(spc.body, /evil\.example/);
});

test("SCIM contracts: POST /Users needs the User schema; replace through a filter matching nothing is noTarget", async (t) => {
  const api = await newApi(t);
  const h = {
    ...bearer(await addToken(api, "admin", ["scim"], "scim")),
    "content-type": "application/scim+json",
  };
  const post = (payload: object) =>
    api.app.inject({ method: "POST", url: "/scim/v2/Users", headers: h, payload });
  for (const [payload, scimType] of [
    [{ userName: "a@example.com" }, "invalidValue"],
    [{ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], userName: "a@example.com" }, "invalidValue"],
  ] as const) {
    const r = await post(payload);
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json<{ scimType: string }>().scimType, scimType);
  }
  const made = await post({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "b@example.com",
    emails: [{ type: "work", value: "b@example.com", primary: true }],
  });
  assert.equal(made.statusCode, 201, made.body);
  const id = made.json<{ id: string }>().id;
  const patch = await api.app.inject({
    method: "PATCH",
    url: `/scim/v2/Users/${id}`,
    headers: h,
    payload: {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: 'emails[type eq "home"].value', value: "x@example.com" }],
    },
  });
  assert.equal(patch.statusCode, 400, patch.body);
  assert.equal(patch.json<{ scimType: string }>().scimType, "noTarget");
});
