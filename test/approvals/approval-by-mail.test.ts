// Approvals that reach people (#17), end to end against real servers: an employee orders a
// Manager-policy type through the API; the manager gets exactly one mail (mailpit) with Approve
// and Decline links and a portal link, a Teams Adaptive Card and a Standard Webhooks signed
// event reach a local receiver (signature verified with the standardwebhooks library); the
// manager follows Approve in Chromium, confirms, and the Order is provisioned with one audit
// row; the link is dead afterwards; the requester is told; a restarted notifier sends nothing
// twice; the requester never gets a link to their own order, and a link that would let them
// decide is refused as self-approval.
import { test } from "node:test";
import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { Webhook } from "standardwebhooks";
import { chromium } from "playwright-core";
import { bashStep, create, get, phaseIs, runbook, assetType, waitOrder } from "../operator/support.ts";
import { eventually } from "../support/kube.ts";
import type { Order } from "../../crds/generated/index.ts";
import { decideByLink, linksOf, startStack, WEBHOOK_SECRET } from "./support.ts";

const CHROMIUM = "/usr/bin/chromium";
const LONG = 90_000;

test("a Manager order: one mail with working links, approved in Chromium, provisioned, requester told, nothing twice", async (t) => {
  const s = await startStack(t, "ntf", [
    { email: "bob@corp.example", name: "Bob Boss", manager: null },
    { email: "ann@corp.example", name: "Ann Example", manager: "bob@corp.example" },
    { email: "dave@corp.example", name: "Dave Approver", manager: null },
  ]);
  await create(s.ns, "runbooks", runbook("laptop-grant", [bashStep("order", "echo ordered")]));
  await create(s.ns, "runbooks", runbook("laptop-revoke", [bashStep("return", "echo returned")]));
  await create(
    s.ns,
    "assettypes",
    assetType("laptop", {
      displayName: "Laptop",
      approval: { policy: "Manager" },
      entitlement: { everyone: true },
    }),
  );
  const ann = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const made = await s.app.inject({
    method: "POST",
    url: "/orders",
    headers: ann.headers,
    payload: { assetType: "laptop", reason: "My old one broke" },
  });
  assert.equal(made.statusCode, 201, made.body);
  const name = made.json<{ name: string }>().name;
  await waitOrder(s.ns, name, phaseIs("PendingApproval"), LONG);

  // ---- the manager's mail: exactly one, both links, the portal ----
  const mails = await eventually("the manager's mail", async () => {
    const l = await s.mail.messagesTo("bob@corp.example");
    return l.length > 0 ? l : undefined;
  });
  assert.equal(mails.length, 1);
  const m = await s.mail.message(mails[0]!.ID);
  assert.equal(m.Subject, "Approval requested: Laptop for Ann Example (ann@corp.example)");
  assert.match(m.Text, /Reason: My old one broke/);
  const links = linksOf(m.Text);
  assert.ok(links.approve?.startsWith(`${s.base}/approve/`), m.Text);
  assert.ok(links.decline?.endsWith("?decision=Declined"), m.Text);
  assert.equal(links.portal, `${s.base}/portal/approvals`);
  assert.match(m.HTML, /href="[^"]+\?decision=Approved"/);
  assert.equal((await s.mail.messagesTo("ann@corp.example")).length, 0, "the requester gets no request");

  // ---- Teams card and the signed webhook, on the local receiver ----
  const teams = await eventually("the Teams card", async () =>
    s.sink.find((r) => r.path === "/teams" && r.body.includes(name)),
  );
  const card = JSON.parse(teams.body) as {
    attachments: {
      contentType: string;
      content: { type: string; actions: { type: string; title: string; url: string }[] };
    }[];
  };
  assert.equal(card.attachments[0]!.contentType, "application/vnd.microsoft.card.adaptive");
  assert.equal(card.attachments[0]!.content.type, "AdaptiveCard");
  assert.deepEqual(
    card.attachments[0]!.content.actions.map((a) => [a.type, a.title]),
    [
      ["Action.OpenUrl", "Approve"],
      ["Action.OpenUrl", "Decline"],
    ],
  );
  const hook = await eventually("the signed webhook", async () =>
    s.sink.find((r) => r.path === "/hook" && r.body.includes(name)),
  );
  const verified = new Webhook(WEBHOOK_SECRET).verify(hook.body, {
    "webhook-id": String(hook.headers["webhook-id"]),
    "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
    "webhook-signature": String(hook.headers["webhook-signature"]),
  }) as { type: string; data: { order: string; recipient: string } };
  assert.equal(verified.type, "approval_requested");
  assert.equal(verified.data.order, name);
  assert.equal(verified.data.recipient, "bob@corp.example");
  assert.throws(() =>
    new Webhook(WEBHOOK_SECRET).verify(hook.body.replace("bob@", "eve@"), {
      "webhook-id": String(hook.headers["webhook-id"]),
      "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
      "webhook-signature": String(hook.headers["webhook-signature"]),
    }),
  );

  // ---- the manager follows Approve in Chromium and confirms ----
  const haveChromium = await access(CHROMIUM).then(
    () => true,
    () => false,
  );
  if (haveChromium) {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
    t.after(() => browser.close());
    const page = await (await browser.newContext({ locale: "en-GB" })).newPage();
    const opened = await page.goto(links.approve!);
    assert.equal(opened?.status(), 200);
    assert.match((await page.textContent("main")) ?? "", /You chose to approve/);
    assert.match((await page.textContent("main")) ?? "", /You decide as bob@corp\.example/);
    await page.click("button[value=Approved]");
    await page.waitForSelector("text=approved. Thank you", { timeout: 20_000 });
  } else {
    t.diagnostic(`${CHROMIUM} not installed: the link is followed without a browser`);
    const r = await decideByLink(links.approve!, "Approved");
    assert.equal(r.status, 200, r.page);
  }
  await waitOrder(s.ns, name, phaseIs("Provisioned"), LONG);
  const rows = await s.db.query<{ actor: string; data: { linkId?: string } }>(
    "SELECT actor, data FROM audit_events WHERE order_name = $1 AND action = 'order_approved'",
    [name],
  );
  assert.equal(rows.rowCount, 1, "one audit row per decision");
  assert.equal(rows.rows[0]!.actor, "user:bob@corp.example");
  assert.ok(rows.rows[0]!.data.linkId);

  // ---- the link is dead: decided, and used ----
  const again = await decideByLink(links.approve!, "Declined");
  assert.equal(again.getStatus, 409);
  assert.match(again.page, /already been used|no longer waits/);
  assert.doesNotMatch(again.page, /<button name="decision"/);
  const decline = await fetch(links.decline!);
  assert.equal(decline.status, 409);

  // ---- the requester is told: approved, then ready ----
  const told = await eventually(
    "the requester's outcome mails",
    async () => {
      const l = await s.mail.messagesTo("ann@corp.example");
      return l.length >= 2 ? l : undefined;
    },
    LONG,
  );
  const subjects = told.map((x) => x.Subject).sort();
  assert.deepEqual(subjects, ["Your order for Laptop is ready", "Your order for Laptop was approved"]);

  // ---- deliveries recorded: one audit row per (recipient, channel, event), no link in it ----
  const sent = await s.db.query<{ data: Record<string, unknown> }>(
    "SELECT data FROM audit_events WHERE action = 'notification_sent' AND order_name = $1",
    [name],
  );
  assert.ok(sent.rows.some((r) => r.data.recipient === "bob@corp.example" && r.data.channel === "email"));
  assert.ok(sent.rows.every((r) => !JSON.stringify(r.data).includes("/approve/")));
  // The same deliveries counted for Prometheus, and the decision made through the link.
  const prom = await s.app.metrics.registry.metrics();
  const counted = [
    ...prom.matchAll(/^ipsolis_api_notifications_total\{channel="\w+",result="sent"\} (\d+)$/gm),
  ]
    .map((x) => Number(x[1]))
    .reduce((a, b) => a + b, 0);
  assert.equal(counted, sent.rowCount);
  assert.match(prom, /^ipsolis_api_approval_decisions_total\{decision="Approved",source="portal"\} 1$/m);

  // ---- a restart resyncs every Order and sends nothing twice ----
  await s.restartNotifier();
  await new Promise((r) => setTimeout(r, 1500));
  await s.notifier.idle();
  assert.equal((await s.mail.messagesTo("bob@corp.example")).length, 1);
  assert.equal((await s.mail.messagesTo("ann@corp.example")).length, 2);
  const dup = await s.db.query(
    "SELECT event_key, recipient, channel FROM notification_outbox GROUP BY 1, 2, 3 HAVING count(*) > 1",
  );
  assert.equal(dup.rowCount, 0);
});

