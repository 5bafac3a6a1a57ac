// SCIM Groups on the real wiring (Postgres, auth plugin, tokens): the request sequences Entra ID
// and Okta really send, every error RFC 7644 §3.12 names for them, paging, projection, ETags,
// and how User deletes keep memberships consistent. Sources for the shapes: Microsoft's
// "Tutorial: Develop a sample SCIM endpoint" (group requests: POST with externalId, GET with
// excludedAttributes=members, PATCH Replace displayName / Add and Remove members with a value
// list) and Okta's "SCIM 2.0 protocol reference" (POST with members: [], PUT with the full
// member list, PATCH path-less replace carrying id + displayName, remove members[value eq …]).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import { drainFanouts } from "../../api/leaver/background.ts";
import { auditRows, newScimApi, userBody, type ScimApi } from "./support.ts";

const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

type Member = { value: string; display: string; $ref: string; type: string };
type GroupOut = {
  schemas: string[];
  id: string;
  externalId?: string;
  displayName: string;
  members?: Member[];
  meta: { resourceType: string; version: string; location: string };
};
type ListOut = {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: GroupOut[];
};

async function newUser(api: ScimApi, userName: string, more: Record<string, unknown> = {}): Promise<string> {
  const r = await api.scim("POST", "/Users", userBody(userName, more));
  assert.equal(r.statusCode, 201, r.body);
  return r.json<{ id: string }>().id;
}

function scimError(r: LightMyRequestResponse, status: number, scimType: string | undefined, detail?: RegExp) {
  assert.equal(r.statusCode, status, r.body);
  assert.match(r.headers["content-type"] as string, /^application\/scim\+json/);
  const b = r.json<{ schemas: string[]; status: string; scimType?: string; detail: string }>();
  assert.deepEqual(b.schemas, [ERROR]);
  assert.equal(b.status, String(status));
  assert.equal(b.scimType, scimType);
  if (detail) assert.match(b.detail, detail);
}

const q = (filter: string) => encodeURIComponent(filter);
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

