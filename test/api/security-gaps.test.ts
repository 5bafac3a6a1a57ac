// The four gaps left open after the security review of issue #5, each pinned by a test that
// failed before its fix: an existence probe through writes to the catalogue, separation of
// duties laundered through API tokens, loose approver matching, and approval links minted to
// decide as someone else.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import { applyCrds } from "../support/crds.ts";
import { appendAudit } from "../../record/audit.ts";
import {
  addAdmin,
  bearer,
  cookiesOf,
  csrfField,
  newApi,
  setOrderPhase,
  signInAs,
  type Api,
  type Browser,
  addPeople,
} from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

type OrderOut = { name: string; approvals: { approver: string; decision: string }[] };
type Headers = Record<string, string>;

const putType = (api: Api, h: Headers, name: string, approvers: string[] = ["bert"]) =>
  api.app.inject({
    method: "PUT",
    url: `/assettypes/${name}`,
    headers: h,
    payload: { spec: assetTypeSpec({ approval: { policy: "Approvers", approvers, quorum: 1 } }) },
  });

async function newOrder(api: Api, h: Headers, assetType: string): Promise<string> {
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: h,
    payload: { assetType, requester: { id: "emp", email: "emp@example.com" } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const name = r.json<OrderOut>().name;
  await setOrderPhase(api, name, "PendingApproval");
  return name;
}

const decide = (api: Api, h: Headers, order: string, verb: "approve" | "decline" = "approve") =>
  api.app.inject({ method: "POST", url: `/orders/${order}/${verb}`, headers: h, payload: {} });

const reasonOf = (r: LightMyRequestResponse) => r.json<{ reason?: string }>().reason;

/** Mints a token through the API as `as` (so the token's creator is `as`). */
async function mintToken(api: Api, as: Browser, name: string, role: string, scopes: string[]) {
  const r = await api.app.inject({
    method: "POST",
    url: "/admin/tokens",
    headers: as.headers,
    payload: { name, role, scopes },
  });
  assert.equal(r.statusCode, 201, r.body);
  return { id: r.json<{ id: string }>().id, headers: bearer(r.json<{ token: string }>().token) };
}

function sameAnswer(a: LightMyRequestResponse, b: LightMyRequestResponse, what: string) {
  assert.equal(a.statusCode, 404, `${what}: ${a.body}`);
  assert.equal(a.statusCode, b.statusCode, what);
  assert.equal(a.body, b.body, `${what}: byte-identical body`);
  assert.equal(a.headers["content-type"], b.headers["content-type"], what);
  assert.equal(a.headers["content-length"], b.headers["content-length"], what);
}

// ---- 1. no existence probe through writes ----

test("gap 1: a scoped admin's writes outside the grants answer the GET's 404 whether the type exists or not; scoped admins do not create", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  for (const n of ["granted", "hidden"]) assert.equal((await putType(api, root.headers, n)).statusCode, 201);
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["granted"] },
  });
  assert.equal(g.statusCode, 200, g.body);
  // A grant for a type that does not exist (any more): the API refuses to create one, but one
  // kept from a type deleted since still must not let a scoped admin create it.
  await api.db.query("INSERT INTO asset_type_grants (user_id, asset_type) VALUES ($1, 'reserved')", [sam.id]);
  const s = await signInAs(api, "sam");
  const get = (name: string) =>
    api.app.inject({ method: "GET", url: `/assettypes/${name}`, headers: s.headers });

  // PUT: "hidden" exists, "ghost" does not; each answers exactly what its GET answers.
  for (const name of ["hidden", "ghost"]) {
    sameAnswer(await putType(api, s.headers, name), await get(name), `PUT ${name}`);
  }
  // Clone into a hidden existing name or a missing one: the GET's 404 for the target, not 409/201.
  for (const target of ["hidden", "ghost"]) {
    const r = await api.app.inject({
      method: "POST",
      url: "/assettypes/granted/clone",
      headers: s.headers,
      payload: { name: target },
    });
    sameAnswer(r, await get(target), `clone → ${target}`);
  }
  // Nothing was created, nothing granted.
  assert.equal((await get("ghost")).statusCode, 404);
  const rootGhost = await api.app.inject({ method: "GET", url: "/assettypes/ghost", headers: root.headers });
  assert.equal(rootGhost.statusCode, 404, "the probe created nothing");
  const grants = await api.app.inject({
    method: "GET",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
  });
  assert.deepEqual(grants.json<{ assetTypes: string[] }>().assetTypes, ["granted", "reserved"]);

  // Inside the grants a missing name is refused plainly (no secret there): creating is catalogue-wide.
  const reserved = await putType(api, s.headers, "reserved");
  assert.equal(reserved.statusCode, 403, reserved.body);
  assert.equal(reasonOf(reserved), "ScopedCreate");
  const cloneIn = await api.app.inject({
    method: "POST",
    url: "/assettypes/granted/clone",
    headers: s.headers,
    payload: { name: "reserved" },
  });
  assert.equal(cloneIn.statusCode, 403, cloneIn.body);
  // Updating a granted type still works.
  assert.equal((await putType(api, s.headers, "granted", ["carl"])).statusCode, 200);
  const created = await api.db.query(
    "SELECT 1 FROM audit_events WHERE actor = 'admin:sam' AND action IN ('asset_type_created', 'asset_type_cloned')",
  );
  assert.equal(created.rowCount, 0);

  // An unscoped admin creates, and stays unscoped (no auto-grant).
  const una = await addAdmin(api, "una", "admin");
  const u = await signInAs(api, "una");
  assert.equal((await putType(api, u.headers, "unas")).statusCode, 201);
  const clone = await api.app.inject({
    method: "POST",
    url: "/assettypes/unas/clone",
    headers: u.headers,
    payload: { name: "unas-2" },
  });
  assert.equal(clone.statusCode, 201, clone.body);
  const unaGrants = await api.app.inject({
    method: "GET",
    url: `/admin/users/${una.id}/grants`,
    headers: root.headers,
  });
  assert.deepEqual(unaGrants.json<{ assetTypes: string[] }>().assetTypes, []);
});

