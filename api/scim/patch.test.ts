import { test } from "node:test";
import assert from "node:assert/strict";
import { applyPatch } from "./patch.ts";
import { ENTERPRISE_USER, PATCH_OP } from "./schema.ts";
import { normaliseUser, projectUser, type ScimUser } from "./user.ts";

function base(): ScimUser {
  const n = normaliseUser({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "ada@example.com",
    externalId: "e-1",
    name: { givenName: "Ada", familyName: "Lovelace" },
    emails: [{ value: "ada@example.com", type: "work", primary: true }],
    active: true,
    [ENTERPRISE_USER]: { department: "R&D", employeeNumber: "42" },
  });
  assert.ok(n.ok);
  return n.user;
}

const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

test('Entra: capitalised op and active as the string "False"', () => {
  const r = applyPatch(base(), patch({ op: "Replace", path: "active", value: "False" }));
  assert.ok(r.ok);
  assert.equal(r.user.active, false);
  assert.equal(r.changed, true);
});

test("Entra: path-less value whose keys are attribute paths", () => {
  const r = applyPatch(
    base(),
    patch({
      op: "Replace",
      value: {
        "name.givenName": "Augusta",
        "name.familyName": "King",
        [`${ENTERPRISE_USER}:manager`]: "mgr-7",
        [`${ENTERPRISE_USER}:department`]: "Analytics",
      },
    }),
  );
  assert.ok(r.ok, r.ok ? "" : r.problem.detail);
  assert.deepEqual(r.user.name, { givenName: "Augusta", familyName: "King" });
  assert.deepEqual(r.user[ENTERPRISE_USER], {
    department: "Analytics",
    employeeNumber: "42",
    manager: { value: "mgr-7" },
  });
});

test("Entra: manager as a bare string value with a path", () => {
  const r = applyPatch(base(), patch({ op: "Add", path: `${ENTERPRISE_USER}:manager`, value: "boss-1" }));
  assert.ok(r.ok);
  assert.deepEqual((r.user[ENTERPRISE_USER] as Record<string, unknown>).manager, { value: "boss-1" });
  const rm = applyPatch(r.user, patch({ op: "Remove", path: `${ENTERPRISE_USER}:manager` }));
  assert.ok(rm.ok);
  assert.equal((rm.user[ENTERPRISE_USER] as Record<string, unknown>).manager, undefined);
});

test('Entra: emails[type eq "work"].value replaces the work address', () => {
  const r = applyPatch(
    base(),
    patch({ op: "Replace", path: 'emails[type eq "work"].value', value: "ada@new.example" }),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.user.emails, [{ value: "ada@new.example", type: "work", primary: true }]);
});

test('Entra: emails[type eq "home"].value added to a user with no home address creates it', () => {
  const r = applyPatch(
    base(),
    patch({ op: "Add", path: 'emails[type eq "home"].value', value: "ada@home.example" }),
  );
  assert.ok(r.ok);
  assert.equal((r.user.emails as unknown[]).length, 2);
});

test("Okta: path-less replace of active", () => {
  const r = applyPatch(base(), patch({ op: "replace", value: { active: false } }));
  assert.ok(r.ok);
  assert.equal(r.user.active, false);
});

test("RFC 7644 §3.5.2: add without path merges; complex values merge", () => {
  const r = applyPatch(
    base(),
    patch({ op: "add", value: { nickName: "Countess", name: { middleName: "King" } } }),
  );
  assert.ok(r.ok);
  assert.equal(r.user.nickName, "Countess");
  assert.deepEqual(r.user.name, { givenName: "Ada", familyName: "Lovelace", middleName: "King" });
});

test("add to a multi-valued attribute appends; a new primary demotes the old one", () => {
  const r = applyPatch(
    base(),
    patch({ op: "add", path: "emails", value: [{ value: "a@b.c", type: "other", primary: true }] }),
  );
  assert.ok(r.ok);
  const emails = r.user.emails as { value: string; primary?: boolean }[];
  assert.equal(emails.length, 2);
  assert.deepEqual(
    emails.filter((e) => e.primary).map((e) => e.value),
    ["a@b.c"],
  );
});

