// API tokens never outlive their creator's authority (issue #15, item 2): a token acts with at
// most its creator's current role, dies with a disabled or deleted creator, and a token minted
// by a token cannot outlive the parent's expiry and is revoked with it. Through the real API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, bearer, newApi, signInAs, type Api } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

type Headers = Record<string, string>;

async function mint(api: Api, as: Headers, payload: object) {
  const r = await api.app.inject({ method: "POST", url: "/admin/tokens", headers: as, payload });
  assert.equal(r.statusCode, 201, r.body);
  const b = r.json<{ id: string; token: string; expiresAt: string | null }>();
  return { id: b.id, headers: bearer(b.token), expiresAt: b.expiresAt };
}

const get = (api: Api, url: string, headers: Headers) => api.app.inject({ method: "GET", url, headers });

test("a token acts with its creator's current role: demoted creator, demoted token", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const boss = await addAdmin(api, "boss", "superadmin");
  const root = await signInAs(api, "root");
  const b = await signInAs(api, "boss");
  const tok = await mint(api, b.headers, { name: "boss-all", role: "superadmin", scopes: ["admin:*"] });
  assert.equal((await get(api, "/admin/users", tok.headers)).statusCode, 200);

  const demote = await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${boss.id}`,
    headers: root.headers,
    payload: { role: "auditor" },
  });
  assert.equal(demote.statusCode, 200, demote.body);
  // Now an auditor's token: no account management, no new superadmin, but the audit log.
  assert.equal((await get(api, "/admin/users", tok.headers)).statusCode, 403);
  const made = await api.app.inject({
    method: "POST",
    url: "/admin/users",
    headers: tok.headers,
    payload: { username: "evil", role: "superadmin", password: "a long enough password" },
  });
  assert.equal(made.statusCode, 403, made.body);
  assert.equal((await get(api, "/audit", tok.headers)).statusCode, 200);
  const me = await get(api, "/auth/me", tok.headers);
  assert.equal(me.json<{ role: string }>().role, "auditor");

  // Promoted back: the token's own role is the ceiling again.
  await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${boss.id}`,
    headers: root.headers,
    payload: { role: "superadmin" },
  });
  assert.equal((await get(api, "/admin/users", tok.headers)).statusCode, 200);
});

test("a token dies with a disabled or deleted creator, also a token minted by that token", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const boss = await addAdmin(api, "boss", "superadmin");
  const root = await signInAs(api, "root");
  const b = await signInAs(api, "boss");
  const tok = await mint(api, b.headers, { name: "boss-all", role: "superadmin", scopes: ["admin:*"] });
  const child = await mint(api, tok.headers, { name: "boss-child", role: "admin", scopes: ["audit:read"] });
  assert.equal((await get(api, "/audit", child.headers)).statusCode, 200);

  const patch = (payload: object) =>
    api.app.inject({ method: "PATCH", url: `/admin/users/${boss.id}`, headers: root.headers, payload });
  assert.equal((await patch({ disabled: true })).statusCode, 200);
  for (const h of [tok.headers, child.headers]) {
    const r = await get(api, "/auth/me", h);
    assert.equal(r.statusCode, 401, r.body);
  }
  // Dead, not suspended: re-enabling the account does not revive them.
  assert.equal((await patch({ disabled: false })).statusCode, 200);
  assert.equal((await get(api, "/auth/me", child.headers)).statusCode, 401);
  const upd = await api.db.query<{ data: { tokensRevoked?: string[] } }>(
    "SELECT data FROM audit_events WHERE action = 'admin_user_updated' ORDER BY id LIMIT 1",
  );
  assert.deepEqual(upd.rows[0]?.data.tokensRevoked, ["boss-all", "boss-child"]);

  // Disabled outside the API (e.g. in the database during an incident): refused on use too.
  const b2 = await signInAs(api, "boss");
  const tok2 = await mint(api, b2.headers, { name: "boss-2", role: "admin", scopes: ["audit:read"] });
  await api.db.query("UPDATE users SET disabled = true WHERE id = $1", [boss.id]);
  const sus = await get(api, "/audit", tok2.headers);
  assert.equal(sus.statusCode, 401, sus.body);
  assert.match(sus.json<{ error: string }>().error, /disabled/);
  await api.db.query("UPDATE users SET disabled = false WHERE id = $1", [boss.id]);
  assert.equal((await get(api, "/audit", tok2.headers)).statusCode, 200);

  // Deleted: dead, and a new account of the same name does not inherit them.
  const del = await api.app.inject({
    method: "DELETE",
    url: `/admin/users/${boss.id}`,
    headers: root.headers,
  });
  assert.equal(del.statusCode, 204, del.body);
  assert.equal((await get(api, "/audit", tok2.headers)).statusCode, 401);
  await addAdmin(api, "boss", "superadmin");
  assert.equal((await get(api, "/audit", tok2.headers)).statusCode, 401);
  // Deleted outside the API: the token names a creator that no longer exists.
  const b3 = await signInAs(api, "boss");
  const tok3 = await mint(api, b3.headers, { name: "boss-3", role: "admin", scopes: ["audit:read"] });
  await api.db.query("DELETE FROM users WHERE username = 'boss'");
  const gone = await get(api, "/audit", tok3.headers);
  assert.equal(gone.statusCode, 401, gone.body);
  assert.match(gone.json<{ error: string }>().error, /deleted/);
});