// ---- 2. separation of duties through API tokens ----

test("gap 2: a change made with an API token counts as its creator's for separation of duties, also after revocation", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  await addAdmin(api, "sue", "superadmin", undefined, "sue@example.com");
  await addAdmin(api, "bert", "approver");
  const root = await signInAs(api, "root");
  const sue = await signInAs(api, "sue");
  const bert = await signInAs(api, "bert");
  const deploy = await mintToken(api, sue, "deploy", "admin", ["assettypes:write"]);
  const made = await putType(api, deploy.headers, "vpn", ["sue@example.com", "bert"]);
  assert.equal(made.statusCode, 201, made.body);
  const row = await api.db.query<{ id: string; data: Record<string, unknown> }>(
    "SELECT id::text AS id, data FROM audit_events WHERE action = 'asset_type_created' AND target = 'assettype:vpn'",
  );
  assert.equal(row.rows[0]!.data.onBehalfOf, "admin:sue", "the person behind the token is on the row");
  // Revoked since: the person behind it stays the same.
  const revoked = await api.app.inject({
    method: "DELETE",
    url: `/admin/tokens/${deploy.id}`,
    headers: root.headers,
  });
  assert.equal(revoked.statusCode, 200, revoked.body);

  const order = await newOrder(api, root.headers, "vpn");
  const sod = await decide(api, sue.headers, order);
  assert.equal(sod.statusCode, 409, sod.body);
  assert.equal(reasonOf(sod), "SeparationOfDuties");
  assert.deepEqual(sod.json<{ auditRow: { id: string; actor: string } }>().auditRow.id, row.rows[0]!.id);
  assert.match(sod.body, /by token:deploy on behalf of admin:sue/);
  assert.equal((await decide(api, bert.headers, order)).statusCode, 200, "another approver decides");

  // A row written before owners were recorded (no data.onBehalfOf) resolves through the token
  // table: token names are never reused.
  assert.equal((await putType(api, root.headers, "old", ["sue@example.com", "bert"])).statusCode, 201);
  await appendAudit(api.db, {
    actor: "token:deploy",
    action: "asset_type_updated",
    target: "assettype:old",
    source: "api",
  });
  const old = await newOrder(api, root.headers, "old");
  const sodOld = await decide(api, sue.headers, old);
  assert.equal(sodOld.statusCode, 409, sodOld.body);
  assert.match(sodOld.body, /token:deploy on behalf of admin:sue/);
});