test("remove with a value filter removes the matching values", () => {
  const two = applyPatch(
    base(),
    patch({ op: "add", path: "emails", value: [{ value: "h@x", type: "home" }] }),
  );
  assert.ok(two.ok);
  const r = applyPatch(two.user, patch({ op: "remove", path: 'emails[type eq "home"]' }));
  assert.ok(r.ok);
  assert.deepEqual(
    (r.user.emails as { type: string }[]).map((e) => e.type),
    ["work"],
  );
});

test("replace of a sub-attribute without filter", () => {
  const r = applyPatch(base(), patch({ op: "replace", path: "name.familyName", value: "Byron" }));
  assert.ok(r.ok);
  assert.equal((r.user.name as Record<string, unknown>).familyName, "Byron");
});

const errors: { name: string; body: unknown; scimType: string }[] = [
  { name: "not an object", body: [], scimType: "invalidSyntax" },
  { name: "no Operations", body: { schemas: [PATCH_OP] }, scimType: "invalidSyntax" },
  {
    name: "wrong schema",
    body: { schemas: ["x"], Operations: [{ op: "add", value: {} }] },
    scimType: "invalidSyntax",
  },
  { name: "unknown op", body: patch({ op: "move", path: "title", value: "x" }), scimType: "invalidSyntax" },
  { name: "remove without path", body: patch({ op: "remove" }), scimType: "noTarget" },
  {
    name: "unknown attribute",
    body: patch({ op: "replace", path: "shoeSize", value: 4 }),
    scimType: "invalidPath",
  },
  {
    name: "bad path syntax",
    body: patch({ op: "replace", path: "emails[type eq", value: 4 }),
    scimType: "invalidPath",
  },
  { name: "read-only id", body: patch({ op: "replace", path: "id", value: "x" }), scimType: "mutability" },
  {
    name: "read-only meta",
    body: patch({ op: "replace", path: "meta.created", value: "x" }),
    scimType: "mutability",
  },
  {
    name: "replace through a filter matching nothing",
    body: patch({ op: "replace", path: 'emails[value eq "nobody"]', value: { value: "x" } }),
    scimType: "noTarget",
  },
  {
    name: "active not a boolean",
    body: patch({ op: "replace", path: "active", value: "perhaps" }),
    scimType: "invalidValue",
  },
  { name: "userName removed", body: patch({ op: "remove", path: "userName" }), scimType: "invalidValue" },
  {
    name: "path-less with non-object value",
    body: patch({ op: "add", value: "x" }),
    scimType: "invalidValue",
  },
];
for (const c of errors) {
  test(`PATCH error: ${c.name} → ${c.scimType}`, () => {
    const r = applyPatch(base(), c.body);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.problem.status, 400);
      assert.equal(r.problem.scimType, c.scimType);
    }
  });
}

test("normalise: Entra and Okta create shapes", () => {
  const n = normaliseUser({
    UserName: "x@y.z",
    Active: "True",
    emails: { value: "x@y.z", type: "work", primary: true },
    [ENTERPRISE_USER.toUpperCase()]: { EmployeeNumber: 7, manager: "m-1" },
    groups: [{ value: "g" }],
    password: "hunter2",
    customThing: 1,
  });
  assert.ok(n.ok);
  assert.deepEqual(n.user, {
    userName: "x@y.z",
    active: true,
    emails: [{ value: "x@y.z", type: "work", primary: true }],
    [ENTERPRISE_USER]: { employeeNumber: "7", manager: { value: "m-1" } },
  });
});

test("projection: attributes and excludedAttributes", () => {
  const full = {
    schemas: ["s"],
    id: "1",
    userName: "u",
    name: { givenName: "g", familyName: "f" },
    emails: [{ value: "e", type: "work" }],
    meta: {},
  };
  assert.deepEqual(projectUser(full, "userName", undefined), { schemas: ["s"], id: "1", userName: "u" });
  assert.deepEqual(projectUser(full, "name.givenName,emails.value", undefined), {
    schemas: ["s"],
    id: "1",
    name: { givenName: "g" },
    emails: [{ value: "e" }],
  });
  assert.deepEqual(Object.keys(projectUser(full, undefined, "emails,meta,id")), [
    "schemas",
    "id",
    "userName",
    "name",
  ]);
});
