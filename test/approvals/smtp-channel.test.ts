// The e-mail channel against a real SMTP server (mailpit): a rendered message arrives with its
// subject, plain text and HTML; a stopped server is a retryable (not permanent) failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startMailpit } from "../support/mailpit.ts";
import { DeliveryError, smtpChannel } from "../../api/notify/channels.ts";
import { renderMessage } from "../../api/notify/templates.ts";

test("e-mail over SMTP reaches the mailbox; SMTP down is a retryable failure", async (t) => {
  const mp = await startMailpit();
  t.after(() => mp.stop());
  const ch = smtpChannel({
    host: "127.0.0.1",
    port: mp.smtpPort,
    starttls: "off",
    secure: false,
    from: "ipsolis@example.com",
    user: "u",
    password: "p",
  });
  const message = renderMessage(
    "approval_requested",
    { order: "o1", assetType: "VPN", requester: "Emp" },
    "de",
    "http://127.0.0.1/approve/x",
  );
  await ch.deliver({
    id: "msg_1",
    kind: "approval_requested",
    to: "mgr@example.com",
    message,
    data: {},
    at: new Date(),
  });
  const list = await mp.messagesTo("mgr@example.com");
  assert.equal(list.length, 1);
  const m = await mp.message(list[0]!.ID);
  assert.match(m.Subject, /^Genehmigung erbeten: VPN für Emp$/);
  assert.match(m.Text, /Genehmigen: http:\/\/127\.0\.0\.1\/approve\/x\?decision=Approved/);
  assert.match(m.HTML, /href="http:\/\/127\.0\.0\.1\/approve\/x\?decision=Approved"/);
  await ch.close?.();
  await mp.stop();
  const down = smtpChannel({
    host: "127.0.0.1",
    port: mp.smtpPort,
    starttls: "off",
    secure: false,
    from: "ipsolis@example.com",
    timeoutMs: 2000,
  });
  await assert.rejects(
    down.deliver({
      id: "msg_2",
      kind: "approval_requested",
      to: "mgr@example.com",
      message,
      data: {},
      at: new Date(),
    }),
    (e: unknown) => e instanceof DeliveryError && !e.permanent,
  );
});
