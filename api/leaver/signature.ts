// X-Hub-Signature-256 verification (the GitHub webhook scheme our HR and ServiceNow senders
// use): "sha256=" + hex HMAC-SHA256 of the raw body with the shared secret, compared in
// constant time.
import { createHmac, timingSafeEqual } from "node:crypto";

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function isValidSignature(secret: string | undefined, body: Buffer, header: unknown): boolean {
  if (!secret || typeof header !== "string") return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!.toLowerCase(), "hex");
  const want = createHmac("sha256", secret).update(body).digest();
  // Both are 32 bytes here; timingSafeEqual throws on unequal lengths, so check first.
  return given.length === want.length && timingSafeEqual(given, want);
}
