// The caller's asset-type ACL scope (api/policy/acl.ts), read from their grants. Only admin
// accounts hold grants; a token carries the grants of the account that created it. Other roles
// see every type.
import type { FastifyRequest } from "fastify";
import { aclScopeOf, type AclScope } from "../policy/acl.ts";
import { listGrants } from "../../record/identity/users.ts";
import { NotFoundError } from "../../record/errors.ts";
import { principalOf } from "./auth.ts";
import { resourcesOf } from "./resources.ts";

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

/**
 * A scoped admin's reach as names: the granted asset types and the runbooks those types run
 * (provision, modify, deprovision). Undefined when the caller sees everything.
 */
export async function aclReachFor(
  req: FastifyRequest,
): Promise<{ assetTypes: string[]; runbooks: string[] } | undefined> {
  const scope = await aclScopeFor(req);
  if (scope.all) return undefined;
  const types = await resourcesOf(req.server.deps).list<{
    runbooks?: { provision?: string; modify?: string; deprovision?: string };
  }>("AssetType");
  const runbooks = new Set<string>();
  for (const t of types) {
    if (!scope.types.has(t.metadata.name)) continue;
    const r = t.spec.runbooks ?? {};
    for (const n of [r.provision, r.modify, r.deprovision]) if (n) runbooks.add(n);
  }
  return { assetTypes: [...scope.types].sort(), runbooks: [...runbooks].sort() };
}