test("Entra: the Group sequence (create, look up, rename, add and remove members, delete)", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const ann = await newUser(api, "ann@contoso.com", { displayName: "Ann A" });
  const bob = await newUser(api, "bob@contoso.com");

  // Entra's probe before it creates: filter by displayName, members left out.
  const probe = await api.scim(
    "GET",
    `/Groups?excludedAttributes=members&filter=${q('displayName eq "Sales"')}`,
  );
  assert.equal(probe.statusCode, 200, probe.body);
  assert.deepEqual(probe.json<ListOut>(), {
    schemas: [LIST],
    totalResults: 0,
    startIndex: 1,
    itemsPerPage: 0,
    Resources: [],
  });

  const created = await api.scim("POST", "/Groups", {
    externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    displayName: "Sales",
    meta: { resourceType: "Group" },
    schemas: [GROUP],
  });
  assert.equal(created.statusCode, 201, created.body);
  const g = created.json<GroupOut>();
  assert.deepEqual(g.schemas, [GROUP]);
  assert.equal(g.displayName, "Sales");
  assert.equal(g.externalId, "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
  assert.deepEqual(g.members, []);
  assert.equal(g.meta.resourceType, "Group");
  assert.equal(g.meta.version, 'W/"1"');
  assert.equal(created.headers.etag, 'W/"1"');
  assert.equal(created.headers.location, g.meta.location);
  assert.match(g.meta.location, new RegExp(`/scim/v2/Groups/${g.id}$`));

  const get = await api.scim("GET", `/Groups/${g.id}?excludedAttributes=members`);
  assert.equal(get.statusCode, 200);
  assert.equal(get.json<GroupOut>().members, undefined, "excludedAttributes=members leaves them out");
  assert.equal(get.json<GroupOut>().displayName, "Sales");

  const byName = await api.scim(
    "GET",
    `/Groups?excludedAttributes=members&filter=${q('displayName eq "sales"')}`,
  );
  assert.equal(byName.json<ListOut>().totalResults, 1, "displayName compares case-insensitively");
  const byExt = await api.scim(
    "GET",
    `/Groups?excludedAttributes=members&filter=${q('externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"')}`,
  );
  assert.deepEqual(
    byExt.json<ListOut>().Resources.map((r) => r.id),
    [g.id],
  );
  const byExtOtherCase = await api.scim(
    "GET",
    `/Groups?filter=${q('externalId eq "8AA1A0C0-C4C3-4BC0-B4A5-2EF676900159"')}`,
  );
  assert.equal(byExtOtherCase.json<ListOut>().totalResults, 0, "externalId is caseExact");

  const renamed = await api.scim(
    "PATCH",
    `/Groups/${g.id}`,
    patch({
      op: "Replace",
      path: "displayName",
      value: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
    }),
  );
  assert.equal(renamed.statusCode, 200, renamed.body);
  assert.equal(
    renamed.json<GroupOut>().displayName,
    "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
  );
  assert.equal(renamed.headers.etag, 'W/"2"');

  const added = await api.scim(
    "PATCH",
    `/Groups/${g.id}`,
    patch({
      op: "Add",
      path: "members",
      value: [
        { $ref: null, value: ann },
        { $ref: null, value: bob },
      ],
    }),
  );
  assert.equal(added.statusCode, 200, added.body);
  const base = g.meta.location.replace(/\/Groups\/.*$/, "");
  assert.deepEqual(added.json<GroupOut>().members, [
    { value: ann, display: "Ann A", $ref: `${base}/Users/${ann}`, type: "User" },
    { value: bob, display: "Test bob", $ref: `${base}/Users/${bob}`, type: "User" },
  ]);

  // Entra's membership check: the group, filtered by one member, members left out.
  for (const f of [
    `id eq "${g.id}" and members eq "${ann}"`,
    `id eq "${g.id}" and members[value eq "${ann}"]`,
  ]) {
    const check = await api.scim("GET", `/Groups?excludedAttributes=members&filter=${q(f)}`);
    assert.equal(check.statusCode, 200, check.body);
    assert.equal(check.json<ListOut>().totalResults, 1, f);
    assert.equal(check.json<ListOut>().Resources[0]!.members, undefined);
  }

  // Adding a member again changes nothing: same version, no audit row.
  const again = await api.scim(
    "PATCH",
    `/Groups/${g.id}`,
    patch({ op: "Add", path: "members", value: [{ value: ann }] }),
  );
  assert.equal(again.statusCode, 200);
  assert.equal(again.headers.etag, 'W/"3"');

  const removed = await api.scim(
    "PATCH",
    `/Groups/${g.id}`,
    patch({ op: "Remove", path: "members", value: [{ $ref: null, value: ann }] }),
  );
  assert.equal(removed.statusCode, 200, removed.body);
  assert.deepEqual(
    removed.json<GroupOut>().members!.map((m) => m.value),
    [bob],
  );
  const gone = await api.scim("GET", `/Groups?filter=${q(`id eq "${g.id}" and members eq "${ann}"`)}`);
  assert.equal(gone.json<ListOut>().totalResults, 0);

  // The User shows its groups (read-only).
  const bobUser = await api.scim("GET", `/Users/${bob}`);
  assert.deepEqual(bobUser.json<{ groups: unknown[] }>().groups, [
    {
      value: g.id,
      $ref: `${base}/Groups/${g.id}`,
      display: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
      type: "direct",
    },
  ]);

  // Without a value, remove takes every member (RFC 7644 §3.5.2.2).
  const cleared = await api.scim("PATCH", `/Groups/${g.id}`, patch({ op: "Remove", path: "members" }));
  assert.equal(cleared.statusCode, 200, cleared.body);
  assert.deepEqual(cleared.json<GroupOut>().members, []);

  const del = await api.scim("DELETE", `/Groups/${g.id}`);
  assert.equal(del.statusCode, 204);
  scimError(await api.scim("GET", `/Groups/${g.id}`), 404, undefined, /not found/);
  scimError(await api.scim("DELETE", `/Groups/${g.id}`), 404, undefined);

  const rows = await auditRows(api, "target = $1", [`group:${g.id}`]);
  assert.deepEqual(
    rows.map((r) => r.action),
    ["group_created", "group_updated", "group_updated", "group_updated", "group_updated", "group_deleted"],
  );
  for (const r of rows) {
    assert.equal(r.actor, "token:entra-provisioning");
    assert.equal(r.source, "scim");
  }
  assert.deepEqual(rows[1]!.data.changed, ["displayName"]);
  assert.equal(rows[1]!.data.previousDisplayName, "Sales");
  assert.deepEqual(rows[2]!.data.membersAdded, [ann, bob]);
  assert.deepEqual(rows[3]!.data.membersRemoved, [ann]);
  assert.deepEqual(rows[4]!.data.membersRemoved, [bob]);
});

