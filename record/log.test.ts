// The log never carries secrets: redaction paths and the URL serializer, checked on a real
// Fastify app writing through our logger.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { createLogger, redactUrl } from "./log.ts";

function capture() {
  let out = "";
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { log: createLogger({ level: "info", destination }), text: () => out };
}

test("request logs keep the route but not approval-link tokens, OIDC codes or credentials", async () => {
  const { log, text } = capture();
  const logger: FastifyBaseLogger = log;
  const app = Fastify({ loggerInstance: logger });
  app.get("/approve/:token", async () => "ok");
  app.get("/auth/oidc/callback", async () => "ok");
  await app.inject({
    method: "GET",
    url: "/approve/SECRET-LINK-TOKEN",
    headers: {
      authorization: "Bearer ips_SECRET_TOKEN",
      cookie: "ipsolis_session=SECRET_COOKIE",
      "x-admin-key": "SECRET_ADMIN_KEY",
    },
  });
  await app.inject({ method: "GET", url: "/auth/oidc/callback?code=SECRET_CODE&state=SECRET_STATE&iss=x" });
  await app.close();
  const out = text();
  assert.match(out, /"url":"\/approve\/\[redacted\]"/);
  assert.match(out, /"url":"\/auth\/oidc\/callback\?code=\[redacted\]&state=\[redacted\]&iss=x"/);
  for (const secret of [
    "SECRET-LINK-TOKEN",
    "SECRET_TOKEN",
    "SECRET_COOKIE",
    "SECRET_ADMIN_KEY",
    "SECRET_CODE",
    "SECRET_STATE",
  ]) {
    assert.ok(!out.includes(secret), `${secret} leaked into the log`);
  }
});

test("fields named like secrets are redacted wherever they are logged", () => {
  const { log, text } = capture();
  log.info(
    {
      password: "p1",
      user: { password: "p2", token: "t1", name: "ann" },
      headers: { authorization: "Bearer x", cookie: "c=1" },
      body: { anything: "b" },
    },
    "probe",
  );
  const line = JSON.parse(text()) as Record<string, unknown>;
  assert.equal(line.password, "[redacted]");
  assert.deepEqual(line.user, { password: "[redacted]", token: "[redacted]", name: "ann" });
  assert.deepEqual(line.headers, { authorization: "[redacted]", cookie: "[redacted]" });
  assert.equal(line.body, "[redacted]");
});

test("redactUrl leaves ordinary URLs alone", () => {
  assert.equal(redactUrl("/orders?phase=Provisioned"), "/orders?phase=Provisioned");
  assert.equal(redactUrl("/approve/abc/extra?x=1"), "/approve/[redacted]/extra?x=1");
  assert.equal(redactUrl("/x?token=abc&y=2"), "/x?token=[redacted]&y=2");
});
