// Defects found in the security review of issue #5, each pinned by the test that showed it:
// concurrent sign-in guesses outrunning the lockout, separation of duties laundered through
// an approval link, and the approver's pending queue.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createUser } from "../../record/identity/users.ts";
import { hashPassword } from "../../record/identity/passwords.ts";
import { putSecuritySettings } from "../../record/identity/settings.ts";
import {
  addAdmin,
  cookiesOf,
  csrfField,
  newApi,
  setOrderPhase,
  signInAs,
  type Api,
  type Browser,
} from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("lockout holds under concurrency: N parallel guesses get at most threshold password checks", async (t) => {
  const api = await newApi(t, { config: { IPSOLIS_LOGIN_RATE_LIMIT: 1000 } });
  await putSecuritySettings(api.db, { lockoutThreshold: 3, lockoutMinutes: 10 });
  await createUser(api.db, {
    username: "alice",
    role: "admin",
    passwordHash: await hashPassword("alice's long password"),
  });
  const guesses = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      api.app.inject({
        method: "POST",
        url: "/auth/login",
        payload: { username: "alice", password: `wrong guess ${i}` },
      }),
    ),
  );
  assert.ok(guesses.every((g) => g.statusCode === 401));
  const plainFailures = guesses.filter((g) => /invalid username or password/.test(g.body)).length;
  assert.ok(
    plainFailures <= 2,
    `only threshold-1 guesses may be answered "wrong password" before the lock, got ${plainFailures}`,
  );
  const locks = await api.db.query("SELECT 1 FROM audit_events WHERE action = 'login_locked'");
  assert.equal(locks.rowCount, 1, "one lock, audited once");
  const right = await api.app.inject({
    method: "POST",
    url: "/auth/login",
    payload: { username: "alice", password: "alice's long password" },
  });
  assert.equal(right.statusCode, 401, "locked: the right password is refused too");
  assert.match(right.body, /too many failed sign-ins/);
});

type OrderOut = { name: string; approvals: { approver: string; decision: string }[] };

/** anna (admin `asmith`, e-mail anna.smith@…: username ≠ local part) authors the asset type. */
async function linkWorld(t: Parameters<typeof newApi>[0]) {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "asmith", "admin", undefined, "anna.smith@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  const root = await signInAs(api, "root");
  const anna = await signInAs(api, "asmith");
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: anna.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["anna.smith@example.com", "bert"], quorum: 1 },
      }),
    },
  });
  assert.equal(at.statusCode, 201, at.body);
  const o = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: root.headers,
    payload: { assetType: "vpn", requester: { id: "emp", email: "emp@example.com" } },
  });
  assert.equal(o.statusCode, 201, o.body);
  const order = o.json<OrderOut>().name;
  await setOrderPhase(api, order, "PendingApproval");
  return { api, root, anna, order };
}

async function useLink(api: Api, minter: Browser, order: string, approver: string) {
  const minted = await api.app.inject({
    method: "POST",
    url: `/orders/${order}/approval-links`,
    headers: minter.headers,
    payload: { approver },
  });
  assert.equal(minted.statusCode, 201, minted.body);
  const path = new URL(minted.json<{ url: string }>().url).pathname;
  const page = await api.app.inject({ method: "GET", url: path });
  const cookie = Object.entries(cookiesOf(page.headers["set-cookie"]))
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  return api.app.inject({
    method: "POST",
    url: path,
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    payload: `decision=Approved&_csrf=${encodeURIComponent(csrfField(page.body))}`,
  });
}

const approvalsOf = async (api: Api, b: Browser, order: string) =>
  (await api.app.inject({ method: "GET", url: `/orders/${order}`, headers: b.headers })).json<OrderOut>()
    .approvals;

test("SoD through an approval link: the author's e-mail is matched to her admin username", async (t) => {
  const { api, root, order } = await linkWorld(t);
  const r = await useLink(api, root, order, "anna.smith@example.com");
  assert.equal(r.statusCode, 409, r.body);
  assert.match(r.body, /separation of duties/);
  assert.match(r.body, /admin:asmith/);
  assert.deepEqual(await approvalsOf(api, root, order), [], "the approval stays pending");
});

test("SoD through an approval link: the asset type's author cannot approve with a link she minted for someone else", async (t) => {
  const { api, root, anna, order } = await linkWorld(t);
  // An admin cannot mint a link that decides as bert at all (test/api/security-gaps.test.ts) ...
  const refused = await api.app.inject({
    method: "POST",
    url: `/orders/${order}/approval-links`,
    headers: anna.headers,
    payload: { approver: "bert" },
  });
  assert.equal(refused.statusCode, 403, refused.body);
  // ... and a superadmin who changed the asset type gets a link that is refused when used.
  await addAdmin(api, "sue", "superadmin", undefined, "sue@example.com");
  const sue = await signInAs(api, "sue");
  const upd = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: sue.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["anna.smith@example.com", "bert"], quorum: 1 },
      }),
    },
  });
  assert.equal(upd.statusCode, 200, upd.body);
  const r = await useLink(api, sue, order, "bert");
  assert.equal(r.statusCode, 409, r.body);
  assert.match(r.body, /separation of duties/);
  assert.match(r.body, /issued by admin:sue/);
  assert.deepEqual(await approvalsOf(api, root, order), [], "the approval stays pending");
  // A link minted by someone else for bert still works.
  const ok = await useLink(api, root, order, "bert");
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(
    (await approvalsOf(api, root, order)).map((a) => [a.approver, a.decision]),
    [["bert", "Approved"]],
  );
});

