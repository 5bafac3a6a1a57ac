// Reminders, escalation, expiry and deputies (#17) with an injected clock, against the real API,
// operator, Postgres and mailpit: the tick the chart runs as a CronJob (api/notify/tick.ts
// runTick) is called with the test's clock. A deputy set by the employee through the API gets
// the requests and decides; after remindAfter the approvers are reminded once; after
// escalateAfter the manager's manager gets the request and may decide; after expireAfter the
// Order fails ApprovalExpired, the requester is told, and a later decision is a clear 409.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assetType, bashStep, create, phaseIs, runbook, waitOrder } from "../operator/support.ts";
import { eventually } from "../support/kube.ts";
import { runTick } from "../../api/notify/tick.ts";
import { apiOf, linksOf, startStack, type Stack } from "./support.ts";
import { addToken } from "../api/support.ts";

const LONG = 90_000;

type Mail = { subject: string; text: string };
async function mailsTo(s: Stack, addr: string): Promise<Mail[]> {
  const out: Mail[] = [];
  for (const m of await s.mail.messagesTo(addr)) {
    const full = await s.mail.message(m.ID);
    out.push({ subject: full.Subject, text: full.Text });
  }
  return out;
}
const about = (order: string) => (m: Mail) =>
  m.text.includes(`Order: ${order}`) || m.text.includes(`Order ${order}`);

async function waitMail(s: Stack, addr: string, ok: (m: Mail) => boolean, what: string): Promise<Mail> {
  return eventually(what, async () => (await mailsTo(s, addr)).find(ok), LONG, 300);
}

/** Opens a link page (CSRF cookie + field) now, to POST its decision later. */
async function openLink(link: string) {
  const get = await fetch(link);
  const page = await get.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
  const cookie = get.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return {
    status: get.status,
    page,
    async post(decision: "Approved" | "Declined") {
      const r = await fetch(link.split("?")[0]!, {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf, decision }).toString(),
      });
      return { status: r.status, page: await r.text() };
    },
  };
}