test("gap 2: approving with a token whose creator configured the asset type is refused", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  await addAdmin(api, "sue", "superadmin", undefined, "sue@example.com");
  const root = await signInAs(api, "root");
  const sue = await signInAs(api, "sue");
  // sue configures the type; root and sue are its approvers (a token decides as its creator).
  assert.equal((await putType(api, sue.headers, "vpn", ["sue", "root"])).statusCode, 201);
  const bySue = await mintToken(api, sue, "ci-sue", "approver", ["orders:approve", "orders:read"]);
  const byRoot = await mintToken(api, root, "ci-root", "approver", ["orders:approve", "orders:read"]);
  // A third admin places the order (whoever places an order on someone's behalf cannot approve it).
  await addAdmin(api, "otto", "admin");
  const order = await newOrder(api, (await signInAs(api, "otto")).headers, "vpn");
  const refused = await decide(api, bySue.headers, order);
  assert.equal(refused.statusCode, 409, refused.body);
  assert.equal(reasonOf(refused), "SeparationOfDuties");
  assert.match(refused.body, /asset_type_created by admin:sue/);
  const ok = await decide(api, byRoot.headers, order);
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(
    ok.json<OrderOut>().approvals.map((a) => [a.approver, a.decision]),
    [["root", "Approved"]],
  );
  const audit = await api.db.query<{ actor: string }>(
    "SELECT actor FROM audit_events WHERE action = 'order_approved' AND order_name = $1",
    [order],
  );
  assert.deepEqual(
    audit.rows.map((r) => r.actor),
    ["token:ci-root"],
    "audited as the token",
  );
});

test("a token's name is not a person: a token named like a listed approver does not decide as them", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  const root = await signInAs(api, "root");
  assert.equal((await putType(api, root.headers, "vpn", ["bert"])).statusCode, 201);
  // root (not an approver of vpn) mints a token called "bert".
  const fake = await mintToken(api, root, "bert", "approver", ["orders:approve", "orders:read"]);
  const order = await newOrder(api, root.headers, "vpn");
  const r = await decide(api, fake.headers, order);
  assert.equal(r.statusCode, 403, r.body);
  assert.equal(reasonOf(r), "NotApprover");
  // Nor does it see bert's queue or set delegations as bert.
  const queue = await api.app.inject({ method: "GET", url: "/approvals/pending", headers: fake.headers });
  assert.equal(queue.statusCode, 200, queue.body);
  assert.deepEqual(queue.json<{ items: unknown[] }>().items, []);
});

// ---- 3. exact approver eligibility ----

test("gap 3: eligibility is exact: namesakes at other domains neither approve, nor delegate, nor deputise", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  // Namesakes: an account "bert2" whose e-mail local part is "bert"; an account "carl" who is
  // not the listed carl@example.com.
  await addAdmin(api, "bert2", "approver", undefined, "bert@other.example");
  await addAdmin(api, "carl", "approver", undefined, "carl@other.example");
  await addAdmin(api, "zed", "approver", undefined, "zed@example.com");
  const root = await signInAs(api, "root");
  const bert = await signInAs(api, "bert");
  const bert2 = await signInAs(api, "bert2");
  const carl = await signInAs(api, "carl");
  const zed = await signInAs(api, "zed");
  assert.equal((await putType(api, root.headers, "vpn", ["bert", "carl@example.com"])).statusCode, 201);
  const order = await newOrder(api, root.headers, "vpn");

  const namesake = await decide(api, bert2.headers, order);
  assert.equal(namesake.statusCode, 403, namesake.body);
  assert.equal(reasonOf(namesake), "NotApprover");

  const window = {
    startsAt: new Date(api.clock.now.getTime() - 60_000).toISOString(),
    endsAt: new Date(api.clock.now.getTime() + 3600_000).toISOString(),
  };
  // bert2 cannot set a delegation for "bert"'s approvals.
  const foreign = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: bert2.headers,
    payload: { principal: "bert", deputy: "zed", ...window },
  });
  assert.equal(foreign.statusCode, 403, foreign.body);
  assert.equal(reasonOf(foreign), "NotOwn");
  // carl delegates his own approvals (as "carl") to zed: zed is still no deputy of carl@example.com.
  const own = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: carl.headers,
    payload: { principal: "carl", deputy: "zed", ...window },
  });
  assert.equal(own.statusCode, 201, own.body);
  const deputy = await decide(api, zed.headers, order);
  assert.equal(deputy.statusCode, 403, deputy.body);
  const queue = await api.app.inject({ method: "GET", url: "/approvals/pending", headers: zed.headers });
  assert.deepEqual(queue.json<{ items: unknown[] }>().items, [], "not in zed's queue either");

  // The real bert, by username, decides.
  const ok = await decide(api, bert.headers, order);
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(
    ok.json<OrderOut>().approvals.map((a) => a.approver),
    ["bert"],
  );
});

