// Per-Job ingest tokens: the operator mints one for each Job it launches (passed to the pod
// through a Secret owned by the Job), the API's ingest endpoint verifies it. A token names one
// namespace/job/order and expires with the Job's activeDeadlineSeconds, so a leaked token is
// useless for any other Job and after the Job's deadline.
//
// Format: `ipsi1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "ipsi1." + claims))>`.
// Pure: no I/O; the caller passes the secret and the time.
import { createHmac, timingSafeEqual } from "node:crypto";

export type IngestClaims = {
  namespace: string;
  job: string;
  order: string;
  /** Seconds-precision expiry; the token is refused at or after this instant. */
  expiresAt: Date;
};

export type IngestTokenCheck =
  { ok: true; claims: IngestClaims } | { ok: false; reason: "Malformed" | "BadSignature" | "Expired" };

const PREFIX = "ipsi1";
const MIN_SECRET_BYTES = 16;

function sign(secret: string | Uint8Array, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

function checkSecret(secret: string | Uint8Array): void {
  const len = typeof secret === "string" ? Buffer.byteLength(secret) : secret.byteLength;
  // A bug, not an outcome: a short secret makes every token forgeable.
  if (len < MIN_SECRET_BYTES)
    throw new Error(`ingest token secret must be at least ${MIN_SECRET_BYTES} bytes`);
}

/** Mints a token for one Job. `expiresAt` should be the Job's start + activeDeadlineSeconds. */
export function mintIngestToken(secret: string | Uint8Array, claims: IngestClaims): string {
  checkSecret(secret);
  const body = Buffer.from(
    JSON.stringify({
      ns: claims.namespace,
      job: claims.job,
      order: claims.order,
      exp: Math.floor(claims.expiresAt.getTime() / 1000),
    }),
  ).toString("base64url");
  const signed = `${PREFIX}.${body}`;
  return `${signed}.${sign(secret, signed)}`;
}

/** Verifies signature and expiry; never throws for a bad token (returns the reason). */
export function verifyIngestToken(secret: string | Uint8Array, token: string, now: Date): IngestTokenCheck {
  checkSecret(secret);
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX || !parts[1] || !parts[2]) {
    return { ok: false, reason: "Malformed" };
  }
  const want = Buffer.from(sign(secret, `${parts[0]}.${parts[1]}`));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "BadSignature" };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch (err) {
    // Signed by us but unparsable can only be a bug in mint; still refuse rather than crash.
    if (err instanceof SyntaxError) return { ok: false, reason: "Malformed" };
    throw err;
  }
  const c = raw as { ns?: unknown; job?: unknown; order?: unknown; exp?: unknown };
  if (
    typeof c.ns !== "string" ||
    typeof c.job !== "string" ||
    typeof c.order !== "string" ||
    typeof c.exp !== "number"
  ) {
    return { ok: false, reason: "Malformed" };
  }
  if (now.getTime() >= c.exp * 1000) return { ok: false, reason: "Expired" };
  return {
    ok: true,
    claims: { namespace: c.ns, job: c.job, order: c.order, expiresAt: new Date(c.exp * 1000) },
  };
}
