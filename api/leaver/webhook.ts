// Shared by the inbound webhooks (HR leaver, ServiceNow): keep the raw body (the signature is
// over its exact bytes), authenticate by a signature or by the auth plugin's principal, and only
// then interpret the body. Signatures: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
// `webhook-signature`: the id, time and body signed; older than five minutes or an id seen
// before is refused, so a captured request cannot be replayed) or the older X-Hub-Signature-256
// (the body only; replayable, so an installation can refuse it with
// IPSOLIS_WEBHOOK_LEGACY_SIGNATURES=refuse).
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { z } from "zod";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { ConflictError, InputError, UnauthenticatedError } from "../../record/errors.ts";
import { claimDelivery, releaseDelivery } from "../../record/webhook-deliveries.ts";
import { isValidSignature } from "./signature.ts";
import { hasNul, nulError } from "../plugins/nul.ts";

/**
 * In the calling (encapsulated) plugin only: JSON bodies arrive as the raw Buffer, untouched,
 * so the route can verify the signature before anything reads them.
 */
export function keepRawJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  // A delivery that failed after its id was claimed is given back: the sender's retry (same id,
  // new timestamp and signature) is then accepted.
  app.addHook("onError", async (req) => {
    const claimed = claims.get(req);
    if (claimed) await releaseDelivery(req.server.deps.db, claimed.integration, claimed.id);
  });
}

export type WebhookCaller = { actor: string; via: "hmac" | "standard-webhooks" | "token" };

const claims = new WeakMap<FastifyRequest, { integration: string; id: string }>();

/** Whether the request carries a signature this module verifies (the auth plugin then defers). */
export function isSignedWebhook(req: FastifyRequest): boolean {
  return req.headers["x-hub-signature-256"] !== undefined || req.headers["webhook-signature"] !== undefined;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? "";

/**
 * The auth plugin has already refused a request without a signature header and without a
 * token allowed the route's permission. Here: a signature header must verify against the
 * configured secret (none configured → never), else the plugin's principal must be there.
 */
export async function authenticateWebhook(
  req: FastifyRequest,
  secret: string | undefined,
  integration: string,
): Promise<WebhookCaller> {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (req.headers["webhook-signature"] !== undefined) {
    if (!secret) throw new UnauthenticatedError("invalid webhook-signature", { reason: "BadSignature" });
    const id = one(req.headers["webhook-id"]);
    try {
      new Webhook(Buffer.from(secret, "utf8"), { format: "raw" }).verify(raw, {
        "webhook-id": id,
        "webhook-timestamp": one(req.headers["webhook-timestamp"]),
        "webhook-signature": one(req.headers["webhook-signature"]),
      });
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      // "Message timestamp too old" / "too new", "No matching signature found", missing headers.
      throw new UnauthenticatedError(`invalid Standard Webhooks delivery: ${err.message}`, {
        reason: "BadSignature",
      });
    }
    if (id.length > 256) throw new InputError("webhook-id is longer than 256 characters");
    if (!(await claimDelivery(req.server.deps.db, integration, id, req.server.deps.now()))) {
      throw new ConflictError(`delivery ${id} was already received; a replay is not processed again`, {
        reason: "DuplicateDelivery",
      });
    }
    claims.set(req, { integration, id });
    return { actor: `integration:${integration}`, via: "standard-webhooks" };
  }
  const sig = req.headers["x-hub-signature-256"];
  if (sig !== undefined) {
    if (req.server.deps.config?.IPSOLIS_WEBHOOK_LEGACY_SIGNATURES === "refuse") {
      throw new UnauthenticatedError(
        "X-Hub-Signature-256 is refused here: sign with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)",
        { reason: "LegacySignatureRefused" },
      );
    }
    if (!isValidSignature(secret, raw, sig)) {
      throw new UnauthenticatedError("invalid X-Hub-Signature-256", { reason: "BadSignature" });
    }
    return { actor: `integration:${integration}`, via: "hmac" };
  }
  if (!req.principal) throw new UnauthenticatedError("authentication required");
  return { actor: req.principal.actor, via: "token" };
}

/** Parses the raw body as JSON and validates it; 400 with the bad fields otherwise. */
export function parseBody<S extends z.ZodType>(req: FastifyRequest, schema: S): z.infer<S> {
  const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
  if (!raw || raw.length === 0) throw new InputError("a JSON body is required", { reason: "InvalidBody" });
  if (raw.includes(0)) throw nulError("the body");
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new InputError("the body is not valid JSON", { cause: err, reason: "InvalidBody" });
  }
  if (hasNul(json)) throw nulError("the body");
  const r = schema.safeParse(json);
  if (!r.success) {
    const fields = r.error.issues.map((i) => ({
      path: ["body", ...i.path.map(String)].join("."),
      message: i.message,
    }));
    throw new InputError(`invalid request: ${fields.map((f) => `${f.path}: ${f.message}`).join("; ")}`, {
      cause: r.error,
      reason: "InvalidBody",
      details: { fields },
    });
  }
  return r.data;
}