test("Okta: the Group sequence (create with members: [], PUT the member list, rename, remove by filter)", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const a = await newUser(api, "a.user@okta.local");
  const b = await newUser(api, "b.user@okta.local");
  const c = await newUser(api, "c.user@okta.local");

  const lookup = await api.scim(
    "GET",
    `/Groups?filter=${q('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`,
  );
  assert.equal(lookup.json<ListOut>().totalResults, 0);
  const created = await api.scim("POST", "/Groups", {
    schemas: [GROUP],
    displayName: "Test SCIMv2",
    members: [],
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json<GroupOut>().id;
  assert.equal(created.json<GroupOut>().externalId, undefined);

  const put = await api.scim("PUT", `/Groups/${id}`, {
    schemas: [GROUP],
    id,
    displayName: "Test SCIMv2",
    members: [
      { value: a, display: "a.user@okta.local" },
      { value: b, display: "b.user@okta.local" },
    ],
  });
  assert.equal(put.statusCode, 200, put.body);
  assert.deepEqual(
    put.json<GroupOut>().members!.map((m) => m.value),
    [a, b],
  );

  // A second PUT with another list: c in, a out (Okta pushes the whole list).
  const put2 = await api.scim("PUT", `/Groups/${id}`, {
    schemas: [GROUP],
    id,
    displayName: "Test SCIMv2",
    members: [{ value: b }, { value: c }],
  });
  assert.deepEqual(
    put2.json<GroupOut>().members!.map((m) => m.value),
    [b, c],
  );
  // A PUT without members renames and keeps them (not asserted, RFC 7644 §3.5.1).
  const put3 = await api.scim("PUT", `/Groups/${id}`, { schemas: [GROUP], displayName: "Test SCIMv2" });
  assert.deepEqual(
    put3.json<GroupOut>().members!.map((m) => m.value),
    [b, c],
  );

  const rename = await api.scim(
    "PATCH",
    `/Groups/${id}`,
    patch({ op: "replace", value: { id, displayName: "Test SCIMv2 renamed" } }),
  );
  assert.equal(rename.statusCode, 200, rename.body);
  assert.equal(rename.json<GroupOut>().displayName, "Test SCIMv2 renamed");

  const addA = await api.scim(
    "PATCH",
    `/Groups/${id}`,
    patch({ op: "add", path: "members", value: [{ value: a, display: "a.user@okta.local" }] }),
  );
  assert.deepEqual(
    addA.json<GroupOut>().members!.map((m) => m.value),
    [b, c, a],
  );
  const removeB = await api.scim(
    "PATCH",
    `/Groups/${id}`,
    patch({ op: "remove", path: `members[value eq "${b}"]` }),
  );
  assert.equal(removeB.statusCode, 200, removeB.body);
  assert.deepEqual(
    removeB.json<GroupOut>().members!.map((m) => m.value),
    [c, a],
  );
  // A filter that matches nothing removes nothing, and is no error.
  const removeNone = await api.scim(
    "PATCH",
    `/Groups/${id}`,
    patch({ op: "remove", path: `members[value eq "${b}"]` }),
  );
  assert.equal(removeNone.statusCode, 200);

  const list = await api.scim("GET", "/Groups?startIndex=1&count=100");
  assert.equal(list.json<ListOut>().totalResults, 1);
  assert.equal(list.json<ListOut>().Resources[0]!.members!.length, 2);

  assert.equal((await api.scim("DELETE", `/Groups/${id}`)).statusCode, 204);
  assert.deepEqual(
    (await auditRows(api, "target = $1", [`group:${id}`])).map((r) => r.action),
    [
      "group_created",
      "group_updated",
      "group_updated",
      "group_updated",
      "group_updated",
      "group_updated",
      "group_deleted",
    ],
  );
});

test("SCIM Groups: errors per RFC 7644 §3.12 (status, scimType, detail), nothing changed by a refused write", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const ann = await newUser(api, "ann@example.com");
  const g = (
    await api.scim("POST", "/Groups", { schemas: [GROUP], displayName: "VPN Users" })
  ).json<GroupOut>();
  await api.scim("POST", "/Groups", { schemas: [GROUP], displayName: "Finance" });

  scimError(
    await api.scim("POST", "/Groups", { schemas: [GROUP] }),
    400,
    "invalidValue",
    /displayName is required/,
  );
  scimError(await api.scim("POST", "/Groups", { displayName: "  " }), 400, "invalidValue", /displayName/);
  scimError(await api.scim("POST", "/Groups", "[]"), 400, "invalidSyntax");
  scimError(
    await api.scim("POST", "/Groups", { displayName: "vpn users" }),
    409,
    "uniqueness",
    /already exists/,
  );
  const unknownId = "6f1c9a2e-0000-4000-8000-000000000000";
  scimError(
    await api.scim("POST", "/Groups", { displayName: "Ghosts", members: [{ value: unknownId }] }),
    400,
    "invalidValue",
    new RegExp(`no User "${unknownId}"`),
  );
  scimError(
    await api.scim("POST", "/Groups", { displayName: "Ghosts", members: [{ value: "not-a-uuid" }] }),
    400,
    "invalidValue",
  );
  const ghosts = await api.scim("GET", `/Groups?filter=${q('displayName eq "Ghosts"')}`);
  assert.equal(ghosts.json<ListOut>().totalResults, 0, "a refused create leaves no group behind");
  scimError(
    await api.scim("POST", "/Groups", { displayName: "Nested", members: [{ value: g.id, type: "Group" }] }),
    400,
    "invalidValue",
    /only Users/,
  );

  const p = (body: unknown) => api.scim("PATCH", `/Groups/${g.id}`, body);
  scimError(await p(patch({ op: "replace", path: "displayName", value: "FINANCE" })), 409, "uniqueness");
  scimError(
    await p(patch({ op: "add", path: "members", value: [{ value: ann }, { value: unknownId }] })),
    400,
    "invalidValue",
  );
  scimError(await p(patch({ op: "remove" })), 400, "noTarget");
  scimError(await p(patch({ op: "remove", path: "displayName" })), 400, "mutability", /required/);
  scimError(await p(patch({ op: "replace", path: "id", value: "x" })), 400, "mutability");
  scimError(await p(patch({ op: "replace", path: "meta.version", value: "x" })), 400, "mutability");
  scimError(await p(patch({ op: "add", path: "userName", value: "x" })), 400, "invalidPath");
  scimError(await p(patch({ op: "add", path: "members[value", value: "x" })), 400, "invalidPath");
  scimError(
    await p(patch({ op: "add", path: `members[value eq "${ann}"]`, value: [{ value: ann }] })),
    400,
    "invalidPath",
  );
  scimError(
    await p(patch({ op: "replace", path: `members[value eq "${ann}"]`, value: [{ value: ann }] })),
    400,
    "noTarget",
  );
  scimError(await p(patch({ op: "add", path: "members.display", value: "x" })), 400, "invalidPath");
  scimError(await p(patch({ op: "move", path: "members" })), 400, "invalidSyntax");
  scimError(await p({ schemas: [PATCH_OP], Operations: [] }), 400, "invalidSyntax");
  scimError(
    await p({ schemas: ["urn:nope"], Operations: [{ op: "add", path: "members", value: [] }] }),
    400,
    "invalidSyntax",
  );
  scimError(
    await api.scim(
      "PATCH",
      "/Groups/6f1c9a2e-0000-4000-8000-00000000dead",
      patch({ op: "remove", path: "members" }),
    ),
    404,
    undefined,
  );

  scimError(await api.scim("GET", `/Groups?filter=${q('displayName eq "x')}`), 400, "invalidFilter");
  scimError(
    await api.scim("GET", `/Groups?filter=${q('userName eq "x"')}`),
    400,
    "invalidFilter",
    /Group schema has no attribute "userName"/,
  );
  scimError(await api.scim("GET", `/Groups?filter=${q('members[nope eq "x"]')}`), 400, "invalidFilter");
  scimError(await api.scim("GET", "/Groups/not-a-uuid"), 404, undefined);

  // Nothing above changed the group.
  const after = await api.scim("GET", `/Groups/${g.id}`);
  assert.equal(after.json<GroupOut>().displayName, "VPN Users");
  assert.deepEqual(after.json<GroupOut>().members, []);
  assert.equal(after.headers.etag, 'W/"1"');
  assert.deepEqual(
    (await auditRows(api, "target = $1", [`group:${g.id}`])).map((r) => r.action),
    ["group_created"],
  );
});

