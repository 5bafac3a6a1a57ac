// One-click approval links: `<payload>.<signature>` where payload is base64url JSON
// { o: order, a: approver, exp: unix seconds, id: random link id } and signature is
// HMAC-SHA256(IPSOLIS_LINK_SECRET, payload). Bound to one approver and one order, expiring,
// single-use (the `used_links` table). Opening a link only shows a confirmation page; the
// POST of that page acts, so mail scanners that prefetch links approve nothing.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";

const Payload = z.object({
  o: z.string().min(1),
  a: z.string().min(1),
  exp: z.number().int(),
  id: z.string().min(16),
  m: z.string().min(1).optional(),
});
/** `issuer`: the audit actor who minted the link (it must pass separation of duties too). */
export type LinkClaims = { order: string; approver: string; expiresAt: Date; id: string; issuer?: string };

function sign(secret: string, payload: string): Buffer {
  return createHmac("sha256", secret).update(payload, "utf8").digest();
}

export function mintApprovalLink(
  secret: string,
  c: { order: string; approver: string; expiresAt: Date; issuer: string },
): { token: string; id: string } {
  const id = randomBytes(16).toString("base64url");
  return { token: signApprovalLink(secret, { ...c, id }), id };
}

/**
 * The token of a link with known claims. Signing is deterministic, so the outbox stores a
 * system-minted link's claims (never the capability itself) and signs them at delivery.
 */
export function signApprovalLink(
  secret: string,
  c: { order: string; approver: string; expiresAt: Date; id: string; issuer: string },
): string {
  const payload = Buffer.from(
    JSON.stringify({
      o: c.order,
      a: c.approver,
      exp: Math.floor(c.expiresAt.getTime() / 1000),
      id: c.id,
      m: c.issuer,
    }),
    "utf8",
  ).toString("base64url");
  return `${payload}.${sign(secret, payload).toString("base64url")}`;
}

/** A fresh random link id. */
export function newLinkId(): string {
  return randomBytes(16).toString("base64url");
}

export type LinkCheck =
  | { ok: true; claims: LinkClaims }
  | { ok: false; reason: "Malformed" | "BadSignature" | "Expired"; message: string; claims?: LinkClaims };

export function verifyApprovalLink(secret: string, token: string, now: Date): LinkCheck {
  const [payload, sig, ...rest] = token.split(".");
  if (!payload || !sig || rest.length > 0)
    return { ok: false, reason: "Malformed", message: "this approval link is malformed" };
  // Compared as canonical base64url text: decoding first would accept other spellings of the
  // same bytes (the last character's unused bits), i.e. several valid URLs for one link.
  const want = Buffer.from(sign(secret, payload).toString("base64url"), "utf8");
  const got = Buffer.from(sig, "utf8");
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    return { ok: false, reason: "BadSignature", message: "this approval link is not valid" };
  }
  let parsed: z.infer<typeof Payload>;
  try {
    parsed = Payload.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch (err) {
    // Signed by us but unreadable: a bug in minting, reported as a malformed link.
    return {
      ok: false,
      reason: "Malformed",
      message: `this approval link is malformed (${(err as Error).name})`,
    };
  }
  const claims = {
    order: parsed.o,
    approver: parsed.a,
    expiresAt: new Date(parsed.exp * 1000),
    id: parsed.id,
    ...(parsed.m ? { issuer: parsed.m } : {}),
  };
  if (claims.expiresAt.getTime() <= now.getTime()) {
    return {
      ok: false,
      reason: "Expired",
      message: `this approval link expired at ${claims.expiresAt.toISOString()}`,
      claims,
    };
  }
  return { ok: true, claims };
}