test("deputy decides; reminder after remindAfter; escalation to the manager's manager; expiry fails the order and refuses later decisions", async (t) => {
  const s = await startStack(t, "ntfsch", [
    { email: "carl@corp.example", name: "Carl Chief", manager: null },
    { email: "bob@corp.example", name: "Bob Boss", manager: "carl@corp.example" },
    { email: "ann@corp.example", name: "Ann Example", manager: "bob@corp.example" },
    { email: "erin@corp.example", name: "Erin Deputy", manager: "carl@corp.example" },
  ]);
  await create(s.ns, "runbooks", runbook("phone-grant", [bashStep("grant", "echo granted")]));
  await create(s.ns, "runbooks", runbook("phone-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    s.ns,
    "assettypes",
    assetType("phone", {
      displayName: "Phone",
      approval: {
        policy: "Manager",
        remindAfter: "1m",
        maxReminders: 1,
        escalateAfter: "2m",
        expireAfter: "3m",
        channels: ["email"],
      },
      entitlement: { everyone: true },
    }),
  );

  // ---- bob (an employee, no staff role) sets his deputy through the API; refusals are clear ----
  const bob = await s.asEmployee("bob@corp.example", "bob@corp.example");
  const at = (min: number) => new Date(s.now().getTime() + min * 60_000).toISOString();
  const refused = [
    [{ deputy: "BOB@corp.example", startsAt: at(-1), endsAt: at(60) }, /a deputy must be someone else/],
    [{ deputy: "erin@corp.example", startsAt: at(60), endsAt: at(1) }, /endsAt must be after startsAt/],
    [{ deputy: "erin@corp.example", startsAt: at(-120), endsAt: at(-60) }, /in the past/],
  ] as const;
  for (const [payload, message] of refused) {
    const r = await s.app.inject({ method: "POST", url: "/delegations", headers: bob.headers, payload });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json<{ error: string }>().error, message);
  }
  const set = await s.app.inject({
    method: "POST",
    url: "/delegations",
    headers: bob.headers,
    payload: { deputy: "erin@corp.example", startsAt: at(-1), endsAt: at(24 * 60), reason: "Holiday" },
  });
  assert.equal(set.statusCode, 201, set.body);
  const told = await waitMail(s, "erin@corp.example", (m) => /deputising/.test(m.subject), "the deputy told");
  assert.equal(told.subject, "You are deputising for Bob Boss (bob@corp.example) on approvals");
  assert.match(told.text, /Reason: Holiday/);
  const mine = await s.app.inject({ method: "GET", url: "/delegations", headers: bob.headers });
  assert.equal(mine.json<{ items: { reason?: string }[] }>().items[0]?.reason, "Holiday");
  // A window that starts later: its deputy is told when it starts, not when it is set.
  const erin = await s.asEmployee("erin@corp.example", "erin@corp.example");
  const later = await s.app.inject({
    method: "POST",
    url: "/delegations",
    headers: erin.headers,
    payload: { deputy: "carl@corp.example", startsAt: at(2), endsAt: at(60) },
  });
  assert.equal(later.statusCode, 201, later.body);

  // ---- three orders; the manager and the deputy each get one request per order ----
  const ann = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const made = await s.app.inject({
      method: "POST",
      url: "/orders",
      headers: ann.headers,
      payload: { assetType: "phone", reason: `phone ${i}` },
    });
    assert.equal(made.statusCode, 201, made.body);
    names.push(made.json<{ name: string }>().name);
  }
  const [p1, p2, p3] = names as [string, string, string];
  for (const n of names) await waitOrder(s.ns, n, phaseIs("PendingApproval"), LONG);
  const erinsP1 = await waitMail(s, "erin@corp.example", about(p1), "erin's request for p1");
  assert.match(erinsP1.subject, /^Approval requested: Phone/);
  for (const n of names) await waitMail(s, "bob@corp.example", about(n), `bob's request for ${n}`);
  assert.equal((await mailsTo(s, "bob@corp.example")).length, 3);
  // Nothing is due yet.
  assert.deepEqual(await runTick(s.tickDeps), {
    reminded: 0,
    escalated: 0,
    expired: 0,
    closed: 0,
    reassigned: 0,
    deputiesTold: 0,
  });

  // ---- remindAfter (1m): one reminder per order, to bob and the deputy ----
  s.clock.offsetMs = 61_000;
  assert.equal((await runTick(s.tickDeps)).reminded, 3);
  await waitMail(
    s,
    "bob@corp.example",
    (m) => m.subject.startsWith("Reminder 1") && about(p3)(m),
    "bob reminded",
  );
  assert.equal((await runTick(s.tickDeps)).reminded, 0, "maxReminders 1: no second one, and no double");
  // The deputy decides p1 with the link from her mail.
  const byDeputy = await (await openLink(linksOf(erinsP1.text).approve!)).post("Approved");
  assert.equal(byDeputy.status, 200, byDeputy.page);
  const row = await s.db.query<{ actor: string; data: { viaDeputy: boolean; approver: string } }>(
    "SELECT actor, data FROM audit_events WHERE order_name = $1 AND action = 'order_approved'",
    [p1],
  );
  assert.equal(row.rows[0]?.actor, "user:erin@corp.example");
  assert.equal(row.rows[0]?.data.viaDeputy, true);
  assert.equal(row.rows[0]?.data.approver, "bob@corp.example");

  // ---- escalateAfter (2m): carl (bob's manager) gets p2 and p3, and may decide ----
  const early = await s.db.query(
    "SELECT 1 FROM notification_outbox WHERE recipient = 'carl@corp.example' AND kind = 'delegation_started'",
  );
  assert.equal(early.rowCount, 0, "not told before the window starts");
  s.clock.offsetMs = 121_000;
  const esc = await runTick(s.tickDeps);
  assert.equal(esc.escalated, 2, JSON.stringify(esc));
  assert.equal(esc.deputiesTold, 1, "erin's deputy, now that the window started");
  await waitMail(
    s,
    "carl@corp.example",
    (m) => m.subject === "You are deputising for Erin Deputy (erin@corp.example) on approvals",
    "carl told when erin's window starts",
  );
  assert.equal((await runTick(s.tickDeps)).deputiesTold, 0, "told once");
  const carlsP2 = await waitMail(s, "carl@corp.example", about(p2), "carl's escalation of p2");
  assert.match(carlsP2.subject, /^Escalated: approval of Phone for Ann Example/);
  assert.match(carlsP2.text, /bob@corp\.example has not decided in time/);
  const carlsP3 = await waitMail(s, "carl@corp.example", about(p3), "carl's escalation of p3");
  assert.equal((await mailsTo(s, "carl@corp.example")).filter(about(p1)).length, 0, "p1 was decided");
  // The mail's portal link: carl's inbox lists both (the grant, not a label, puts them there).
  const carl = await s.asEmployee("carl@corp.example", "carl@corp.example");
  const inbox = await s.app.inject({ method: "GET", url: "/portal/approvals", headers: carl.headers });
  assert.equal(inbox.statusCode, 200);
  for (const n of [p2, p3])
    assert.match(inbox.body, new RegExp(`/portal/approvals/${n}\\b`), `${n} in carl's inbox`);
  const byCarl = await (await openLink(linksOf(carlsP2.text).approve!)).post("Approved");
  assert.equal(byCarl.status, 200, byCarl.page);

  // ---- expireAfter (3m): p3 fails ApprovalExpired, the requester is told, decisions are 409 ----
  const bobsP3 = (await mailsTo(s, "bob@corp.example")).find(
    (m) => about(p3)(m) && m.subject.startsWith("Approval requested"),
  )!;
  const lateLink = await openLink(linksOf(bobsP3.text).approve!);
  assert.equal(lateLink.status, 200, "still open before expiry");
  s.clock.offsetMs = 181_000;
  assert.equal((await runTick(s.tickDeps)).expired, 1);
  assert.equal((await runTick(s.tickDeps)).expired, 0, "expired once");
  const failed = await waitOrder(s.ns, p3, phaseIs("Failed"), LONG);
  assert.equal(failed.status?.conditions?.find((c) => c.type === "Ready")?.reason, "ApprovalExpired");
  assert.ok(failed.spec.approvals?.some((a) => a.approver === "system:approvals"));
  const late = await lateLink.post("Approved");
  assert.equal(late.status, 409);
  assert.match(late.page, /expired/);
  const lateCarl = await fetch(linksOf(carlsP3.text).approve!);
  assert.equal(lateCarl.status, 409);
  assert.match(await lateCarl.text(), /expired at/);
  const expiredMail = await waitMail(
    s,
    "ann@corp.example",
    (m) => m.subject === "Your order for Phone expired without a decision" && about(p3)(m),
    "the requester told of the expiry",
  );
  assert.match(expiredMail.text, /no decision within 3m/);
  const expiryRows = await s.db.query(
    "SELECT 1 FROM audit_events WHERE order_name = $1 AND actor = 'system:approvals' AND action = 'order_declined'",
    [p3],
  );
  assert.equal(expiryRows.rowCount, 1);

  for (const n of [p1, p2]) await waitOrder(s.ns, n, phaseIs("Provisioned"), LONG);
});

