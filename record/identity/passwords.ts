// Password hashing for admin accounts: PBKDF2-HMAC-SHA256, 600,000 iterations (OWASP 2023),
// a 16-byte random salt per user, Node's own crypto, constant-time compare. The stored form
// carries its own parameters, so raising the iteration count later keeps old hashes valid.
import { pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

export const PBKDF2_ITERATIONS = 600_000;
const KEY_LENGTH = 32;
const PREFIX = "pbkdf2-sha256";

/** PBKDF2-HMAC-SHA256 itself (exported for the RFC 7914 §11 test vector). */
export async function derivePbkdf2Sha256(
  password: string | Buffer,
  salt: string | Buffer,
  iterations: number,
  keyLength: number,
): Promise<Buffer> {
  return pbkdf2Async(password, salt, iterations, keyLength, "sha256");
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derivePbkdf2Sha256(password.normalize("NFC"), salt, iterations, KEY_LENGTH);
  return `${PREFIX}$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * A well-formed hash no password matches (its stored bytes are random, never derived). Login
 * verifies unknown users against it so they take exactly as long as known ones.
 */
export const DUMMY_PASSWORD_HASH = `${PREFIX}$${PBKDF2_ITERATIONS}$c2FsdHNhbHRzYWx0c2FsdA==$${Buffer.alloc(KEY_LENGTH, 0x5a).toString("base64")}`;

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const parts = stored.split("$");
  const [prefix, iter, saltB64, hashB64] = parts;
  if (parts.length !== 4 || prefix !== PREFIX || !iter || !saltB64 || !hashB64) {
    throw new Error("stored password hash has an unknown format");
  }
  const want = Buffer.from(hashB64, "base64");
  const got = await derivePbkdf2Sha256(
    password.normalize("NFC"),
    Buffer.from(saltB64, "base64"),
    Number(iter),
    want.length,
  );
  return timingSafeEqual(got, want);
}
