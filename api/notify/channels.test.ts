import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { standardWebhookSignature, teamsPayload } from "./channels.ts";
import { langOf, renderMessage } from "./templates.ts";

test("webhook signature verifies with the Standard Webhooks reference library", () => {
  const secret = `whsec_${Buffer.from("a test secret of enough length!!").toString("base64")}`;
  const body = JSON.stringify({ type: "approval_requested", data: { order: "o1" } });
  const ts = Math.floor(Date.now() / 1000);
  const sig = standardWebhookSignature(secret, "msg_1", ts, body);
  const wh = new Webhook(secret);
  assert.doesNotThrow(() =>
    wh.verify(body, { "webhook-id": "msg_1", "webhook-timestamp": String(ts), "webhook-signature": sig }),
  );
  assert.throws(() =>
    wh.verify(body + " ", {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": sig,
    }),
  );
});

test("language from SCIM preferredLanguage: de, de-CH, de_AT → German; others English", () => {
  assert.deepEqual(["de", "de-CH", "de_AT", "en-US", "fr", undefined, "dex"].map(langOf), [
    "de",
    "de",
    "de",
    "en",
    "en",
    "en",
    "en",
  ]);
});

test("messages: plain and HTML, English and German, HTML escaped, buttons open the link", () => {
  const d = { order: "vpn-emp-1", assetType: "VPN <access>", requester: "Emp", expiresAt: "2026-12-19" };
  const en = renderMessage("approval_requested", d, "en", "https://x.example/approve/t");
  const de = renderMessage("approval_requested", d, "de", "https://x.example/approve/t");
  assert.match(en.subject, /^Approval requested: VPN <access> for Emp$/);
  assert.match(de.subject, /^Genehmigung erbeten/);
  assert.match(en.text, /Approve: https:\/\/x\.example\/approve\/t\?decision=Approved/);
  assert.match(en.html, /VPN &lt;access&gt;/);
  assert.doesNotMatch(en.html, /<access>/);
  const card = teamsPayload({
    id: "msg_1",
    kind: "approval_requested",
    to: "m@x",
    message: en,
    data: {},
    at: new Date(),
  }) as {
    attachments: { content: { type: string; actions: { type: string; title: string; url: string }[] } }[];
  };
  const c = card.attachments[0]!.content;
  assert.equal(c.type, "AdaptiveCard");
  assert.deepEqual(
    c.actions.map((a) => [a.type, a.title]),
    [
      ["Action.OpenUrl", "Approve"],
      ["Action.OpenUrl", "Decline"],
    ],
  );
});
