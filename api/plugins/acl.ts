// The caller's asset-type ACL scope (api/policy/acl.ts), read from their grants. Only admin
// accounts hold grants; a token carries the grants of the account that created it. Other roles
// see every type.
import type { FastifyRequest } from "fastify";
import { aclScopeOf, type AclScope } from "../policy/acl.ts";
import { listGrants } from "../../record/identity/users.ts";
import { NotFoundError } from "../../record/errors.ts";
import { principalOf } from "./auth.ts";

export async function aclScopeFor(req: FastifyRequest): Promise<AclScope> {
  const p = principalOf(req);
  const grants =
    p.accountId !== undefined && p.role === "admin" ? await listGrants(req.server.deps.db, p.accountId) : [];
  return aclScopeOf(p.role, grants);
}

/**
 * The 404 of a missing object. Out-of-scope objects throw exactly this too, so the answers are
 * byte-identical and nobody learns what exists outside their scope.
 */
export function notFound(kind: string, name: string): NotFoundError {
  return new NotFoundError(`${kind} "${name}" not found`);
}
