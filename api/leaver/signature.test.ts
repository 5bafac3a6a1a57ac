import { test } from "node:test";
import assert from "node:assert/strict";
import { isValidSignature, signBody } from "./signature.ts";

// GitHub's published test vector ("Validating webhook deliveries", section "Testing the webhook
// payload validation").
const SECRET = "It's a Secret to Everybody";
const PAYLOAD = Buffer.from("Hello, World!");
const SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

test("GitHub's X-Hub-Signature-256 test vector", () => {
  assert.equal(signBody(SECRET, PAYLOAD), SIGNATURE);
  assert.equal(isValidSignature(SECRET, PAYLOAD, SIGNATURE), true);
  assert.equal(
    isValidSignature(SECRET, PAYLOAD, SIGNATURE.toUpperCase().replace("SHA256=", "sha256=")),
    true,
  );
});

const refused: [string, string | undefined, unknown][] = [
  ["another secret", "It's a secret to everybody", SIGNATURE],
  ["no secret configured", undefined, SIGNATURE],
  ["missing header", SECRET, undefined],
  ["header not a string", SECRET, [SIGNATURE]],
  ["no sha256= prefix", SECRET, SIGNATURE.slice("sha256=".length)],
  ["sha1 scheme", SECRET, SIGNATURE.replace("sha256", "sha1")],
  ["truncated", SECRET, SIGNATURE.slice(0, -2)],
  ["one digit changed", SECRET, SIGNATURE.slice(0, -1) + "8"],
  ["non-hex", SECRET, SIGNATURE.slice(0, -1) + "z"],
  ["empty", SECRET, ""],
];
for (const [name, secret, header] of refused) {
  test(`signature refused: ${name}`, () => {
    assert.equal(isValidSignature(secret, PAYLOAD, header), false);
  });
}

test("signature covers the exact bytes (a re-serialised body fails)", () => {
  const raw = Buffer.from('{"user": "a@b.c"}');
  const sig = signBody(SECRET, raw);
  assert.equal(isValidSignature(SECRET, Buffer.from('{"user":"a@b.c"}'), sig), false);
});
