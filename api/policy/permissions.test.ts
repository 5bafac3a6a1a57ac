import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chainExpiry,
  checkMint,
  tokenRights,
  isAllowed,
  isScope,
  roleAllows,
  rankOf,
  type Permission,
  type Role,
} from "./permissions.ts";

const cases: { role: Role; permission: Permission; want: boolean }[] = [
  { role: "superadmin", permission: "users:admin", want: true },
  { role: "superadmin", permission: "tokens:write", want: true },
  { role: "admin", permission: "users:admin", want: false },
  { role: "admin", permission: "tokens:write", want: false },
  { role: "admin", permission: "assettypes:write", want: true },
  { role: "admin", permission: "settings:write", want: true },
  { role: "admin", permission: "orders:approve", want: true },
  { role: "approver", permission: "orders:approve", want: true },
  { role: "approver", permission: "orders:write", want: false },
  { role: "approver", permission: "assettypes:read", want: true },
  { role: "approver", permission: "audit:read", want: false },
  { role: "auditor", permission: "audit:read", want: true },
  { role: "auditor", permission: "cost:read", want: true },
  { role: "auditor", permission: "leavers:read", want: true },
  { role: "auditor", permission: "orders:approve", want: false },
  { role: "helpdesk", permission: "orders:read", want: true },
  { role: "helpdesk", permission: "orders:write", want: false },
  { role: "helpdesk", permission: "audit:read", want: false },
  { role: "employee", permission: "orders:write", want: true },
  { role: "employee", permission: "orders:approve", want: false },
  { role: "employee", permission: "public", want: true },
];
for (const c of cases) {
  test(`${c.role} ${c.want ? "may" : "may not"} ${c.permission}`, () => {
    assert.equal(roleAllows(c.role, c.permission), c.want);
  });
}

test("effective rights = role ∩ scope: an admin:* token with the auditor role cannot write", () => {
  const t = { role: "auditor" as const, scopes: ["admin:*"] };
  assert.equal(isAllowed(t, "audit:read"), true);
  assert.equal(isAllowed(t, "orders:write"), false);
  assert.equal(isAllowed(t, "assettypes:write"), false);
  const narrow = { role: "superadmin" as const, scopes: ["orders:read"] };
  assert.equal(isAllowed(narrow, "orders:read"), true);
  assert.equal(isAllowed(narrow, "orders:write"), false, "the scope caps a strong role");
  assert.equal(isAllowed({ role: "admin", scopes: ["orders:*"] }, "orders:approve"), true);
  assert.equal(isAllowed({ role: "admin", scopes: ["orders:*"] }, "assettypes:read"), false);
});

test("mint guard: never above one's own role, nor beyond one's own scopes", () => {
  const admin = { role: "admin" as const, scopes: null };
  assert.deepEqual(checkMint(admin, { role: "admin", scopes: ["admin:*"] }), { ok: true });
  const up = checkMint(admin, { role: "superadmin", scopes: ["orders:read"] });
  assert.equal(up.ok, false);
  assert.equal(!up.ok && up.reason, "AboveOwnRole");
  const tokenMinter = { role: "superadmin" as const, scopes: ["tokens:write", "orders:read"] };
  const wide = checkMint(tokenMinter, { role: "admin", scopes: ["admin:*"] });
  assert.equal(!wide.ok && wide.reason, "AboveOwnScopes");
  assert.deepEqual(checkMint(tokenMinter, { role: "helpdesk", scopes: ["orders:read"] }), { ok: true });
});

test("scope strings", () => {
  for (const s of ["orders:read", "orders:*", "admin:*", "scim", "hr:leaver", "audit:read"])
    assert.ok(isScope(s), s);
  for (const s of ["public", "ingest", "nope", "nope:*", ""]) assert.ok(!isScope(s), s);
  assert.ok(rankOf("superadmin") > rankOf("admin") && rankOf("auditor") > rankOf("helpdesk"));
});

test("token rights: the lowest role along the chain and the creator, scopes intersected", () => {
  const r = tokenRights(
    [
      { role: "superadmin", scopes: ["admin:*"] },
      { role: "superadmin", scopes: ["audit:read", "orders:*"] },
    ],
    "admin",
  );
  assert.equal(r.role, "admin");
  assert.deepEqual(r.scopes.sort(), [
    "audit:read",
    "orders:approve",
    "orders:read",
    "orders:reset",
    "orders:write",
    "self",
  ]);
  assert.equal(isAllowed(r, "users:admin"), false);
  assert.equal(isAllowed(r, "orders:write"), true);
  // A creator demoted to auditor: only the auditor's share of the token's scopes.
  const a = tokenRights([{ role: "superadmin", scopes: ["admin:*"] }], "auditor");
  assert.equal(a.role, "auditor");
  assert.equal(isAllowed(a, "orders:write"), false);
  assert.equal(isAllowed(a, "audit:read"), true);
  // A product-issued token (no creator account): its own role.
  assert.equal(tokenRights([{ role: "helpdesk", scopes: ["orders:read"] }], undefined).role, "helpdesk");
});

test("chain expiry: the earliest along the chain", () => {
  const d = (s: string) => new Date(s);
  assert.equal(chainExpiry([{ expiresAt: null }, { expiresAt: null }]), null);
  assert.deepEqual(
    chainExpiry([{ expiresAt: d("2030-01-02T00:00:00Z") }, { expiresAt: d("2030-01-01T00:00:00Z") }]),
    d("2030-01-01T00:00:00Z"),
  );
});