test("SCIM Groups: ETags (If-Match, If-None-Match), paging, filters, attributes", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const ann = await newUser(api, "ann@example.com");
  const ids: string[] = [];
  for (const n of ["g-a", "g-b", "g-c", "g-d", "g-e"]) {
    const r = await api.scim("POST", "/Groups", { displayName: n, externalId: `ext-${n}` });
    ids.push(r.json<GroupOut>().id);
  }
  const [first] = ids as [string];

  const stale = await api.scim(
    "PATCH",
    `/Groups/${first}`,
    patch({ op: "add", path: "members", value: [{ value: ann }] }),
    {
      "if-match": 'W/"7"',
    },
  );
  scimError(stale, 412, "invalidVers");
  const fresh = await api.scim(
    "PATCH",
    `/Groups/${first}`,
    patch({ op: "add", path: "members", value: [{ value: ann }] }),
    {
      "if-match": 'W/"1"',
    },
  );
  assert.equal(fresh.statusCode, 200, fresh.body);
  assert.equal(
    (await api.scim("GET", `/Groups/${first}`, undefined, { "if-none-match": 'W/"2"' })).statusCode,
    304,
  );
  assert.equal(
    (await api.scim("GET", `/Groups/${first}`, undefined, { "if-none-match": 'W/"1"' })).statusCode,
    200,
  );
  scimError(
    await api.scim("DELETE", `/Groups/${first}`, undefined, { "if-match": 'W/"1"' }),
    412,
    "invalidVers",
  );

  const page = await api.scim("GET", "/Groups?startIndex=2&count=2&attributes=displayName");
  assert.deepEqual(page.json<ListOut>(), {
    schemas: [LIST],
    totalResults: 5,
    startIndex: 2,
    itemsPerPage: 2,
    Resources: [
      { schemas: [GROUP], id: ids[1], displayName: "g-b" },
      { schemas: [GROUP], id: ids[2], displayName: "g-c" },
    ],
  });
  const tail = await api.scim("GET", "/Groups?startIndex=5&count=10&excludedAttributes=members,meta");
  assert.deepEqual(tail.json<ListOut>().Resources, [
    { schemas: [GROUP], id: ids[4], externalId: "ext-g-e", displayName: "g-e" },
  ]);
  const none = await api.scim("GET", "/Groups?count=0");
  assert.equal(none.json<ListOut>().totalResults, 5);
  assert.equal(none.json<ListOut>().itemsPerPage, 0);

  const sw = await api.scim(
    "GET",
    `/Groups?filter=${q('displayName sw "G-" and not (externalId eq "ext-g-a")')}`,
  );
  assert.equal(sw.json<ListOut>().totalResults, 4);
  const byMember = await api.scim(
    "GET",
    `/Groups?filter=${q(`members.value eq "${ann}"`)}&attributes=members.value`,
  );
  assert.deepEqual(byMember.json<ListOut>().Resources, [
    { schemas: [GROUP], id: first, members: [{ value: ann }] },
  ]);
  const byId = await api.scim("GET", `/Groups?filter=${q(`id eq "${ids[3]}"`)}`);
  assert.deepEqual(
    byId.json<ListOut>().Resources.map((r) => r.displayName),
    ["g-d"],
  );
  const qualified = await api.scim("GET", `/Groups?filter=${q(`${GROUP}:displayName eq "g-c"`)}`);
  assert.equal(qualified.json<ListOut>().totalResults, 1);
});