test("an Approvers order: the requester is never sent a link; a link that lets them decide is refused as self-approval", async (t) => {
  const s = await startStack(t, "ntfself", [
    { email: "ann@corp.example", name: "Ann Example", manager: null },
    { email: "dave@corp.example", name: "Dave Approver", manager: null, lang: "de-DE" },
  ]);
  await create(s.ns, "runbooks", runbook("vpn-grant", [bashStep("grant", "echo granted")]));
  await create(s.ns, "runbooks", runbook("vpn-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    s.ns,
    "assettypes",
    assetType("vpn", {
      displayName: "VPN",
      approval: {
        policy: "Approvers",
        approvers: ["ann@corp.example", "dave@corp.example"],
        channels: ["email"],
      },
      entitlement: { everyone: true },
    }),
  );
  const ann = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const made = await s.app.inject({
    method: "POST",
    url: "/orders",
    headers: ann.headers,
    payload: { assetType: "vpn" },
  });
  assert.equal(made.statusCode, 201, made.body);
  const name = made.json<{ name: string }>().name;
  const daves = await eventually(
    "dave's mail",
    async () => {
      const l = await s.mail.messagesTo("dave@corp.example");
      return l.length > 0 ? l : undefined;
    },
    LONG,
  );
  const m = await s.mail.message(daves[0]!.ID);
  assert.match(m.Subject, /^Genehmigung erbeten: VPN für Ann Example/, "German by SCIM preferredLanguage");
  await s.notifier.idle();
  assert.equal((await s.mail.messagesTo("ann@corp.example")).length, 0, "no request to the requester");
  assert.equal(s.sink.length, 0, "this type uses e-mail only");
  const rows = await s.db.query("SELECT recipient FROM approval_recipients WHERE order_name = $1", [name]);
  assert.deepEqual(
    rows.rows.map((r: { recipient: string }) => r.recipient),
    ["dave@corp.example"],
  );
  // A link for the requester (as a superadmin could mint): the POST refuses it (409), unused.
  const { signApprovalLink, newLinkId } = await import("../../api/routes/approvals/links.ts");
  const token = signApprovalLink(s.app.security.linkSecret, {
    order: name,
    approver: "ann@corp.example",
    expiresAt: new Date(Date.now() + 3600_000),
    id: newLinkId(),
    issuer: "admin:root",
  });
  const self = await decideByLink(`${s.base}/approve/${token}`, "Approved");
  assert.equal(self.status, 409);
  assert.match(self.page, /nobody approves their own order/);
  const o = await get<Order>(s.ns, "orders", name);
  assert.equal(o.status?.phase, "PendingApproval");
  // Dave's link in German decides.
  const r = await decideByLink(linksOf(m.Text).approve!, "Approved");
  assert.equal(r.status, 200, r.page);
  await waitOrder(s.ns, name, phaseIs("Provisioned"), LONG);
});
