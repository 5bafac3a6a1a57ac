// Generated one-time passwords (#22, the helpdesk's password reset), end to end on real
// servers (API, operator, local node running bash runbooks, Postgres, mailpit): the API makes
// the password when a request asks for it, the runbook gets it as a secret attribute, the
// manager (never the requester, never the helpdesk) is mailed a link and reveals it once in the
// portal's JSON after the Order is Provisioned; the helpdesk resets it with a Modify; nothing
// (response, Order, audit, outbox) ever holds the value; no manager, a sent value, a bad
// `generate`, a pending order, a failed order and expiry each get their clear answer.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, hkdfSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assetType, bashStep, create, get, phaseIs, runbook, waitOrder } from "../operator/support.ts";
import { eventually } from "../support/kube.ts";
import { addAdmin, signInAs, type Browser } from "../api/support.ts";
import { apiOf, startStack, type Stack } from "../approvals/support.ts";
import type { Order } from "../../crds/generated/order.ts";
import { LEGACY_AAD_UNTIL, sweepOneTimeSecrets } from "../../api/orders/one-time-secrets.ts";
import { testKubeConfig } from "../support/kube.ts";

const LONG = 90_000;

async function call(s: Stack, b: Browser | undefined, method: string, url: string, payload?: unknown) {
  const r = await s.app.inject({
    method: method as "GET",
    url,
    headers: {
      ...(b?.headers ?? {}),
      ...(payload !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });
  return { status: r.statusCode, body: r.body, headers: r.headers, json: <T>() => r.json<T>() };
}

type View = { id: string; order: string; state: string; subject: string; attribute: string };

/** Bob manages Ann and Carol manages nobody; a directory account with a generated password. */
async function otpWorld(t: TestContext, prefix: string) {
  const s = await startStack(t, prefix, [
    { email: "bob@corp.example", name: "Bob Boss", manager: null },
    { email: "ann@corp.example", name: "Ann Example", manager: "bob@corp.example" },
    { email: "nina@corp.example", name: "Nina Nomanager", manager: null },
    { email: "carol@corp.example", name: "Carol Chief", manager: null },
  ]);
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-otp-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const seen = join(dir, "password");
  // The runbook records what it got (to compare with what the manager reveals) and tries to
  // print it, which the runner masks.
  const setPassword = `if [ -n "\${IPSOLIS_ATTR_password:-}" ]; then printf '%s' "$IPSOLIS_ATTR_password" > ${seen}; echo "password reset ($IPSOLIS_ATTR_password)"; else echo "password unchanged"; fi`;
  await create(s.ns, "runbooks", runbook("acct-grant", [bashStep("grant", setPassword)]));
  await create(s.ns, "runbooks", runbook("acct-change", [bashStep("change", setPassword)]));
  await create(s.ns, "runbooks", runbook("acct-revoke", [bashStep("revoke", "echo revoked")]));
  const attributes = [
    {
      name: "password",
      type: "string" as const,
      secret: true,
      generated: { kind: "OneTimePassword" as const, deliverTo: "Manager" as const, length: 20 },
    },
    { name: "note", type: "string" as const },
  ];
  await create(
    s.ns,
    "assettypes",
    assetType("dir-account", {
      displayName: "Directory account",
      approval: { policy: "None", onModify: { policy: "None" } },
      runbooks: { provision: "acct-grant", modify: "acct-change", deprovision: "acct-revoke" },
      attributes,
      entitlement: { everyone: true },
    }),
  );
  // The same with the manager's approval: its password waits for the decision.
  await create(
    s.ns,
    "assettypes",
    assetType("dir-guest", {
      displayName: "Guest account",
      approval: { policy: "Manager" },
      runbooks: { provision: "acct-grant", modify: "acct-change", deprovision: "acct-revoke" },
      attributes,
      entitlement: { everyone: true },
    }),
  );
  const ann = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const bob = await s.asEmployee("bob@corp.example", "bob@corp.example");
  const nina = await s.asEmployee("nina@corp.example", "nina@corp.example");

  return { s, seen, ann, bob, nina };
}

test("one-time password: made by the API, set by the runbook, revealed once by the manager; the helpdesk resets it", async (t) => {
  const { s, seen, ann, bob, nina } = await otpWorld(t, "otp");

  // ---- refused requests write nothing ----
  const sent = await call(s, ann, "POST", "/orders", {
    assetType: "dir-account",
    attributes: { password: "Chosen-By-Me-1" },
  });
  assert.equal(sent.status, 400, sent.body);
  assert.match(sent.body, /body\.attributes\.password is generated by ipsolis and cannot be sent/);
  const badGen = await call(s, ann, "POST", "/orders", {
    assetType: "dir-account",
    generate: ["note", "pin"],
  });
  assert.equal(badGen.status, 400, badGen.body);
  assert.equal(badGen.json<{ reason: string }>().reason, "InvalidGenerate");
  assert.match(
    badGen.json<{ error: string }>().error,
    /"note" is not a generated attribute.*generated: password/,
  );
  const noMgr = await call(s, nina, "POST", "/orders", { assetType: "dir-account", generate: ["password"] });
  assert.equal(noMgr.status, 422, noMgr.body);
  assert.equal(noMgr.json<{ reason: string }>().reason, "NoManager");
  assert.match(noMgr.body, /nina@corp\.example has no manager/);
  const count = async (table: string) =>
    Number((await s.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  assert.equal(await count("one_time_secrets"), 0);
  const nOrders = async () =>
    (await s.app.inject({ method: "GET", url: "/orders", headers: nina.headers })).json<{
      items: unknown[];
    }>().items.length;
  assert.equal(await nOrders(), 0, "no order for a refused request");

  // ---- the joiner's password: ann orders, bob gets it ----
  const made = await call(s, ann, "POST", "/orders", {
    assetType: "dir-account",
    generate: ["password"],
    attributes: { note: "first" },
  });
  assert.equal(made.status, 201, made.body);
  const order = made.json<{ name: string; secretAttributes?: string[] }>();
  assert.deepEqual(order.secretAttributes, ["password"]);
  await waitOrder(s.ns, order.name, phaseIs("Provisioned"), LONG);
  const p1 = await readFile(seen, "utf8");
  assert.equal(p1.length, 20, "the runbook got the generated password");
  assert.ok(!made.body.includes(p1), "the response never holds it");

  const mails = await eventually("bob's mail", async () => {
    const l = await s.mail.messagesTo("bob@corp.example");
    return l.length > 0 ? l : undefined;
  });
  assert.equal(mails.length, 1);
  const mail = await s.mail.message(mails[0]!.ID);
  assert.equal(mail.Subject, "A one-time password for Ann Example (ann@corp.example) is waiting for you");
  const link = /In the portal: (\S+)/.exec(mail.Text)?.[1];
  assert.ok(link?.startsWith(`${s.base}/portal/secrets/`), mail.Text);
  assert.ok(!mail.Text.includes(p1) && !mail.HTML.includes(p1), "the mail never holds it");
  // ann hears that her order is ready (order_outcome), never of the password.
  for (const m of await s.mail.messagesTo("ann@corp.example")) {
    const full = await s.mail.message(m.ID);
    assert.doesNotMatch(full.Subject, /one-time password/i, "ann is not sent it");
    assert.ok(!full.Text.includes(p1) && !full.Text.includes("/portal/secrets/"), full.Text);
  }
  const id = decodeURIComponent(link!.split("/").at(-1)!);

  // Only bob sees it; ann (the requester) gets 404 for it, as for anything not hers.
  assert.deepEqual((await call(s, ann, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items, []);
  assert.equal((await call(s, ann, "GET", `/me/one-time-secrets/${id}`)).status, 404);
  assert.equal((await call(s, ann, "POST", `/me/one-time-secrets/${id}/reveal`, {})).status, 404);
  const list = (await call(s, bob, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items;
  assert.deepEqual(
    list.map((v) => [v.id, v.order, v.state, v.subject, v.attribute]),
    [[id, order.name, "Ready", "ann@corp.example", "password"]],
  );
  // A staff account given bob's e-mail is not bob: it sees nothing and reveals nothing.
  await addAdmin(apiOf(s), "eve", "auditor", undefined, "bob@corp.example");
  const eve = await signInAs(apiOf(s), "eve");
  assert.deepEqual((await call(s, eve, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items, []);
  assert.equal((await call(s, eve, "GET", `/me/one-time-secrets/${id}`)).status, 404);
  assert.equal((await call(s, eve, "POST", `/me/one-time-secrets/${id}/reveal`, {})).status, 404);
  const shown = await call(s, bob, "POST", `/me/one-time-secrets/${id}/reveal`, {});
  assert.equal(shown.status, 200, shown.body);
  assert.equal(shown.json<{ value: string }>().value, p1, "bob reveals exactly what the runbook set");
  assert.equal(shown.headers["cache-control"], "no-store");
  const again = await call(s, bob, "POST", `/me/one-time-secrets/${id}/reveal`, {});
  assert.equal(again.status, 410, again.body);
  assert.equal(again.json<{ reason: string }>().reason, "Revealed");

  // ---- the helpdesk's reset: a Modify whose new password goes to bob again ----
  await addAdmin(apiOf(s), "hal", "helpdesk", undefined, "hal@corp.example");
  const hal = await signInAs(apiOf(s), "hal");
  const reset = await call(s, hal, "POST", `/orders/${order.name}/reset`, {
    reason: "locked out, called in",
  });
  assert.equal(reset.status, 201, reset.body);
  const mod = reset.json<{ name: string; action: string }>();
  assert.equal(mod.action, "Modify");
  await waitOrder(s.ns, mod.name, phaseIs("Provisioned"), LONG);
  const p2 = await readFile(seen, "utf8");
  assert.notEqual(p2, p1, "a new password");
  assert.deepEqual((await call(s, hal, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items, []);
  const second = (await call(s, bob, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items[0]!;
  assert.equal(second.order, mod.name);
  assert.equal(second.state, "Ready");
  // A change without `generate` leaves the password alone (the runbook gets none).
  const note = await call(s, ann, "POST", `/orders/${order.name}/modify`, { attributes: { note: "second" } });
  assert.equal(note.status, 201, note.body);
  await waitOrder(s.ns, note.json<{ name: string }>().name, phaseIs("Provisioned"), LONG);
  assert.equal(await readFile(seen, "utf8"), p2, "no password without generate");
  assert.equal(await count("one_time_secrets"), 2);
  // The console offers hal the same as a form; an approver (no orders:reset) does not get it.
  const page = await call(s, hal, "GET", `/console/orders/${order.name}`);
  assert.equal(page.status, 200);
  assert.match(page.body, new RegExp(`action="/console/orders/${order.name}/reset"`));
  await addAdmin(apiOf(s), "apu", "approver", undefined, "apu@corp.example");
  const apu = await signInAs(apiOf(s), "apu");
  assert.doesNotMatch((await call(s, apu, "GET", `/console/orders/${order.name}`)).body, /\/reset"/);
  assert.equal((await call(s, apu, "POST", `/orders/${order.name}/reset`, {})).status, 403);
  const noReset = await call(s, hal, "POST", "/orders/does-not-exist/reset", {});
  assert.equal(noReset.status, 404, noReset.body);

  // ---- waiting for approval: 409; declined: 410, wiped ----
  const guest = await call(s, ann, "POST", "/orders", { assetType: "dir-guest", generate: ["password"] });
  assert.equal(guest.status, 201, guest.body);
  const guestName = guest.json<{ name: string }>().name;
  await waitOrder(s.ns, guestName, phaseIs("PendingApproval"), LONG);
  const gid = (await call(s, bob, "GET", "/me/one-time-secrets"))
    .json<{ items: View[] }>()
    .items.find((v) => v.order === guestName)!.id;
  const early = await call(s, bob, "POST", `/me/one-time-secrets/${gid}/reveal`, {});
  assert.equal(early.status, 409, early.body);
  assert.equal(early.json<{ reason: string }>().reason, "NotReady");
  // bob declines in the portal (employees decide there).
  const decline = await s.app.inject({
    method: "POST",
    url: `/portal/approvals/${guestName}`,
    headers: { ...bob.headers, "content-type": "application/x-www-form-urlencoded" },
    payload: `decision=Declined&_csrf=${encodeURIComponent(bob.csrf)}`,
  });
  assert.equal(decline.statusCode, 303, decline.body);
  await waitOrder(s.ns, guestName, phaseIs("Failed"), LONG);
  const failed = await call(s, bob, "POST", `/me/one-time-secrets/${gid}/reveal`, {});
  assert.equal(failed.status, 410, failed.body);
  assert.equal(failed.json<{ reason: string }>().reason, "OrderFailed");

  // ---- expiry: 7 days later the reset's value is gone unrevealed ----
  s.clock.offsetMs += 8 * 24 * 3600_000;
  const bobLater = await s.asEmployee("bob@corp.example", "bob@corp.example");
  const late = await call(s, bobLater, "POST", `/me/one-time-secrets/${second.id}/reveal`, {});
  assert.equal(late.status, 410, late.body);
  assert.equal(late.json<{ reason: string }>().reason, "Expired");
  const live = await s.db.query("SELECT id FROM one_time_secrets WHERE sealed IS NOT NULL");
  assert.equal(live.rowCount, 0, "every value is wiped: revealed, failed or expired");

  // ---- the record: who got what, never the value ----
  const audit = await s.db.query<{ action: string; actor: string; data: Record<string, unknown> }>(
    "SELECT action, actor, data FROM audit_events WHERE action LIKE 'one_time_secret_%' ORDER BY id",
  );
  assert.deepEqual(
    audit.rows.map((r) => [r.action, r.actor, r.data.recipient]),
    [
      ["one_time_secret_issued", "user:ann@corp.example", "bob@corp.example"],
      ["one_time_secret_revealed", "user:bob@corp.example", "bob@corp.example"],
      ["one_time_secret_issued", "admin:hal", "bob@corp.example"],
      ["one_time_secret_issued", "user:ann@corp.example", "bob@corp.example"],
      ["one_time_secret_wiped", "system:api", "bob@corp.example"],
      ["one_time_secret_wiped", "system:api", "bob@corp.example"],
    ],
  );
  // Each unrevealed value's end is on the record with its reason (the declined order, expiry).
  assert.deepEqual(
    audit.rows.filter((r) => r.action === "one_time_secret_wiped").map((r) => r.data.reason),
    ["OrderFailed", "Expired"],
  );
  for (const p of [p1, p2]) {
    const b64 = Buffer.from(p).toString("base64");
    for (const [what, sql] of [
      ["audit", "SELECT data::text AS t FROM audit_events"],
      ["outbox", "SELECT payload::text AS t FROM notification_outbox"],
      ["order history", "SELECT row_to_json(h)::text AS t FROM orders h"],
      ["step runs", "SELECT row_to_json(r)::text AS t FROM step_runs r"],
    ] as const) {
      const rows = await s.db.query<{ t: string }>(sql);
      assert.ok(
        !rows.rows.some((r) => r.t.includes(p) || r.t.includes(b64)),
        `${what} never holds a password`,
      );
    }
    for (const n of [order.name, mod.name]) {
      const o = await get<Order>(s.ns, "orders", n);
      assert.ok(!JSON.stringify(o).includes(p), `order ${n} never holds a password`);
    }
  }
});

test("one-time password: a rotated link secret, a new manager and a missing order each end it for good (410), and the sweep wipes them unopened", async (t) => {
  const { s, ann, bob } = await otpWorld(t, "otp2");
  const made = await call(s, ann, "POST", "/orders", { assetType: "dir-account", generate: ["password"] });
  assert.equal(made.status, 201, made.body);
  const order = made.json<{ name: string }>().name;
  await waitOrder(s.ns, order, phaseIs("Provisioned"), LONG);
  const mine = async () =>
    (await call(s, bob, "GET", "/me/one-time-secrets")).json<{ items: View[] }>().items;
  const first = (await mine())[0]!;
  assert.equal(first.state, "Ready");

  // ---- the link secret was rotated since: unreadable, said so for good, not revealed ----
  const security = s.app.security as { linkSecret: string };
  const key = security.linkSecret;
  security.linkSecret = "a-new-link-secret-0123456789abcdefghijkl";
  const unreadable = await call(s, bob, "POST", `/me/one-time-secrets/${first.id}/reveal`, {});
  security.linkSecret = key;
  assert.equal(unreadable.status, 410, unreadable.body);
  assert.equal(unreadable.json<{ reason: string }>().reason, "KeyChanged");
  assert.match(unreadable.json<{ error: string }>().error, /link secret was changed/);
  const row = async (id: string) =>
    (
      await s.db.query<{ live: boolean; revealed_at: Date | null; wiped_reason: string | null }>(
        "SELECT sealed IS NOT NULL AS live, revealed_at, wiped_reason FROM one_time_secrets WHERE id = $1",
        [id],
      )
    ).rows[0];
  assert.deepEqual(await row(first.id), { live: false, revealed_at: null, wiped_reason: "KeyChanged" });
  const twice = await call(s, bob, "POST", `/me/one-time-secrets/${first.id}/reveal`, {});
  assert.equal(twice.status, 410, "the same answer, not a 500");
  assert.equal(twice.json<{ reason: string }>().reason, "KeyChanged");
  assert.equal((await mine()).find((v) => v.id === first.id)?.state, "KeyChanged");
  const revealed = await s.db.query("SELECT 1 FROM audit_events WHERE action = 'one_time_secret_revealed'");
  assert.equal(revealed.rowCount, 0, "nobody saw it");

  // ---- a row sealed before the recipient joined the binding (id, order, attribute) still
  // opens: the format on disk before it, sealed here by hand the way it was then ----
  const legacy = "legacy-row-sealed-with-three-fields";
  /** Seals `value` under the link secret's key, bound to `aad`, as the API stores it. */
  const sealed = (aad: string, value: string) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv(
      "aes-256-gcm",
      Buffer.from(hkdfSync("sha256", key, "", "ipsolis one-time secrets v1", 32)),
      iv,
    );
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const enc = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), enc]);
  };
  await s.db.query(
    `INSERT INTO one_time_secrets (id, order_name, attribute, asset_type, subject, recipient, sealed, created_at, expires_at)
     VALUES ($1, $2, 'pin', 'dir-account', 'ann@corp.example', 'bob@corp.example', $3, $4, $5)`,
    [
      legacy,
      order,
      sealed(`${legacy}\n${order}\npin`, "Legacy-Value-42!"),
      s.now(),
      new Date(s.now().getTime() + 3600_000),
    ],
  );
  const old = await call(s, bob, "POST", `/me/one-time-secrets/${legacy}/reveal`, {});
  const legacyOpens = s.now() < LEGACY_AAD_UNTIL;
  if (legacyOpens) {
    assert.equal(old.status, 200, old.body);
    assert.equal(old.json<{ value: string }>().value, "Legacy-Value-42!");
  } else {
    // Past the cut-off (every such row has expired): the old binding opens nothing.
    assert.equal(old.status, 410, old.body);
    assert.equal(old.json<{ reason: string }>().reason, "KeyChanged");
  }
  // A row of today's format whose recipient was edited does not open (the binding holds), even
  // with the legacy fallback: it is refused as unreadable.
  const edited = "current-row-with-an-edited-recipient";
  await s.db.query(
    `INSERT INTO one_time_secrets (id, order_name, attribute, asset_type, subject, recipient, sealed, created_at, expires_at)
     VALUES ($1, $2, 'note', 'dir-account', 'ann@corp.example', 'bob@corp.example', $3, $4, $5)`,
    [
      edited,
      order,
      sealed(`${edited}\n${order}\nnote\ncarol@corp.example`, "Sealed-For-Carol-1"),
      s.now(),
      new Date(s.now().getTime() + 3600_000),
    ],
  );
  const stolen = await call(s, bob, "POST", `/me/one-time-secrets/${edited}/reveal`, {});
  assert.equal(stolen.status, 410, stolen.body);
  assert.equal(stolen.json<{ reason: string }>().reason, "KeyChanged");

  // ---- ann asks for a new one (a Modify asking only for it), then moves to carol's team
  // before bob opens it: bob never gets it ----
  const reset = await call(s, ann, "POST", `/orders/${order}/modify`, { generate: ["password"] });
  assert.equal(reset.status, 201, reset.body);
  await waitOrder(s.ns, reset.json<{ name: string }>().name, phaseIs("Provisioned"), LONG);
  const second = (await mine()).find((v) => v.order === reset.json<{ name: string }>().name)!;
  assert.equal(second.state, "Ready");
  await s.db.query(
    "UPDATE employees SET manager = 'carol@corp.example' WHERE user_name = 'ann@corp.example'",
  );
  const moved = await call(s, bob, "POST", `/me/one-time-secrets/${second.id}/reveal`, {});
  assert.equal(moved.status, 410, moved.body);
  assert.equal(moved.json<{ reason: string }>().reason, "RecipientChanged");
  assert.equal((await row(second.id))?.wiped_reason, "RecipientChanged");
  const carol = await s.asEmployee("carol@corp.example", "carol@corp.example");
  assert.equal(
    (await call(s, carol, "GET", `/me/one-time-secrets/${second.id}`)).status,
    404,
    "nor does the new manager: the helpdesk resets it again for her",
  );

  // ---- the sweep: values nobody opens are wiped all the same ----
  const third = await call(s, ann, "POST", `/orders/${order}/modify`, { generate: ["password"] });
  assert.equal(third.status, 201, third.body);
  const thirdId = (
    await s.db.query<{ id: string }>("SELECT id FROM one_time_secrets WHERE order_name = $1", [
      third.json<{ name: string }>().name,
    ])
  ).rows[0]!.id;
  assert.equal((await row(thirdId))?.live, true);
  // A row whose Order was never made (the API stopped in between): kept a while, then wiped.
  const orphan = "orphan-row-for-the-sweep-0123";
  await s.db.query(
    `INSERT INTO one_time_secrets (id, order_name, attribute, asset_type, subject, recipient, sealed, created_at, expires_at)
     VALUES ($1, 'never-made', 'password', 'dir-account', 'ann@corp.example', 'carol@corp.example', '\\x00', $2, $3)`,
    [orphan, s.now(), new Date(s.now().getTime() + 3600_000)],
  );
  const sweepDeps = { db: s.db, now: s.now, kc: testKubeConfig(), namespace: s.ns };
  await sweepOneTimeSecrets(sweepDeps);
  assert.equal((await row(orphan))?.live, true, "within the grace period its Order may still come");
  s.clock.offsetMs += 30 * 60_000;
  assert.ok((await sweepOneTimeSecrets(sweepDeps)) >= 1);
  assert.equal((await row(orphan))?.wiped_reason, "OrderFailed");
  // Eight days on, the reset nobody opened expires without anyone loading a page.
  s.clock.offsetMs += 8 * 24 * 3600_000;
  await sweepOneTimeSecrets(sweepDeps);
  assert.deepEqual(await row(thirdId), { live: false, revealed_at: null, wiped_reason: "Expired" });
  const live = await s.db.query("SELECT id FROM one_time_secrets WHERE sealed IS NOT NULL");
  assert.equal(live.rowCount, 0);
  // None ended unrecorded: each wipe is audited with its reason, next to its issue.
  const wiped = await s.db.query<{ reason: string }>(
    "SELECT data->>'reason' AS reason FROM audit_events WHERE action = 'one_time_secret_wiped' ORDER BY id",
  );
  assert.deepEqual(
    wiped.rows.map((r) => r.reason),
    legacyOpens
      ? ["KeyChanged", "KeyChanged", "RecipientChanged", "OrderFailed", "Expired"]
      : ["KeyChanged", "KeyChanged", "KeyChanged", "RecipientChanged", "OrderFailed", "Expired"],
  );
});
