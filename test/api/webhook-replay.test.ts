// Inbound webhooks signed the Standard Webhooks way (#15 item 14): the delivery id, timestamp
// and body are signed, so a captured request is refused when replayed (same id: 409) or when
// old (401); a failed delivery's id is given back for the sender's retry. The older
// X-Hub-Signature-256 is accepted unless the installation refuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { signBody } from "../../api/leaver/signature.ts";
import { HR_SECRET, auditRows, newScimApi, userBody, type ScimApi } from "../scim/support.ts";

const signer = new Webhook(Buffer.from(HR_SECRET, "utf8"), { format: "raw" });

function deliver(api: ScimApi, body: string, id: string, at: Date, secret = signer) {
  return api.app.inject({
    method: "POST",
    url: "/hr/leaver",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": secret.sign(id, at, body),
    },
    payload: body,
  });
}

test("Standard Webhooks: signed id + time + body; a replay is 409, an old one 401, a failed one retryable", async (t) => {
  const api = await newScimApi(t);
  assert.equal((await api.scim("POST", "/Users", userBody("lena@example.com"))).statusCode, 201);
  const body = JSON.stringify({ upn: "lena@example.com", eventId: "wd-1", dryRun: true });
  const id = `msg_${randomUUID()}`;
  const first = await deliver(api, body, id, new Date());
  assert.equal(first.statusCode, 200, first.body);
  assert.equal(first.json<{ dryRun: boolean }>().dryRun, true);

  // The same request again (captured and replayed, even re-signed with a fresh time): refused.
  const replay = await deliver(api, body, id, new Date());
  assert.equal(replay.statusCode, 409, replay.body);
  assert.match(replay.body, /already received/);

  // Older than the five-minute tolerance: refused before anything reads the body.
  const old = await deliver(api, body, `msg_${randomUUID()}`, new Date(Date.now() - 10 * 60_000));
  assert.equal(old.statusCode, 401, old.body);
  assert.match(old.body, /timestamp too old/i);

  // A tampered body or another secret: 401.
  const wrong = new Webhook(Buffer.from("another secret entirely, long enough", "utf8"), { format: "raw" });
  const forged = await deliver(api, body, `msg_${randomUUID()}`, new Date(), wrong);
  assert.equal(forged.statusCode, 401, forged.body);

  // A delivery that fails (bad body) gives its id back: the fixed retry with that id goes in.
  const retryId = `msg_${randomUUID()}`;
  const bad = await deliver(api, JSON.stringify({ dryRun: true }), retryId, new Date());
  assert.equal(bad.statusCode, 400, bad.body);
  const fixed = await deliver(api, body, retryId, new Date());
  assert.equal(fixed.statusCode, 200, fixed.body);

  // A real (not dry-run) leaver through it is audited as the integration.
  const real = await deliver(
    api,
    JSON.stringify({ upn: "lena@example.com", eventId: "wd-2" }),
    `msg_${randomUUID()}`,
    new Date(),
  );
  assert.equal(real.statusCode, 202, real.body);
  const rows = await auditRows(api, "action = $1", ["leaver_recorded"]);
  assert.ok(
    rows.some((r) => r.actor === "integration:hr-webhook"),
    JSON.stringify(rows),
  );
});

test("X-Hub-Signature-256: accepted by default, refused when the installation says so", async (t) => {
  const body = JSON.stringify({ upn: "nobody@example.com", dryRun: true });
  const legacy = (api: ScimApi) =>
    api.app.inject({
      method: "POST",
      url: "/hr/leaver",
      headers: { "content-type": "application/json", "x-hub-signature-256": signBody(HR_SECRET, body) },
      payload: body,
    });
  const accepting = await newScimApi(t);
  assert.equal((await legacy(accepting)).statusCode, 200);
  const refusing = await newScimApi(t, { config: { IPSOLIS_WEBHOOK_LEGACY_SIGNATURES: "refuse" } });
  const r = await legacy(refusing);
  assert.equal(r.statusCode, 401, r.body);
  assert.match(r.body, /sign with Standard Webhooks/);
  const std = await deliver(refusing, body, `msg_${randomUUID()}`, new Date());
  assert.equal(std.statusCode, 200, std.body);
});