// ---- 4. approval links for someone else ----

async function openLink(api: Api, url: string, decision: "Approved" | "Declined" = "Approved") {
  const path = new URL(url).pathname;
  const page = await api.app.inject({ method: "GET", url: path });
  const cookie = Object.entries(cookiesOf(page.headers["set-cookie"]))
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  return api.app.inject({
    method: "POST",
    url: path,
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    payload: `decision=${decision}&_csrf=${encodeURIComponent(csrfField(page.body))}`,
  });
}

test("gap 4: an admin cannot mint a link that decides as another approver; a superadmin can, audited; own links work", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  const root = await signInAs(api, "root");
  const ada = await signInAs(api, "ada");
  // ada configures the type (so links she issues could never approve, whoever they name).
  assert.equal((await putType(api, ada.headers, "vpn", ["bert", "ada@example.com"])).statusCode, 201);
  const order = await newOrder(api, root.headers, "vpn");
  const mint = (b: Browser, approver: string) =>
    api.app.inject({
      method: "POST",
      url: `/orders/${order}/approval-links`,
      headers: b.headers,
      payload: { approver },
    });

  const forBert = await mint(ada, "bert");
  assert.equal(forBert.statusCode, 403, forBert.body);
  assert.equal(reasonOf(forBert), "NotOwnLink");
  // Exact: a namesake spelling of herself is someone else.
  assert.equal((await mint(ada, "ada@other.example")).statusCode, 403);
  const issued = await api.db.query("SELECT 1 FROM audit_events WHERE action = 'approval_link_issued'");
  assert.equal(issued.rowCount, 0, "nothing was issued");

  // Her own link (listed as ada@example.com) works.
  const own = await mint(ada, "ada@example.com");
  assert.equal(own.statusCode, 201, own.body);

  // A superadmin may mint one for bert: audited as a link for someone else; it works once.
  const byRoot = await mint(root, "bert");
  assert.equal(byRoot.statusCode, 201, byRoot.body);
  const row = await api.db.query<{ actor: string; data: Record<string, unknown> }>(
    "SELECT actor, data FROM audit_events WHERE action = 'approval_link_issued' AND data->>'approver' = 'bert'",
  );
  assert.equal(row.rows[0]!.actor, "admin:root");
  assert.equal(row.rows[0]!.data.forOther, true);
  const used = await openLink(api, byRoot.json<{ url: string }>().url);
  assert.equal(used.statusCode, 200, used.body);
  const o = await api.app.inject({ method: "GET", url: `/orders/${order}`, headers: root.headers });
  assert.deepEqual(
    o.json<OrderOut>().approvals.map((a) => [a.approver, a.decision]),
    [["bert", "Approved"]],
  );
});

test("a token of the requester cannot mint an approval link for the requester's own order", async (t) => {
  const api = await newApi(t);
  // root is also a person in the directory (their employee identity orders).
  await addPeople(api, ["root"]);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  const root = await signInAs(api, "root");
  assert.equal((await putType(api, root.headers, "vpn", ["bert"])).statusCode, 201);
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: root.headers,
    payload: { assetType: "vpn", requester: { id: "root", email: "root@example.com" } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const order = r.json<{ name: string }>().name;
  await setOrderPhase(api, order, "PendingApproval");
  const mint = (headers: Record<string, string>) =>
    api.app.inject({
      method: "POST",
      url: `/orders/${order}/approval-links`,
      headers,
      payload: { approver: "bert" },
    });
  const direct = await mint(root.headers);
  assert.equal(direct.statusCode, 409, direct.body);
  assert.equal(reasonOf(direct), "SelfApproval");
  // The same person through an API token (superadmin role, so forOther would pass).
  const bot = await mintToken(api, root, "roots-bot", "superadmin", ["orders:write", "orders:read"]);
  const viaToken = await mint(bot.headers);
  assert.equal(viaToken.statusCode, 409, viaToken.body);
  assert.equal(reasonOf(viaToken), "SelfApproval");
});