test("SCIM Groups: a deleted User leaves its groups (audited); a deactivated one stays a member", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const ann = await newUser(api, "ann@example.com");
  const bob = await newUser(api, "bob@example.com");
  const g = (
    await api.scim("POST", "/Groups", { displayName: "VPN Users", members: [{ value: ann }, { value: bob }] })
  ).json<GroupOut>();
  assert.deepEqual(
    g.members!.map((m) => m.value),
    [ann, bob],
  );

  const off = await api.scim(
    "PATCH",
    `/Users/${bob}`,
    patch({ op: "replace", path: "active", value: false }),
  );
  assert.equal(off.statusCode, 200, off.body);
  const stillThere = await api.scim("GET", `/Groups/${g.id}`);
  assert.deepEqual(
    stillThere.json<GroupOut>().members!.map((m) => m.value),
    [ann, bob],
    "a deactivated User stays a member",
  );

  assert.equal((await api.scim("DELETE", `/Users/${ann}`)).statusCode, 204);
  // Deactivation and delete start leaver fan-outs in the background: let them finish.
  await drainFanouts(api.app.deps);
  const after = await api.scim("GET", `/Groups/${g.id}`);
  assert.deepEqual(
    after.json<GroupOut>().members!.map((m) => m.value),
    [bob],
  );
  assert.equal(after.headers.etag, 'W/"2"', "the group's version moved with its member list");
  const rows = await auditRows(api, "target = $1", [`group:${g.id}`]);
  assert.equal(rows.at(-1)!.action, "group_updated");
  assert.deepEqual(rows.at(-1)!.data.membersRemoved, [ann]);
  assert.equal(rows.at(-1)!.data.reason, "UserDeleted");
  const userRow = (await auditRows(api, "action = 'employee_deleted'"))[0]!;
  assert.deepEqual(userRow.data.groupsLeft, [g.id]);

  // A deleted User cannot be added back (it is no User any more).
  scimError(
    await api.scim(
      "PATCH",
      `/Groups/${g.id}`,
      patch({ op: "add", path: "members", value: [{ value: ann }] }),
    ),
    400,
    "invalidValue",
  );
  // Deleting a group never touches its Users.
  assert.equal((await api.scim("DELETE", `/Groups/${g.id}`)).statusCode, 204);
  assert.equal((await api.scim("GET", `/Users/${bob}`)).json<{ groups: unknown[] }>().groups.length, 0);
});