test("a token minted by a token cannot outlive its parent and is revoked with it", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const root = await signInAs(api, "root");
  const soon = new Date(api.clock.now.getTime() + 5_000);
  const parent = await mint(api, root.headers, {
    name: "short",
    role: "superadmin",
    scopes: ["admin:*"],
    expiresAt: soon.toISOString(),
  });
  // No expiry asked: the parent's; a later one: refused.
  const child = await mint(api, parent.headers, {
    name: "short-child",
    role: "superadmin",
    scopes: ["tokens:write", "audit:read"],
  });
  assert.equal(child.expiresAt, soon.toISOString());
  const later = await api.app.inject({
    method: "POST",
    url: "/admin/tokens",
    headers: parent.headers,
    payload: {
      name: "short-later",
      role: "admin",
      scopes: ["audit:read"],
      expiresAt: new Date(soon.getTime() + 3600_000).toISOString(),
    },
  });
  assert.equal(later.statusCode, 400, later.body);
  assert.equal(later.json<{ reason: string }>().reason, "OutlivesParent");
  // A grandchild whose expiry row was written without one (older data) still dies with the chain.
  await api.db.query("UPDATE api_tokens SET expires_at = NULL WHERE name = 'short-child'");
  const grandchild = await mint(api, child.headers, {
    name: "short-gc",
    role: "admin",
    scopes: ["audit:read"],
  });
  assert.equal((await get(api, "/audit", grandchild.headers)).statusCode, 200);
  api.clock.now = new Date(soon.getTime() + 1);
  for (const h of [parent.headers, child.headers, grandchild.headers]) {
    const r = await get(api, "/audit", h);
    assert.equal(r.statusCode, 401, r.body);
    assert.match(r.json<{ error: string }>().error, /expired/);
  }

  // Revocation cascades: revoking the parent revokes every token minted from it.
  const p2 = await mint(api, root.headers, { name: "p2", role: "superadmin", scopes: ["admin:*"] });
  const c2 = await mint(api, p2.headers, {
    name: "c2",
    role: "superadmin",
    scopes: ["tokens:write", "audit:read"],
  });
  const g2 = await mint(api, c2.headers, { name: "g2", role: "admin", scopes: ["audit:read"] });
  assert.equal((await get(api, "/audit", g2.headers)).statusCode, 200);
  const rev = await api.app.inject({
    method: "DELETE",
    url: `/admin/tokens/${p2.id}`,
    headers: root.headers,
  });
  assert.equal(rev.statusCode, 200, rev.body);
  assert.deepEqual(rev.json<{ cascaded: string[] }>().cascaded, ["c2", "g2"]);
  for (const h of [c2.headers, g2.headers]) {
    const r = await get(api, "/audit", h);
    assert.equal(r.statusCode, 401, r.body);
    assert.match(r.json<{ error: string }>().error, /was revoked/);
  }
  const rows = await api.db.query<{ name: string }>(
    "SELECT name FROM api_tokens WHERE revoked_at IS NOT NULL AND name IN ('p2','c2','g2') ORDER BY name",
  );
  assert.deepEqual(
    rows.rows.map((r) => r.name),
    ["c2", "g2", "p2"],
  );
  const audit = await api.db.query<{ data: { cascaded?: string[] } }>(
    "SELECT data FROM audit_events WHERE action = 'api_token_revoked' AND target = 'token:p2'",
  );
  assert.deepEqual(audit.rows[0]?.data.cascaded, ["c2", "g2"]);
});

test("a token carries its creator's asset-type grants", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const scoped = await addAdmin(api, "scoped", "superadmin");
  const root = await signInAs(api, "root");
  for (const name of ["mine", "other"]) {
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: root.headers,
      payload: { spec: assetTypeSpec() },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  // Minted while a superadmin (only superadmins mint), then the account becomes an admin
  // scoped to "mine": the token follows both the demotion and the grants.
  const s = await signInAs(api, "scoped");
  const tok = await mint(api, s.headers, { name: "scoped-admin", role: "admin", scopes: ["assettypes:*"] });
  const demote = await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${scoped.id}`,
    headers: root.headers,
    payload: { role: "admin" },
  });
  assert.equal(demote.statusCode, 200, demote.body);
  const grant = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${scoped.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["mine"] },
  });
  assert.equal(grant.statusCode, 200, grant.body);
  assert.equal((await get(api, "/assettypes/other", tok.headers)).statusCode, 404);
  assert.equal((await get(api, "/assettypes/mine", tok.headers)).statusCode, 200);
  const list = await get(api, "/assettypes", tok.headers);
  assert.deepEqual(
    list.json<{ items: { name: string }[] }>().items.map((i) => i.name),
    ["mine"],
  );
});

test("ACL grants name existing asset types: an unknown name is refused with 422 and the names", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  const put = await api.app.inject({
    method: "PUT",
    url: "/assettypes/real",
    headers: root.headers,
    payload: { spec: assetTypeSpec() },
  });
  assert.equal(put.statusCode, 201, put.body);
  const grant = (assetTypes: string[]) =>
    api.app.inject({
      method: "PUT",
      url: `/admin/users/${sam.id}/grants`,
      headers: root.headers,
      payload: { assetTypes },
    });
  const bad = await grant(["real", "typo", "Nope"]);
  assert.equal(bad.statusCode, 422, bad.body);
  assert.match(bad.json<{ error: string }>().error, /no such asset type: Nope, typo/);
  assert.deepEqual((await api.db.query("SELECT 1 FROM asset_type_grants")).rowCount, 0);
  assert.equal((await grant(["real"])).statusCode, 200);
});