test("an approval link has one spelling: a non-canonical signature (unused last bits) is refused", async (t) => {
  const { api, root, order } = await linkWorld(t);
  const minted = await api.app.inject({
    method: "POST",
    url: `/orders/${order}/approval-links`,
    headers: root.headers,
    payload: { approver: "bert" },
  });
  const path = new URL(minted.json<{ url: string }>().url).pathname;
  // 32 signature bytes = 43 base64url characters; the last one carries 4 bits and 2 unused ones.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(path.at(-1)!);
  const twin = path.slice(0, -1) + alphabet[last ^ 1];
  const r = await api.app.inject({ method: "GET", url: twin });
  assert.equal(r.statusCode, 400, "the same bytes spelled differently are not a valid link");
});

test("GET /approvals/pending: the approver's queue, with deputies, SoD flagged, ACL respected", async (t) => {
  const { api, root, anna, order } = await linkWorld(t);
  await addAdmin(api, "zed", "approver", undefined, "zed@example.com");
  const bert = await signInAs(api, "bert");
  const zed = await signInAs(api, "zed");
  const queue = async (b: Browser) => {
    const r = await api.app.inject({ method: "GET", url: "/approvals/pending", headers: b.headers });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<{
      items: { order: { name: string }; approver: string; viaDeputy: boolean; canApprove: boolean }[];
    }>().items;
  };
  assert.deepEqual(
    (await queue(bert)).map((i) => [i.order.name, i.approver, i.canApprove]),
    [[order, "bert", true]],
  );
  // The author may only decline: listed, flagged.
  const mine = await queue(anna);
  assert.deepEqual(
    mine.map((i) => [i.order.name, i.canApprove]),
    [[order, false]],
  );
  assert.deepEqual(await queue(zed), [], "not an approver, not a deputy");
  // Scoped to another asset type by an ACL grant, the author no longer sees this order at all.
  const annaId = (
    await api.db.query<{ id: string }>("SELECT id::text AS id FROM users WHERE username = 'asmith'")
  ).rows[0]!.id;
  // A grant names an existing asset type: another team's.
  const other = await api.app.inject({
    method: "PUT",
    url: "/assettypes/something-else",
    headers: root.headers,
    payload: { spec: assetTypeSpec({ approval: { policy: "None" } }) },
  });
  assert.equal(other.statusCode, 201, other.body);
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${annaId}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["something-else"] },
  });
  assert.equal(g.statusCode, 200, g.body);
  assert.deepEqual(await queue(anna), [], "out of the ACL scope: not in the queue");
  // bert makes zed his deputy: the order shows in zed's queue for bert.
  const d = await api.app.inject({
    method: "POST",
    url: "/delegations",
    headers: bert.headers,
    payload: {
      deputy: "zed",
      startsAt: new Date(api.clock.now.getTime() - 60_000).toISOString(),
      endsAt: new Date(api.clock.now.getTime() + 3600_000).toISOString(),
    },
  });
  assert.equal(d.statusCode, 201, d.body);
  assert.deepEqual(
    (await queue(zed)).map((i) => [i.order.name, i.approver, i.viaDeputy]),
    [[order, "bert", true]],
  );
  // Once bert decided, it leaves his queue.
  const ok = await api.app.inject({
    method: "POST",
    url: `/orders/${order}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(await queue(bert), []);
  // Permission: helpdesk and auditors have no queue.
  await addAdmin(api, "hal", "helpdesk");
  const hal = await signInAs(api, "hal");
  const denied = await api.app.inject({ method: "GET", url: "/approvals/pending", headers: hal.headers });
  assert.equal(denied.statusCode, 403);
});

test("login CSRF: the JSON sign-in endpoints refuse cross-site form posts (415)", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "carol", "admin");
  for (const url of ["/auth/login", "/auth/setup"]) {
    const r = await api.app.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "username=carol&password=a+long+enough+password",
    });
    assert.equal(r.statusCode, 415, `${url}: ${r.body}`);
    assert.match(r.body, /browsers sign in at \/portal\/login/);
    assert.equal(
      r.cookies.find((c) => c.name === "ipsolis_session"),
      undefined,
    );
  }
  const ok = await api.app.inject({
    method: "POST",
    url: "/auth/login",
    payload: { username: "carol", password: "a long enough password" },
  });
  assert.equal(ok.statusCode, 200);
});
