import { test } from "node:test";
import assert from "node:assert/strict";
import {
  applyGroupPatch,
  groupEqualities,
  memberChanges,
  normaliseGroup,
  parseGroupFilter,
  projectGroup,
  wantsMembers,
  type GroupDoc,
} from "./group.ts";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const C = "33333333-3333-4333-8333-333333333333";

const doc = (members: string[] = [A, B]): GroupDoc => ({
  displayName: "VPN Users",
  externalId: "ext-1",
  members: members.map((value) => ({ value })),
});
const ops = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
const ids = (g: GroupDoc) => g.members.map((m) => m.value);

test("normalise: Entra's and Okta's create shapes; read-only and unknown attributes ignored", () => {
  const entra = normaliseGroup({
    externalId: "8aa1a0c0",
    displayName: " Sales ",
    meta: { resourceType: "Group" },
    schemas: [GROUP],
    id: "ignored",
  });
  assert.deepEqual(entra, {
    ok: true,
    group: { displayName: "Sales", externalId: "8aa1a0c0", members: [] },
    hasMembers: false,
  });
  const okta = normaliseGroup({
    schemas: [GROUP],
    DisplayName: "Test",
    [`${GROUP}:members`]: [{ value: A.toUpperCase(), display: "a" }, A, { value: B, type: "User" }],
  });
  assert.ok(okta.ok);
  assert.deepEqual(ids(okta.group), [A, B], "lower-cased, duplicates dropped, bare strings taken");
  assert.equal(okta.hasMembers, true);
});

const badCreates: { name: string; body: unknown; scimType: string }[] = [
  { name: "not an object", body: [], scimType: "invalidSyntax" },
  { name: "no displayName", body: { members: [] }, scimType: "invalidValue" },
  { name: "blank displayName", body: { displayName: " " }, scimType: "invalidValue" },
  { name: "displayName not a string", body: { displayName: { x: 1 } }, scimType: "invalidValue" },
  {
    name: "member without value",
    body: { displayName: "x", members: [{ display: "a" }] },
    scimType: "invalidValue",
  },
  {
    name: "a Group as member",
    body: { displayName: "x", members: [{ value: A, type: "Group" }] },
    scimType: "invalidValue",
  },
  { name: "externalId an object", body: { displayName: "x", externalId: {} }, scimType: "invalidValue" },
];
for (const c of badCreates) {
  test(`normalise refuses: ${c.name}`, () => {
    const r = normaliseGroup(c.body);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.problem.status, 400);
      assert.equal(r.problem.scimType, c.scimType);
    }
  });
}

const patches: {
  name: string;
  body: unknown;
  want: string[];
  displayName?: string;
  externalId?: string | null;
}[] = [
  {
    name: "Entra Add members (value list, $ref null)",
    body: ops({ op: "Add", path: "members", value: [{ $ref: null, value: C }] }),
    want: [A, B, C],
  },
  {
    name: "add an existing member: no change",
    body: ops({ op: "add", path: "members", value: [{ value: A }] }),
    want: [A, B],
  },
  {
    name: "Entra Remove members (value list)",
    body: ops({ op: "Remove", path: "members", value: [{ $ref: null, value: A }] }),
    want: [B],
  },
  { name: "remove members without value: all", body: ops({ op: "remove", path: "members" }), want: [] },
  {
    name: 'Okta remove members[value eq "…"]',
    body: ops({ op: "remove", path: `members[value eq "${B.toUpperCase()}"]` }),
    want: [A],
  },
  {
    name: "remove by a filter that matches nothing",
    body: ops({ op: "remove", path: `members[value eq "${C}"]` }),
    want: [A, B],
  },
  {
    name: "replace members",
    body: ops({ op: "replace", path: "members", value: [{ value: C }] }),
    want: [C],
  },
  {
    name: "replace the members a filter matches",
    body: ops({ op: "replace", path: `members[value eq "${A}"]`, value: [{ value: C }] }),
    want: [B, C],
  },
  {
    name: "Okta path-less replace with id and displayName",
    body: ops({ op: "replace", value: { id: "x", displayName: "Renamed" } }),
    want: [A, B],
    displayName: "Renamed",
  },
  {
    name: "Entra Replace displayName with a path",
    body: ops({ op: "Replace", path: "displayName", value: "New" }),
    want: [A, B],
    displayName: "New",
  },
  {
    name: "path-less add of members",
    body: ops({ op: "add", value: { members: [{ value: C }] } }),
    want: [A, B, C],
  },
  {
    name: "externalId replaced and removed",
    body: ops({ op: "replace", path: "externalId", value: "ext-2" }, { op: "remove", path: "externalId" }),
    want: [A, B],
    externalId: null,
  },
  {
    name: "qualified path",
    body: ops({ op: "replace", path: `${GROUP}:displayName`, value: "Q" }),
    want: [A, B],
    displayName: "Q",
  },
  {
    name: "operations in order: add then remove",
    body: ops(
      { op: "add", path: "members", value: [{ value: C }] },
      { op: "remove", path: `members[value eq "${A}"]` },
    ),
    want: [B, C],
  },
];
for (const c of patches) {
  test(`patch: ${c.name}`, () => {
    const r = applyGroupPatch(doc(), c.body);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(ids(r.group), c.want);
    assert.equal(r.group.displayName, c.displayName ?? "VPN Users");
    assert.equal(r.group.externalId, c.externalId === undefined ? "ext-1" : c.externalId);
  });
}

