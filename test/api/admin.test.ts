// Admin accounts and tokens over HTTP: the last-superadmin guard, token minting (shown once,
// hashed at rest, mint guard), effective rights = role ∩ scope, revocation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addAdmin, addToken, bearer, newApi, signInAs } from "./support.ts";

test("the last active superadmin cannot be demoted, disabled or deleted; nobody changes their own role or state", async (t) => {
  const api = await newApi(t);
  const root = await addAdmin(api, "root", "superadmin");
  const s = await signInAs(api, "root");
  const patch = (id: string, payload: object, h = s.headers) =>
    api.app.inject({ method: "PATCH", url: `/admin/users/${id}`, headers: h, payload });

  // The last superadmin, reached by a legacy-key caller (no account of its own).
  const legacy = await newApi(t, { config: { IPSOLIS_ADMIN_KEY: "k".repeat(32) } });
  const lroot = await addAdmin(legacy, "root", "superadmin");
  for (const payload of [{ role: "admin" }, { disabled: true }]) {
    const r = await legacy.app.inject({
      method: "PATCH",
      url: `/admin/users/${lroot.id}`,
      headers: { "x-admin-key": "k".repeat(32) },
      payload,
    });
    assert.equal(r.statusCode, 409, JSON.stringify(payload));
    assert.equal(r.json<{ reason: string }>().reason, "LastSuperadmin");
  }

  // One's own role and state: refused with 409, also with a second superadmin around.
  const made = await api.app.inject({
    method: "POST",
    url: "/admin/users",
    headers: s.headers,
    payload: { username: "second", role: "superadmin", password: "a long enough password" },
  });
  assert.equal(made.statusCode, 201, made.body);
  const second = made.json<{ user: { id: string } }>().user;
  for (const payload of [{ role: "admin" }, { disabled: true }]) {
    const r = await patch(root.id, payload);
    assert.equal(r.statusCode, 409, JSON.stringify(payload));
    assert.equal(r.json<{ reason: string }>().reason, "OwnAccount");
  }
  const own = await api.app.inject({ method: "DELETE", url: `/admin/users/${root.id}`, headers: s.headers });
  assert.equal(own.statusCode, 409);
  assert.equal(own.json<{ reason: string }>().reason, "OwnAccount");
  // Not a change: the same role, and one's own e-mail.
  assert.equal((await patch(root.id, { role: "superadmin" })).statusCode, 200);
  assert.equal((await patch(root.id, { email: "root2@example.com" })).statusCode, 200);
  // Through a token one minted: the same refusal.
  const tok = await api.app.inject({
    method: "POST",
    url: "/admin/tokens",
    headers: s.headers,
    payload: { name: "root-all", role: "superadmin", scopes: ["admin:*"] },
  });
  const th = bearer(tok.json<{ token: string }>().token);
  const viaToken = await patch(root.id, { role: "admin" }, th);
  assert.equal(viaToken.statusCode, 409, viaToken.body);
  assert.equal(viaToken.json<{ reason: string }>().reason, "OwnAccount");

  // The second superadmin demotes root; then the second is the last.
  const s2 = await signInAs(api, "second");
  assert.equal((await patch(root.id, { role: "admin" }, s2.headers)).statusCode, 200);
  const last = await api.app.inject({
    method: "DELETE",
    url: `/admin/users/${second.id}`,
    headers: (await signInAs(api, "second")).headers,
  });
  assert.equal(last.statusCode, 409);
  // The demoted root's session ended with the role change.
  const me = await api.app.inject({ method: "GET", url: "/auth/me", headers: { cookie: s.cookie } });
  assert.equal(me.statusCode, 401);
  const audit = await api.db.query("SELECT 1 FROM audit_events WHERE action = 'admin_user_updated'");
  assert.equal(audit.rowCount, 3);
});

