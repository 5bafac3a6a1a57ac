// Shared by the inbound webhooks (HR leaver, ServiceNow): keep the raw body (the signature is
// over its exact bytes), authenticate by X-Hub-Signature-256 or by the auth plugin's principal,
// and only then interpret the body.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { z } from "zod";
import { InputError, UnauthenticatedError } from "../../record/errors.ts";
import { isValidSignature } from "./signature.ts";
import { hasNul, nulError } from "../plugins/nul.ts";

/**
 * In the calling (encapsulated) plugin only: JSON bodies arrive as the raw Buffer, untouched,
 * so the route can verify the signature before anything reads them.
 */
export function keepRawJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
}

export type WebhookCaller = { actor: string; via: "hmac" | "token" };

/**
 * The auth plugin has already refused a request without a signature header and without a
 * token allowed the route's permission. Here: a signature header must verify against the
 * configured secret (none configured → never), else the plugin's principal must be there.
 */
export function authenticateWebhook(
  req: FastifyRequest,
  secret: string | undefined,
  integration: string,
): WebhookCaller {
  const sig = req.headers["x-hub-signature-256"];
  if (sig !== undefined) {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
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