const badPatches: { name: string; body: unknown; scimType: string }[] = [
  { name: "not an object", body: "x", scimType: "invalidSyntax" },
  {
    name: "wrong schemas",
    body: { schemas: ["x"], Operations: [{ op: "remove", path: "members" }] },
    scimType: "invalidSyntax",
  },
  { name: "no operations", body: ops(), scimType: "invalidSyntax" },
  { name: "unknown op", body: ops({ op: "move", path: "members" }), scimType: "invalidSyntax" },
  { name: "remove without path", body: ops({ op: "remove" }), scimType: "noTarget" },
  { name: "remove displayName", body: ops({ op: "remove", path: "displayName" }), scimType: "mutability" },
  { name: "replace id", body: ops({ op: "replace", path: "id", value: "x" }), scimType: "mutability" },
  {
    name: "unknown attribute",
    body: ops({ op: "add", path: "userName", value: "x" }),
    scimType: "invalidPath",
  },
  { name: "malformed path", body: ops({ op: "add", path: "members[", value: "x" }), scimType: "invalidPath" },
  {
    name: "sub-attribute of members",
    body: ops({ op: "replace", path: "members.value", value: "x" }),
    scimType: "invalidPath",
  },
  {
    name: "add through a filter",
    body: ops({ op: "add", path: `members[value eq "${A}"]`, value: [{ value: C }] }),
    scimType: "invalidPath",
  },
  {
    name: "replace through a filter that matches nothing",
    body: ops({ op: "replace", path: `members[value eq "${C}"]`, value: [{ value: C }] }),
    scimType: "noTarget",
  },
  { name: "add without value", body: ops({ op: "add", path: "members" }), scimType: "invalidValue" },
  { name: "path-less value not an object", body: ops({ op: "add", value: [1] }), scimType: "invalidValue" },
  {
    name: "path-less unknown attribute",
    body: ops({ op: "replace", value: { nickName: "x" } }),
    scimType: "invalidPath",
  },
  {
    name: "one bad operation spoils the request",
    body: ops({ op: "add", path: "members", value: [{ value: C }] }, { op: "remove", path: "displayName" }),
    scimType: "mutability",
  },
];
for (const c of badPatches) {
  test(`patch refuses: ${c.name}`, () => {
    const before = doc();
    const r = applyGroupPatch(before, c.body);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.problem.status, 400);
      assert.equal(r.problem.scimType, c.scimType);
    }
    assert.deepEqual(before, doc(), "the input is never changed");
  });
}

test("member changes", () => {
  assert.deepEqual(memberChanges(doc([A, B]).members, doc([B, C]).members), { added: [C], removed: [A] });
});

test("filters: Group attributes only; equalities for the database pre-selection", () => {
  const f = parseGroupFilter(`displayName eq "Sales" and members[value eq "${A.toUpperCase()}"]`);
  assert.ok(f.ok);
  assert.deepEqual(groupEqualities(f.filter), { displayName: "Sales", member: A });
  const byId = parseGroupFilter(`id eq "${A}" and members eq "${B}"`);
  assert.ok(byId.ok);
  assert.deepEqual(groupEqualities(byId.filter), { id: A, member: B });
  const ext = parseGroupFilter('externalId eq "x" or displayName eq "y"');
  assert.ok(ext.ok);
  assert.deepEqual(groupEqualities(ext.filter), {}, "an or gives no pre-selection");
  for (const bad of ['userName eq "x"', 'members[nope eq "x"]', "members.nope pr", 'displayName eq "x']) {
    const r = parseGroupFilter(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.equal(r.problem.scimType, "invalidFilter");
  }
  assert.ok(parseGroupFilter('meta.lastModified gt "2020-01-01T00:00:00Z"').ok);
});

test("projection and whether members are read", () => {
  const full = {
    schemas: [GROUP],
    id: "1",
    displayName: "d",
    members: [{ value: A, display: "a", $ref: "r", type: "User" }],
    meta: { version: 'W/"1"' },
  };
  assert.deepEqual(projectGroup(full, undefined, "members"), {
    schemas: [GROUP],
    id: "1",
    displayName: "d",
    meta: { version: 'W/"1"' },
  });
  assert.deepEqual(projectGroup(full, "DisplayName,members.value", undefined), {
    schemas: [GROUP],
    id: "1",
    displayName: "d",
    members: [{ value: A }],
  });
  assert.deepEqual(projectGroup(full, undefined, "members.$ref,id,meta"), {
    schemas: [GROUP],
    id: "1",
    displayName: "d",
    members: [{ value: A, display: "a", type: "User" }],
  });
  assert.equal(wantsMembers(undefined, undefined), true);
  assert.equal(wantsMembers(undefined, "members"), false);
  assert.equal(wantsMembers(undefined, "members.display"), true);
  assert.equal(wantsMembers("displayName", undefined), false);
  assert.equal(wantsMembers("members.value", undefined), true);
});
