// Shared pieces of the SCIM route area (/scim/v2): the error type the area's handler answers in
// the SCIM error schema, the content type, paging and projection query schemas, ETag headers.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "../../../record/errors.ts";
import type { ScimProblem } from "../../scim/user.ts";

export const BASE = "/scim/v2";
export const SCIM_TYPE = "application/scim+json; charset=utf-8";
/** Most resources one page returns (ServiceProviderConfig filter.maxResults). */
export const MAX_RESULTS = 200;

/** A SCIM error (RFC 7644 §3.12) the handler answers in the SCIM error schema. */
export class ScimError extends AppError {
  override readonly status: number;
  readonly scimType: string | undefined;
  constructor(p: ScimProblem) {
    super(p.detail, p.scimType ? { reason: p.scimType } : {});
    this.status = p.status;
    this.scimType = p.scimType;
  }
}

export function scimTypeFor(status: number, err: FastifyError | AppError): string | undefined {
  if (err instanceof ScimError) return err.scimType;
  if (status === 409) return "uniqueness";
  if (status === 412) return "invalidVers";
  if (status === 400) return err instanceof AppError ? (err.reason ?? "invalidValue") : "invalidSyntax";
  return undefined;
}

export const scim = { permission: "scim" as const };
/**
 * Discovery (ServiceProviderConfig, ResourceTypes, Schemas) is readable without credentials
 * (RFC 7644 §4: "SHALL NOT require authentication"), so clients learn how to authenticate.
 */
export const scimDiscovery = { permission: "public" as const };

export const Query = z.object({
  filter: z.string().max(4096).optional(),
  startIndex: z.coerce.number().int().optional(),
  count: z.coerce.number().int().optional(),
  attributes: z.string().max(2048).optional(),
  excludedAttributes: z.string().max(2048).optional(),
});
export const Projection = z.object({
  attributes: z.string().max(2048).optional(),
  excludedAttributes: z.string().max(2048).optional(),
});
export const IdParams = z.object({ id: z.string().min(1).max(200) });

export function baseUrl(req: FastifyRequest): string {
  // The configured public URL (IPSOLIS_PUBLIC_URL), never the request's Host header: a client
  // choosing the Host would otherwise choose the `location` and `$ref` other clients follow.
  return `${req.server.security.publicUrl.replace(/\/+$/, "")}${BASE}`;
}

export function send(reply: FastifyReply, code: number, body: unknown) {
  return reply.code(code).type(SCIM_TYPE).send(body);
}

/**
 * `If-Match` (RFC 7232 §3.1, a comma-separated list; SCIM uses weak tags, RFC 7644 §3.14):
 * `W/"3", W/"4"` → [3, 4]; `*` or absent → undefined; a tag that is no version of ours never
 * matches (so `nonsense` → []).
 */
function ifMatchVersions(req: FastifyRequest): number[] | undefined {
  const h = req.headers["if-match"];
  if (h === undefined || h.trim() === "*") return undefined;
  return h.split(",").flatMap((tag) => {
    const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(tag);
    return m ? [Number(m[1])] : [];
  });
}

/**
 * The current resource, read under its row lock, for a write: 404 when it is missing, 412
 * `invalidVers` when `If-Match` names other versions (RFC 7644 §3.14).
 */
export async function lockedForWrite<T extends { version: number }>(
  req: FastifyRequest<{ Params: { id: string } }>,
  kind: "User" | "Group",
  load: (id: string) => Promise<T | undefined>,
): Promise<T> {
  const ifVersions = ifMatchVersions(req);
  const current = await load(req.params.id);
  if (!current) throw new ScimError({ status: 404, detail: `${kind} ${req.params.id} not found` });
  if (ifVersions !== undefined && !ifVersions.includes(current.version)) {
    throw new ScimError({
      status: 412,
      scimType: "invalidVers",
      detail: "the resource changed since the given ETag",
    });
  }
  return current;
}

/**
 * `If-None-Match` on a GET (RFC 7232 §3.2, weak comparison): `*` or any listed tag equal to the
 * current version means the client's copy is current.
 */
export function isNoneMatched(h: string | undefined, version: number): boolean {
  if (h === undefined) return false;
  if (h.trim() === "*") return true;
  return h.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${version}"`);
}

export function attribution(req: FastifyRequest): { actor: string; source: "scim"; requestId: string } {
  return { actor: req.principal?.actor ?? "token:unknown", source: "scim", requestId: req.id };
}