test("an approver who leaves: their place goes to their manager, or stays with the remaining approvers while they can reach the quorum", async (t) => {
  const s = await startStack(t, "ntflvr", [
    { email: "carl@corp.example", name: "Carl Chief", manager: null },
    { email: "bob@corp.example", name: "Bob Boss", manager: "carl@corp.example" },
    { email: "ann@corp.example", name: "Ann Example", manager: "bob@corp.example" },
    { email: "dave@corp.example", name: "Dave Lab", manager: "carl@corp.example" },
    { email: "eve@corp.example", name: "Eve Lab", manager: "carl@corp.example" },
    { email: "fay@corp.example", name: "Fay Lab", manager: "carl@corp.example" },
  ]);
  await create(s.ns, "runbooks", runbook("desk-grant", [bashStep("grant", "echo granted")]));
  await create(s.ns, "runbooks", runbook("desk-revoke", [bashStep("revoke", "echo revoked")]));
  const runbooks = { provision: "desk-grant", deprovision: "desk-revoke" };
  await create(
    s.ns,
    "assettypes",
    assetType("desk", {
      displayName: "Desk",
      runbooks,
      approval: { policy: "Manager", channels: ["email"] },
      entitlement: { everyone: true },
    }),
  );
  await create(
    s.ns,
    "assettypes",
    assetType("lab", {
      displayName: "Lab access",
      runbooks,
      approval: {
        policy: "Approvers",
        approvers: ["dave@corp.example", "eve@corp.example", "fay@corp.example"],
        quorum: 2,
        channels: ["email"],
      },
      entitlement: { everyone: true },
    }),
  );
  const ann = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const place = async (assetType: string) => {
    const r = await s.app.inject({
      method: "POST",
      url: "/orders",
      headers: ann.headers,
      payload: { assetType },
    });
    assert.equal(r.statusCode, 201, r.body);
    const name = r.json<{ name: string }>().name;
    await waitOrder(s.ns, name, phaseIs("PendingApproval"), LONG);
    return name;
  };
  const desk = await place("desk");
  const lab = await place("lab");
  const bobsDesk = await waitMail(s, "bob@corp.example", about(desk), "bob's request");
  for (const who of ["dave", "eve", "fay"])
    await waitMail(s, `${who}@corp.example`, about(lab), `${who}'s request`);

  // ---- bob (ann's manager) leaves, as Entra deprovisions him (SCIM), and dave (a listed
  // approver) is deactivated in the directory ----
  const scim = await addToken(apiOf(s), "admin", ["scim"]);
  const bobId = (
    await s.db.query<{ id: string }>("SELECT id FROM employees WHERE user_name = 'bob@corp.example'")
  ).rows[0]!.id;
  const off = await s.app.inject({
    method: "PATCH",
    url: `/scim/v2/Users/${bobId}`,
    headers: { authorization: `Bearer ${scim}`, "content-type": "application/scim+json" },
    payload: {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "active", value: false }],
    },
  });
  assert.equal(off.statusCode, 200, off.body);
  await s.db.query("UPDATE employees SET active = false WHERE user_name = 'dave@corp.example'");
  // bob's manager hears of it once the leaver fan-out is done (bob held nothing).
  const summary = await waitMail(
    s,
    "carl@corp.example",
    (m) => /is leaving/.test(m.subject),
    "carl's leaver summary",
  );
  assert.equal(summary.subject, "Bob Boss (bob@corp.example) is leaving: access is being taken back");
  assert.match(summary.text, /Bob Boss \(bob@corp\.example\) held no assets in ipsolis\./);
  const first = await runTick(s.tickDeps);
  assert.equal(first.reassigned, 1, JSON.stringify(first));
  // desk: to bob's manager, who is told and decides in bob's place.
  const carlsDesk = await waitMail(s, "carl@corp.example", about(desk), "carl's reassigned request");
  assert.match(carlsDesk.subject, /^Reassigned to you: approval of Desk for Ann Example/);
  assert.match(carlsDesk.text, /bob@corp\.example has left the organisation/);
  const bobsTry = await (await openLink(linksOf(bobsDesk.text).approve!)).post("Approved");
  assert.equal(bobsTry.status, 409, "the leaver's link no longer decides");
  assert.match(bobsTry.page, /left the organisation/);
  const byCarl = await (await openLink(linksOf(carlsDesk.text).approve!)).post("Approved");
  assert.equal(byCarl.status, 200, byCarl.page);
  await waitOrder(s.ns, desk, phaseIs("Provisioned"), LONG);
  // lab: eve and fay can still reach 2 of 3, so nobody new is asked.
  const carlsLabRows = await s.db.query(
    "SELECT 1 FROM notification_outbox WHERE recipient = 'carl@corp.example' AND event_key LIKE '%:' || $1",
    [lab],
  );
  assert.equal(carlsLabRows.rowCount, 0, "nothing queued for carl about lab");
  assert.equal((await runTick(s.tickDeps)).reassigned, 0, "each place moves once");

  // ---- eve leaves too: fay alone cannot reach 2, so eve's place goes to her manager ----
  await s.db.query("UPDATE employees SET active = false WHERE user_name = 'eve@corp.example'");
  assert.equal((await runTick(s.tickDeps)).reassigned, 1);
  const carlsLab = await waitMail(s, "carl@corp.example", about(lab), "carl's lab request");
  assert.match(carlsLab.text, /eve@corp\.example has left the organisation/);
  const fays = await waitMail(s, "fay@corp.example", about(lab), "fay's request");
  for (const m of [carlsLab, fays]) {
    const r = await (await openLink(linksOf(m.text).approve!)).post("Approved");
    assert.equal(r.status, 200, r.page);
  }
  await waitOrder(s.ns, lab, phaseIs("Provisioned"), LONG);

  const rows = await s.db.query<{ order_name: string; data: { inPlaceOf: string; to: unknown } }>(
    "SELECT order_name, data FROM audit_events WHERE action = 'approval_reassigned' ORDER BY id",
  );
  assert.deepEqual(
    rows.rows.map((r) => [r.order_name, r.data.inPlaceOf, r.data.to]),
    [
      [desk, "bob@corp.example", "carl@corp.example"],
      [lab, "dave@corp.example", ["eve@corp.example", "fay@corp.example"]],
      [lab, "eve@corp.example", "carl@corp.example"],
    ],
  );
});
