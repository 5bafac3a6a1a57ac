// Route area: AssetTypes and Runbooks as custom resources (issue #5). Every change is a
// server-side apply by `ipsolis-api` and an audit row with before/after, secrets redacted.
// Asset types obey the admin ACL: a scoped admin's out-of-scope types answer exactly like
// missing ones, on reads and writes alike; creating a type (PUT of a new name, clone) is for
// unscoped admins and superadmins (api/policy/acl.ts). Runbooks are scoped by the asset types
// that run them (runbookAccess): a scoped admin changes only runbooks their own types alone
// run, reads ones shared with other teams, and sees none of the rest; their asset types may
// newly name only runbooks they can see. A change made with an API token records
// the person behind the token (`data.onBehalfOf`) for separation of duties.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { appendAudit, auditDiff, secretKeysOfAssetType, secretKeysOfRunbook } from "../../../record/audit.ts";
import { ConflictError, ForbiddenError, UnprocessableError } from "../../../record/errors.ts";
import { personBehindActor } from "../../../record/identity/tokens.ts";
import {
  checkCreate,
  isVisible,
  runbookAccess,
  runbooksOf,
  type AclScope,
  type RunbookAccess,
} from "../../policy/acl.ts";
import { countOrdersInUse, decideAssetTypeDelete } from "../../policy/orders.ts";
import type { Permission } from "../../policy/permissions.ts";
import { aclScopeFor, notFound } from "../../plugins/acl.ts";
import { principalOf } from "../../plugins/auth.ts";
import { resourcesOf, type Cr, type Kind } from "../../plugins/resources.ts";
import { AssetTypeSpecSchema, K8sName, RunbookSpecSchema } from "./schemas.ts";

type Area = {
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

const View = z.object({
  name: z.string(),
  spec: z.record(z.string(), z.unknown()),
  status: z.record(z.string(), z.unknown()).optional(),
  resourceVersion: z.string().optional(),
});
const view = (o: Cr<object>) => ({
  name: o.metadata.name,
  spec: o.spec as Record<string, unknown>,
  ...(o.status ? { status: o.status as Record<string, unknown> } : {}),
  ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
});

function registerArea(app: Parameters<FastifyPluginAsyncZod>[0], a: Area): void {
  const res = resourcesOf(app.deps);
  /** Which asset types run each runbook (for the runbook scope). */
  const runByOf = async (): Promise<Map<string, string[]>> => {
    const m = new Map<string, string[]>();
    for (const t of await res.list<RunbookRefs>("AssetType"))
      for (const n of runbooksOf(t.spec)) m.set(n, [...(m.get(n) ?? []), t.metadata.name]);
    return m;
  };
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
  const Params = z.object({ name: K8sName });

  app.get(
    `/${a.path}`,
    { config: { permission: a.read }, schema: { response: { 200: z.object({ items: z.array(View) }) } } },
    async (req) => {
      const scope = await aclScopeFor(req);
      const runBy = a.kind === "Runbook" && !scope.all ? await runByOf() : undefined;
      const items = (await res.list<object>(a.kind)).filter((o) =>
        a.kind === "AssetType"
          ? isVisible(scope, o.metadata.name)
          : runbookAccess(scope, runBy?.get(o.metadata.name) ?? []) !== "hidden",
      );
      return { items: items.map(view) };
    },
  );

  app.get(
    `/${a.path}/:name`,
    { config: { permission: a.read }, schema: { params: Params, response: { 200: View } } },
    async (req) => view((await visible(req, req.params.name)).o),
  );

  app.put(
    `/${a.path}/:name`,
    {
      config: { permission: a.write },
      schema: { params: Params, body: z.object({ spec: a.spec }), response: { 200: View, 201: View } },
    },
    async (req, reply) => {
      const name = req.params.name;
      const { scope, access } = await accessOf(req, name);
      // Out of scope: the GET's 404 before looking, so "exists, hidden" and "missing" are one answer.
      if (access === "hidden") throw notFound(a.noun, name);
      const before = await res.get<object>(a.kind, name);
      if (!before) mayCreate(scope, name);
      else mustWrite(access, name);
      await checkRunbookRefs(scope, before?.spec, req.body.spec);
      const after = await res.apply<object>(a.kind, name, req.body.spec);
      await audit(req, before ? "updated" : "created", name, before?.spec, after.spec);
      return reply.code(before ? 200 : 201).send(view(after));
    },
  );

  app.post(
    `/${a.path}/:name/clone`,
    {
      config: { permission: a.write },
      schema: { params: Params, body: z.object({ name: K8sName }), response: { 201: View } },
    },
    async (req, reply) => {
      const { o, scope } = await visible(req, req.params.name);
      // The target is a new name: creating, so the same rule as a PUT of a missing name (and a
      // hidden existing target answers 404, not 409).
      mayCreate(scope, req.body.name);
      if (await res.get(a.kind, req.body.name)) {
        throw new ConflictError(`${a.noun} "${req.body.name}" already exists`, { reason: "Exists" });
      }
      const made = await res.create<object>(a.kind, req.body.name, o.spec);
      await audit(req, "cloned", req.body.name, undefined, made.spec, { from: req.params.name });
      return reply.code(201).send(view(made));
    },
  );

  app.delete(
    `/${a.path}/:name`,
    {
      config: { permission: a.write },
      schema: {
        params: Params,
        querystring: z.object({ force: z.enum(["true", "false"]).optional() }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      const { o, access } = await visible(req, req.params.name);
      mustWrite(access, req.params.name);
      let extra: Record<string, unknown> = {};
      if (a.kind === "AssetType") {
        // Orders still using the type would stall their deprovisions (#19): refused unless a
        // superadmin forces it, and then the record says so.
        const orders = await res.list<{ assetType: string }, { phase?: string }>("Order");
        const inUse = countOrdersInUse(orders, req.params.name);
        const d = decideAssetTypeDelete(req.params.name, inUse, {
          force: req.query.force === "true",
          isSuperadmin: principalOf(req).role === "superadmin",
        });
        if (!d.ok) throw new ConflictError(d.message, { reason: d.reason, details: { inUse } });
        if (d.forced) extra = { forced: true, ordersInUse: inUse };
      }
      await res.remove(a.kind, req.params.name);
      await audit(req, "deleted", req.params.name, o.spec, undefined, extra);
      return reply.code(204).send(null);
    },
  );
}

export const catalogRoutes: FastifyPluginAsyncZod = async (app) => {
  registerArea(app, {
    kind: "AssetType",
    path: "assettypes",
    noun: "assettype",
    action: "asset_type",
    read: "assettypes:read",
    write: "assettypes:write",
    spec: AssetTypeSpecSchema,
    secretKeys: (s) => secretKeysOfAssetType(s),
  });
  registerArea(app, {
    kind: "Runbook",
    path: "runbooks",
    noun: "runbook",
    action: "runbook",
    read: "runbooks:read",
    write: "runbooks:write",
    spec: RunbookSpecSchema,
    secretKeys: (s) => secretKeysOfRunbook(s),
  });
};
