// The catalogue service: AssetTypes and Runbooks as custom resources (issue #5), one place for
// the rules every caller obeys: the admin ACL (a scoped admin's out-of-scope types answer exactly
// like missing ones), runbook scope by the asset types that run them, creation only by unscoped
// admins, deletion refused while orders use a type (#19), and one audit row per change with
// before/after, secrets redacted. The JSON routes (api/routes/catalog) and the console pages
// (portal/console) call these functions, so the two can never disagree.
import type { FastifyRequest } from "fastify";
import type { z } from "zod";
import { appendAudit, auditDiff, secretKeysOfAssetType, secretKeysOfRunbook } from "../../record/audit.ts";
import { ConflictError, ForbiddenError, UnprocessableError } from "../../record/errors.ts";
import { personBehindActor } from "../../record/identity/tokens.ts";
import type { Queryable } from "../../record/db.ts";
import { listScheduledRuns, type ScheduledRun } from "../../record/scheduled-runs.ts";
import {
  checkCreate,
  isVisible,
  runbookAccess,
  runbooksOf,
  runByOf as runByOfTypes,
  type AclScope,
  type RunbookAccess,
} from "../policy/acl.ts";
import { countOrdersInUse, decideAssetTypeDelete } from "../policy/orders.ts";
import type { Permission } from "../policy/permissions.ts";
import { aclScopeFor, notFound } from "../plugins/acl.ts";
import { principalOf } from "../plugins/auth.ts";
import { resourcesOf, type Cr, type Kind } from "../plugins/resources.ts";
import { AssetTypeSpecSchema, RunbookSpecSchema } from "../routes/catalog/schemas.ts";

export type Area = {
  kind: Kind;
  path: string; // "assettypes"
  noun: string; // "assettype" (audit target prefix, messages)
  action: string; // "asset_type" (audit action prefix)
  read: Permission;
  write: Permission;
  spec: z.ZodType<object>;
  secretKeys: (spec: object) => string[];
};

type RunbookRefs = { runbooks?: { provision?: string; modify?: string; deprovision?: string } };

export type CatalogService = {
  area: Area;
  /** Every object the caller may see (a scoped admin: their types, runbooks they reach). */
  list(req: FastifyRequest): Promise<Cr<object>[]>;
  /** One object and the caller's access to it; the same 404 for missing and out of scope. */
  get(req: FastifyRequest, name: string): Promise<{ o: Cr<object>; access: RunbookAccess }>;
  /** Create or replace (server-side apply); `created` says which. */
  put(req: FastifyRequest, name: string, spec: object): Promise<{ o: Cr<object>; created: boolean }>;
  clone(req: FastifyRequest, name: string, to: string): Promise<Cr<object>>;
  remove(req: FastifyRequest, name: string, force: boolean): Promise<void>;
  /** Which asset types run each runbook. */
  runBy(): Promise<Map<string, string[]>>;
};

