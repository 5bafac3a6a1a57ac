import { test } from "node:test";
import assert from "node:assert/strict";
import { mintIngestToken, verifyIngestToken } from "./ingest-token.ts";

const secret = "0123456789abcdef0123456789abcdef";
const claims = {
  namespace: "ipsolis",
  job: "laptop-1-1",
  order: "laptop-1",
  expiresAt: new Date("2026-03-01T10:00:00Z"),
};
const before = new Date("2026-03-01T09:59:59Z");

test("a minted token verifies and carries its claims", () => {
  const r = verifyIngestToken(secret, mintIngestToken(secret, claims), before);
  assert.deepEqual(r, { ok: true, claims });
});

test("refusals: expired, other secret, tampered claims, garbage", () => {
  const tok = mintIngestToken(secret, claims);
  const cases: { name: string; token: string; now: Date; s?: string; want: string }[] = [
    { name: "at expiry", token: tok, now: claims.expiresAt, want: "Expired" },
    {
      name: "other secret",
      token: tok,
      now: before,
      s: "another-secret-of-32-bytes-length",
      want: "BadSignature",
    },
    {
      name: "claims swapped for another job",
      token: [
        "ipsi1",
        Buffer.from(JSON.stringify({ ns: "ipsolis", job: "other", order: "x", exp: 2e9 })).toString(
          "base64url",
        ),
        tok.split(".")[2],
      ].join("."),
      now: before,
      want: "BadSignature",
    },
    { name: "garbage", token: "not-a-token", now: before, want: "Malformed" },
    { name: "empty", token: "", now: before, want: "Malformed" },
  ];
  for (const c of cases) {
    const r = verifyIngestToken(c.s ?? secret, c.token, c.now);
    assert.equal(r.ok ? "ok" : r.reason, c.want, c.name);
  }
});

test("a short secret is a bug and throws", () => {
  assert.throws(() => mintIngestToken("short", claims), /at least 16 bytes/);
});