test("two admin accounts may not share an e-mail address, in any letter case", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const s = await signInAs(api, "root");
  const create = (username: string, email: string) =>
    api.app.inject({
      method: "POST",
      url: "/admin/users",
      headers: s.headers,
      payload: { username, email, role: "approver", password: "a long enough password" },
    });
  assert.equal((await create("ann", "ann@example.com")).statusCode, 201);
  const dup = await create("ann2", "ANN@Example.com");
  assert.equal(dup.statusCode, 409, dup.body);
  assert.equal(dup.json<{ reason: string }>().reason, "EmailTaken");
  const bert = await create("bert", "bert@example.com");
  const id = bert.json<{ user: { id: string } }>().user.id;
  const upd = await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${id}`,
    headers: s.headers,
    payload: { email: "Ann@example.com" },
  });
  assert.equal(upd.statusCode, 409, upd.body);
  assert.equal(upd.json<{ reason: string }>().reason, "EmailTaken");
  const users = await api.db.query("SELECT 1 FROM users WHERE lower(email) = 'ann@example.com'");
  assert.equal(users.rowCount, 1);
});

test("tokens: shown once, stored hashed, effective rights = role ∩ scope, mint guard, revocation", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const s = await signInAs(api, "root");
  const mint = (payload: object, headers: Record<string, string> = s.headers) =>
    api.app.inject({ method: "POST", url: "/admin/tokens", headers, payload });

  const made = await mint({ name: "auditor-wide", role: "auditor", scopes: ["admin:*"] });
  assert.equal(made.statusCode, 201, made.body);
  const { token, id } = made.json<{ token: string; id: string }>();
  assert.match(token, /^ips_[A-Za-z0-9_-]{43}$/);
  const stored = await api.db.query<{ token_hash: string }>(
    "SELECT token_hash FROM api_tokens WHERE id = $1",
    [id],
  );
  assert.notEqual(stored.rows[0]!.token_hash, token);
  assert.ok(!JSON.stringify(stored.rows).includes(token), "no plaintext at rest");
  const listed = await api.app.inject({ method: "GET", url: "/admin/tokens", headers: s.headers });
  assert.ok(!listed.body.includes(token), "never shown again");

  // admin:* bound to auditor: reads what an auditor reads, writes nothing.
  const whoami = await api.app.inject({ method: "GET", url: "/auth/me", headers: bearer(token) });
  assert.equal(whoami.json<{ actor: string }>().actor, "token:auditor-wide");
  const write = await api.app.inject({
    method: "PUT",
    url: "/admin/settings",
    headers: bearer(token),
    payload: { passwordMinLength: 8 },
  });
  assert.equal(write.statusCode, 403);
  assert.match(write.body, /role auditor lacks permission settings:write/);

  // A narrow scope caps a strong role.
  const narrow = await addToken(api, "admin", ["orders:read"], "narrow");
  const denied = await api.app.inject({ method: "GET", url: "/admin/settings", headers: bearer(narrow) });
  assert.equal(denied.statusCode, 403);
  assert.match(denied.body, /token's scopes do not include settings:write/);
  const settingsToken = await addToken(api, "admin", ["settings:write"], "settings");
  const allowed = await api.app.inject({
    method: "GET",
    url: "/admin/settings",
    headers: bearer(settingsToken),
  });
  assert.equal(allowed.statusCode, 200);

  // Mint guard: a token that may mint cannot hand out more than it has.
  const minter = await addToken(api, "superadmin", ["tokens:write", "orders:read"], "minter");
  const above = await mint({ name: "wider", role: "admin", scopes: ["admin:*"] }, bearer(minter));
  assert.equal(above.statusCode, 403, above.body);
  assert.equal(above.json<{ reason: string }>().reason, "AboveOwnScopes");
  const within = await mint({ name: "reader", role: "helpdesk", scopes: ["orders:read"] }, bearer(minter));
  assert.equal(within.statusCode, 201, within.body);
  // Others than superadmins cannot mint at all.
  await addAdmin(api, "ada", "admin");
  const ada = await signInAs(api, "ada");
  const adminMint = await mint({ name: "x", role: "helpdesk", scopes: ["orders:read"] }, ada.headers);
  assert.equal(adminMint.statusCode, 403);
  // Unknown scopes are a 400 with the field path.
  const bad = await mint({ name: "bad", role: "helpdesk", scopes: ["orders:delete"] });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ fields: { path: string }[] }>().fields[0]!.path, "body.scopes.0");

  // Revocation: 401 with a clear message from then on.
  const rev = await api.app.inject({ method: "DELETE", url: `/admin/tokens/${id}`, headers: s.headers });
  assert.equal(rev.statusCode, 200, rev.body);
  const after = await api.app.inject({ method: "GET", url: "/auth/me", headers: bearer(token) });
  assert.equal(after.statusCode, 401);
  assert.match(after.body, /was revoked/);
  const audit = await api.db.query<{ action: string }>(
    "SELECT action FROM audit_events WHERE action LIKE 'api_token_%' ORDER BY id",
  );
  assert.deepEqual(
    audit.rows.map((r) => r.action),
    ["api_token_created", "api_token_created", "api_token_revoked"],
  );
});

test("settings: admins change the password policy, audited with before/after", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin");
  const a = await signInAs(api, "ada");
  const r = await api.app.inject({
    method: "PUT",
    url: "/admin/settings",
    headers: a.headers,
    payload: { passwordMinLength: 16, lockoutThreshold: 3 },
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json(), { passwordMinLength: 16, lockoutThreshold: 3, lockoutMinutes: 15 });
  const bad = await api.app.inject({
    method: "PUT",
    url: "/admin/settings",
    headers: a.headers,
    payload: { passwordMinLength: 2 },
  });
  assert.equal(bad.statusCode, 400);
  const row = await api.db.query<{
    data: { before: { passwordMinLength: number }; after: { passwordMinLength: number } };
  }>("SELECT data FROM audit_events WHERE action = 'settings_updated'");
  assert.equal(row.rows[0]!.data.before.passwordMinLength, 12);
  assert.equal(row.rows[0]!.data.after.passwordMinLength, 16);
});