test("SCIM Groups: concurrent member PATCHes all land; a User DELETE racing them leaves no member behind", async (t) => {
  const api = await newScimApi(t, { crds: false });
  const users: string[] = [];
  for (let i = 0; i < 8; i++) users.push(await newUser(api, `u${i}@example.com`));
  const g = (await api.scim("POST", "/Groups", { displayName: "Busy" })).json<GroupOut>();
  // Entra sends one PATCH per member change, several at once; and a User is deleted meanwhile.
  const results = await Promise.all([
    ...users.map((u) =>
      api.scim("PATCH", `/Groups/${g.id}`, patch({ op: "Add", path: "members", value: [{ value: u }] })),
    ),
    api.scim("DELETE", `/Users/${users[0]}`),
  ]);
  const deleted = results.at(-1)!;
  assert.equal(deleted.statusCode, 204, deleted.body);
  await drainFanouts(api.app.deps);
  // The add of the deleted User either went first (and the DELETE removed it) or came after
  // (and was refused: no such User); every other add succeeded.
  for (const r of results.slice(1, -1)) assert.equal(r.statusCode, 200, r.body);
  assert.ok([200, 400].includes(results[0].statusCode), results[0].body);
  const now = await api.scim("GET", `/Groups/${g.id}`);
  assert.deepEqual(new Set(now.json<GroupOut>().members!.map((m) => m.value)), new Set(users.slice(1)));
  const rows = await api.db.query(
    "SELECT count(*)::int AS n FROM employee_group_members WHERE employee_id = $1",
    [users[0]],
  );
  assert.equal((rows.rows[0] as { n: number }).n, 0);
});
