// PBKDF2-HMAC-SHA256 against the published vectors of RFC 7914 §11, and the hash round trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { derivePbkdf2Sha256, hashPassword, verifyPassword, DUMMY_PASSWORD_HASH } from "./passwords.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("RFC 7914 §11: PBKDF2-HMAC-SHA256 (P=passwd, S=salt, c=1, dkLen=64)", async () => {
  const dk = await derivePbkdf2Sha256("passwd", "salt", 1, 64);
  assert.deepEqual(
    dk,
    hex(`55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05
         f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc
         49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31
         7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83`),
  );
});

test("RFC 7914 §11: PBKDF2-HMAC-SHA256 (P=Password, S=NaCl, c=80000, dkLen=64)", async () => {
  const dk = await derivePbkdf2Sha256("Password", "NaCl", 80000, 64);
  assert.deepEqual(
    dk,
    hex(`4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9
         64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56
         a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17
         6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d`),
  );
});

test("a stored hash verifies its password only, with 600,000 iterations and a per-user salt", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  assert.match(a, /^pbkdf2-sha256\$600000\$/);
  assert.notEqual(a, b, "salts differ per hash");
  assert.equal(await verifyPassword(a, "correct horse battery"), true);
  assert.equal(await verifyPassword(a, "correct horse batterY"), false);
  assert.equal(await verifyPassword(DUMMY_PASSWORD_HASH, "anything"), false);
});