export function catalogService(
  deps: { kc: Parameters<typeof resourcesOf>[0]["kc"]; namespace: string },
  a: Area,
): CatalogService {
  const res = resourcesOf(deps);
  /** Which asset types run each runbook (for the runbook scope). */
  const runByOf = async (): Promise<Map<string, string[]>> =>
    runByOfTypes(await res.list<RunbookRefs>("AssetType"));
  /** The caller's access to one object of this area, before anyone looks whether it exists. */
  const accessOf = async (
    req: FastifyRequest,
    name: string,
  ): Promise<{ scope: AclScope; access: RunbookAccess }> => {
    const scope = await aclScopeFor(req);
    if (a.kind === "AssetType") return { scope, access: isVisible(scope, name) ? "write" : "hidden" };
    if (scope.all) return { scope, access: "write" };
    return { scope, access: runbookAccess(scope, (await runByOf()).get(name) ?? []) };
  };
  /** The object, or the same 404 whether it is missing or outside the caller's ACL scope. */
  const visible = async (req: FastifyRequest, name: string) => {
    const { scope, access } = await accessOf(req, name);
    if (access === "hidden") throw notFound(a.noun, name);
    const o = await res.get<object>(a.kind, name);
    if (!o) throw notFound(a.noun, name);
    return { o, scope, access };
  };
  /** A runbook other teams' asset types run too: seen, not changed, by a scoped admin. */
  const mustWrite = (access: RunbookAccess, name: string) => {
    if (access === "write") return;
    if (access === "hidden") throw notFound(a.noun, name);
    throw new ForbiddenError(
      `${a.noun} "${name}" is also run by asset types outside your grants: an unscoped admin changes it`,
      { reason: "SharedRunbook" },
    );
  };
  /** A scoped admin's asset type may newly name only runbooks they can see. */
  const checkRunbookRefs = async (scope: AclScope, before: object | undefined, after: object) => {
    if (a.kind !== "AssetType" || scope.all) return;
    const had = new Set(runbooksOf(before ?? {}));
    const added = runbooksOf(after as RunbookRefs).filter((n) => !had.has(n));
    if (added.length === 0) return;
    const runBy = await runByOf();
    const unseen = added.filter((n) => runbookAccess(scope, runBy.get(n) ?? []) === "hidden");
    if (unseen.length > 0) {
      throw new UnprocessableError(
        `runbook ${unseen.map((n) => JSON.stringify(n)).join(", ")} is not run by any of your asset types: an admin limited to some asset types can name only runbooks those types already run`,
        { reason: "RunbookOutOfScope" },
      );
    }
  };
  const audit = async (
    req: FastifyRequest,
    what: "created" | "updated" | "cloned" | "deleted",
    name: string,
    before: object | undefined,
    after: object | undefined,
    extra: Record<string, unknown> = {},
  ) => {
    const keys = [...a.secretKeys(before ?? {}), ...a.secretKeys(after ?? {})];
    const actor = principalOf(req).actor;
    // A token acts for the account that created it: recorded now, so separation of duties
    // finds that person even if the token is long revoked.
    const behind = actor.startsWith("token:")
      ? await personBehindActor(req.server.deps.db, actor)
      : undefined;
    const onBehalfOf = behind !== undefined && behind !== actor ? { onBehalfOf: behind } : {};
    await appendAudit(req.server.deps.db, {
      actor,
      action: `${a.action}_${what}`,
      target: `${a.noun}:${name}`,
      requestId: req.id,
      source: "api",
      data: { ...auditDiff(before, after, keys), ...extra, ...onBehalfOf },
    });
  };
  /** Throws unless the caller may create `name` (the GET's 404 outside a scoped admin's grants). */
  const mayCreate = (scope: AclScope, name: string) => {
    // A new runbook is run by no type yet: hidden from a scoped admin, so the same 404.
    if (a.kind === "Runbook" && !scope.all) throw notFound(a.noun, name);
    const c = checkCreate(scope, name);
    if (c.ok) return;
    if (c.reason === "NotFound") throw notFound(a.noun, name);
    throw new ForbiddenError(c.message, { reason: c.reason });
  };

  return {
    area: a,
    runBy: runByOf,
    async list(req) {
      const scope = await aclScopeFor(req);
      const runBy = a.kind === "Runbook" && !scope.all ? await runByOf() : undefined;
      return (await res.list<object>(a.kind)).filter((o) =>
        a.kind === "AssetType"
          ? isVisible(scope, o.metadata.name)
          : runbookAccess(scope, runBy?.get(o.metadata.name) ?? []) !== "hidden",
      );
    },
    async get(req, name) {
      const { o, access } = await visible(req, name);
      return { o, access };
    },
    async put(req, name, spec) {
      const { scope, access } = await accessOf(req, name);
      // Out of scope: the GET's 404 before looking, so "exists, hidden" and "missing" are one answer.
      if (access === "hidden") throw notFound(a.noun, name);
      const before = await res.get<object>(a.kind, name);
      if (!before) mayCreate(scope, name);
      else mustWrite(access, name);
      await checkRunbookRefs(scope, before?.spec, spec);
      const after = await res.apply<object>(a.kind, name, spec);
      await audit(req, before ? "updated" : "created", name, before?.spec, after.spec);
      return { o: after, created: !before };
    },
    async clone(req, name, to) {
      const { o, scope } = await visible(req, name);
      // The target is a new name: creating, so the same rule as a PUT of a missing name (and a
      // hidden existing target answers 404, not 409).
      mayCreate(scope, to);
      if (await res.get(a.kind, to)) {
        throw new ConflictError(`${a.noun} "${to}" already exists`, { reason: "Exists" });
      }
      const made = await res.create<object>(a.kind, to, o.spec);
      await audit(req, "cloned", to, undefined, made.spec, { from: name });
      return made;
    },
    async remove(req, name, force) {
      const { o, access } = await visible(req, name);
      mustWrite(access, name);
      let extra: Record<string, unknown> = {};
      if (a.kind === "AssetType") {
        // Orders still using the type would stall their deprovisions (#19): refused unless a
        // superadmin forces it, and then the record says so.
        const orders = await res.list<{ assetType: string }, { phase?: string }>("Order");
        const inUse = countOrdersInUse(orders, name);
        const d = decideAssetTypeDelete(name, inUse, {
          force,
          isSuperadmin: principalOf(req).role === "superadmin",
        });
        if (!d.ok) throw new ConflictError(d.message, { reason: d.reason, details: { inUse } });
        if (d.forced) extra = { forced: true, ordersInUse: inUse };
      }
      await res.remove(a.kind, name);
      await audit(req, "deleted", name, o.spec, undefined, extra);
    },
  };
}

export const ASSET_TYPES: Area = {
  kind: "AssetType",
  path: "assettypes",
  noun: "assettype",
  action: "asset_type",
  read: "assettypes:read",
  write: "assettypes:write",
  spec: AssetTypeSpecSchema,
  secretKeys: (s) => secretKeysOfAssetType(s),
};

export const RUNBOOKS: Area = {
  kind: "Runbook",
  path: "runbooks",
  noun: "runbook",
  action: "runbook",
  read: "runbooks:read",
  write: "runbooks:write",
  spec: RunbookSpecSchema,
  secretKeys: (s) => secretKeysOfRunbook(s),
};

/**
 * A runbook's last scheduled runs from the record (operator/runbook/runs.ts writes them), behind
 * the same ACL as the runbook itself: out of scope answers 404 like a missing runbook.
 */
export async function runbookRuns(
  deps: Parameters<typeof catalogService>[0] & { db: Queryable },
  req: FastifyRequest,
  name: string,
  limit = 10,
): Promise<ScheduledRun[]> {
  await catalogService(deps, RUNBOOKS).get(req, name);
  return listScheduledRuns(deps.db, deps.namespace, name, limit);
}
