// Route area: SCIM 2.0 at /scim/v2 (RFC 7643/7644; issue #6): Users (employees) here, Groups
// (what AssetType entitlements name) in groups.ts. Auth: a bearer token with the `scim` scope. A User going inactive (PATCH/PUT active=false, or DELETE) is a leaver: the
// event is recorded in the same transaction and its fan-out starts after the answer.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import type { z } from "zod";
import { AppError } from "../../../record/errors.ts";
import { withTransaction, type Queryable } from "../../../record/db.ts";
import { appendAudit } from "../../../record/audit.ts";
import {
  createEmployee,
  deleteEmployee,
  getEmployee,
  listEmployees,
  replaceEmployee,
  reportsOf,
  type Employee,
  type EmployeeQuery,
} from "../../../record/employees/store.ts";
import { matches, parseFilter, requiredEqualities, undefinedAttribute } from "../../scim/filter.ts";
import { applyPatch } from "../../scim/patch.ts";
import {
  CORE_USER,
  ERROR_SCHEMA,
  LIST_RESPONSE,
  SCHEMA_IDS,
  schemaDocument,
  groupResourceType,
  serviceProviderConfig,
  userResourceType,
} from "../../scim/schema.ts";
import { scimGroupRoutes } from "./groups.ts";
import {
  groupsByEmployee,
  lockGroupsOfEmployee,
  removeFromAllGroups,
  type GroupRef,
} from "../../../record/employees/groups.ts";
import {
  checkUserSchemas,
  columnsOf,
  etagOf,
  normaliseUser,
  projectUser,
  renderUser,
  type ScimUser,
} from "../../scim/user.ts";
import {
  BASE,
  IdParams,
  MAX_RESULTS,
  Projection,
  Query,
  ScimError,
  attribution as scimAttribution,
  baseUrl,
  scimDiscovery,
  lockedForWrite,
  isNoneMatched,
  scim,
  scimTypeFor,
  send,
} from "./common.ts";
import { subjectOfEmployee } from "../../leaver/decide.ts";
import { reactivate, recordLeaver, type Attribution, type LeaverDeps } from "../../leaver/fanout.ts";
import { drainFanouts, startFanout } from "../../leaver/background.ts";
import { drainMovers, recordMover, startMover, startMoverScheduler } from "../../mover/process.ts";
import { pendingMoverFor } from "../../../record/movers/store.ts";
import { employeeFacts } from "../../mover/facts.ts";

/** How often due mover events (waiting on an asset, or a retry) are looked at again. */
const MOVER_EVERY_MS = 10_000;

function full(req: FastifyRequest, e: Employee, groups: GroupRef[] = []): Record<string, unknown> {
  return renderUser(
    e.resource as ScimUser,
    {
      id: e.id,
      created: e.createdAt,
      lastModified: e.updatedAt,
      version: e.version,
      location: `${baseUrl(req)}/Users/${e.id}`,
    },
    groups.map((g) => ({
      value: g.id,
      $ref: `${baseUrl(req)}/Groups/${g.id}`,
      display: g.displayName,
      type: "direct" as const,
    })),
  );
}

function attribution(req: FastifyRequest): Attribution {
  return scimAttribution(req);
}

function leaverDeps(req: FastifyRequest): LeaverDeps {
  return req.server.deps;
}

/**
 * The leaver side of a User write: active true → false (or a DELETE) records a leaver event;
 * false → true, or an explicit `active: true` while an event is open, re-activates (closes it).
 */
async function leaverTransition(
  req: FastifyRequest,
  q: Queryable,
  before: Employee | undefined,
  after: Employee,
  deleted: boolean,
): Promise<string | undefined> {
  const by = attribution(req);
  const wasActive = before ? before.active : true;
  if (deleted || (wasActive && !after.active) || (before === undefined && !after.active)) {
    const subject = subjectOfEmployee(after);
    const r = await recordLeaver(leaverDeps(req), q, {
      subject,
      identifier: after.userName,
      effectiveAt: req.server.deps.now(),
      by,
    });
    return r.created ? r.event.id : undefined;
  }
  if (after.active && before !== undefined && !wasActive) {
    const s = subjectOfEmployee(after);
    await reactivate(leaverDeps(req), q, [...s.ids, ...s.emails], by);
  }
  return undefined;
}

async function audit(
  req: FastifyRequest,
  q: Queryable,
  action: string,
  e: Employee,
  data: Record<string, unknown> = {},
) {
  const by = attribution(req);
  await appendAudit(q, {
    actor: by.actor,
    action,
    target: `employee:${e.id}`,
    source: "scim",
    requestId: req.id,
    data: { userName: e.userName, version: e.version, ...data },
  });
}

function changedAttributes(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

export const scimRoutes: FastifyPluginAsyncZod = async (app) => {
  // SCIM clients send application/scim+json (RFC 7644 §3.1); parse it like JSON, with
  // Fastify's prototype-poisoning protection.
  app.addContentTypeParser(
    ["application/scim+json"],
    { parseAs: "string" },
    app.getDefaultJsonParser("error", "error"),
  );

  app.setErrorHandler<FastifyError>((err, req, reply) => {
    const isZod = hasZodFastifySchemaValidationErrors(err);
    const status = isZod ? 400 : err instanceof AppError ? err.status : (err.statusCode ?? 500);
    // A 5xx of our own making (501 for /Me, /Bulk) is an answer, not a failure to hide.
    const isFailure = status >= 500 && !(err instanceof ScimError);
    if (isFailure) req.log.error({ err }, "SCIM request failed");
    const body: Record<string, unknown> = {
      schemas: [ERROR_SCHEMA],
      status: String(status),
      detail: isFailure ? "internal error" : isZod ? `invalid request: ${err.message}` : err.message,
    };
    const scimType = status < 500 ? (isZod ? "invalidValue" : scimTypeFor(status, err)) : undefined;
    if (scimType) body.scimType = scimType;
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="ipsolis-scim"');
    return send(reply, status, body);
  });

  let stopMovers: (() => Promise<void>) | undefined;
  app.addHook("onReady", async () => {
    stopMovers = startMoverScheduler(app.deps, MOVER_EVERY_MS);
  });
  app.addHook("onClose", async () => {
    await stopMovers?.();
    await drainMovers(app.deps);
    await drainFanouts(app.deps);
  });

  await app.register(scimGroupRoutes);

  // Anything else under /scim/v2 answers a SCIM 404.
  await app.register(
    async (scoped) => {
      scoped.setNotFoundHandler((req, reply) =>
        send(reply, 404, {
          schemas: [ERROR_SCHEMA],
          status: "404",
          detail: `no SCIM endpoint ${req.method} ${req.url.split("?")[0] ?? ""}`,
        }),
      );
    },
    { prefix: BASE },
  );

  // RFC 7644 §3.11: a server without /Me SHOULD answer 501; bulk is advertised as unsupported.
  for (const path of ["/Me", "/Me/*", "/Bulk"]) {
    app.all(`${BASE}${path}`, { config: scim }, async () => {
      throw new ScimError({
        status: 501,
        detail: `${path.replace("/*", "")} is not supported by this server`,
      });
    });
  }

  app.get(`${BASE}/ServiceProviderConfig`, { config: scimDiscovery }, async (req, reply) => {
    // RFC 7644 §4: a filter here SHOULD be refused with 403, so no client takes it as applied.
    if ((req.query as Record<string, unknown> | undefined)?.filter !== undefined) {
      throw new ScimError({ status: 403, detail: "ServiceProviderConfig does not take a filter" });
    }
    return send(reply, 200, serviceProviderConfig(baseUrl(req), MAX_RESULTS));
  });

  app.get(`${BASE}/ResourceTypes`, { config: scimDiscovery }, async (req, reply) =>
    send(reply, 200, {
      schemas: [LIST_RESPONSE],
      totalResults: 2,
      startIndex: 1,
      itemsPerPage: 2,
      Resources: [userResourceType(baseUrl(req)), groupResourceType(baseUrl(req))],
    }),
  );

  app.get(
    `${BASE}/ResourceTypes/:id`,
    { config: scimDiscovery, schema: { params: IdParams } },
    async (req, reply) => {
      if (req.params.id === "User") return send(reply, 200, userResourceType(baseUrl(req)));
      if (req.params.id === "Group") return send(reply, 200, groupResourceType(baseUrl(req)));
      throw new ScimError({ status: 404, detail: `no resource type ${req.params.id}` });
    },
  );

  app.get(`${BASE}/Schemas`, { config: scimDiscovery }, async (req, reply) => {
    const docs = SCHEMA_IDS.map((id) => schemaDocument(id, baseUrl(req)));
    return send(reply, 200, {
      schemas: [LIST_RESPONSE],
      totalResults: docs.length,
      startIndex: 1,
      itemsPerPage: docs.length,
      Resources: docs,
    });
  });

  app.get(
    `${BASE}/Schemas/:id`,
    { config: scimDiscovery, schema: { params: IdParams } },
    async (req, reply) => {
      const doc = schemaDocument(req.params.id, baseUrl(req));
      if (!doc) throw new ScimError({ status: 404, detail: `no schema ${req.params.id}` });
      return send(reply, 200, doc);
    },
  );

  app.get(`${BASE}/Users`, { config: scim, schema: { querystring: Query } }, async (req, reply) => {
    const { filter, attributes, excludedAttributes } = req.query;
    // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count < 0 as 0.
    const startIndex = Math.max(1, req.query.startIndex ?? 1);
    const count = Math.min(MAX_RESULTS, Math.max(0, req.query.count ?? MAX_RESULTS));
    let parsed: ReturnType<typeof parseFilter> | undefined;
    const sel: EmployeeQuery = {};
    if (filter !== undefined && filter.trim() !== "") {
      parsed = parseFilter(filter);
      if (!parsed.ok) throw new ScimError({ status: 400, scimType: "invalidFilter", detail: parsed.error });
      const unknown = undefinedAttribute(parsed.value);
      if (unknown !== undefined) {
        throw new ScimError({
          status: 400,
          scimType: "invalidFilter",
          detail: `the User schema has no attribute ${JSON.stringify(unknown)}`,
        });
      }
      for (const eq of requiredEqualities(parsed.value)) {
        if (eq.attr === "username") sel.userName = eq.value;
        else if (eq.attr === "externalid") sel.externalId = eq.value;
        else if (eq.attr === "id") sel.id = eq.value;
        else sel.email = eq.value;
      }
    }
    const candidates = await listEmployees(req.server.deps.db, sel);
    const groups = await groupsByEmployee(
      req.server.deps.db,
      candidates.map((e) => e.id),
    );
    const hits: Record<string, unknown>[] = [];
    for (const e of candidates) {
      const doc = full(req, e, groups.get(e.id));
      if (parsed?.ok) {
        const m = matches(doc, parsed.value);
        if (typeof m !== "boolean")
          throw new ScimError({ status: 400, scimType: "invalidFilter", detail: m.error });
        if (!m) continue;
      }
      hits.push(doc);
    }
    const page = hits.slice(startIndex - 1, startIndex - 1 + count);
    return send(reply, 200, {
      schemas: [LIST_RESPONSE],
      totalResults: hits.length,
      startIndex,
      itemsPerPage: page.length,
      Resources: page.map((d) => projectUser(d, attributes, excludedAttributes)),
    });
  });

  app.get(
    `${BASE}/Users/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) => {
      const e = await getEmployee(req.server.deps.db, req.params.id);
      if (!e) throw new ScimError({ status: 404, detail: `User ${req.params.id} not found` });
      const etag = etagOf(e.version);
      reply.header("etag", etag);
      if (isNoneMatched(req.headers["if-none-match"], e.version)) return reply.code(304).send();
      const groups = (await groupsByEmployee(req.server.deps.db, [e.id])).get(e.id);
      return send(
        reply,
        200,
        projectUser(full(req, e, groups), req.query.attributes, req.query.excludedAttributes),
      );
    },
  );

  app.post(`${BASE}/Users`, { config: scim, schema: { querystring: Projection } }, async (req, reply) => {
    const wrongSchema = checkUserSchemas(req.body);
    if (wrongSchema) throw new ScimError(wrongSchema);
    const n = normaliseUser(req.body);
    if (!n.ok) throw new ScimError(n.problem);
    const deps = req.server.deps;
    const { employee, leaverEvent } = await withTransaction(deps.db, async (c) => {
      const employee = await createEmployee(c, columnsOf(n.user), n.user, deps.now());
      await audit(req, c, "employee_created", employee, { active: employee.active });
      const leaverEvent = await leaverTransition(req, c, undefined, employee, false);
      return { employee, leaverEvent };
    });
    if (leaverEvent) startFanout(leaverDeps(req), leaverEvent);
    const doc = full(req, employee);
    reply.header("location", `${baseUrl(req)}/Users/${employee.id}`).header("etag", etagOf(employee.version));
    return send(reply, 201, projectUser(doc, req.query.attributes, req.query.excludedAttributes));
  });

  /** PUT and PATCH: compute the next document from the locked current one, store, audit. */
  async function update(
    req: FastifyRequest<{ Params: { id: string }; Querystring: z.infer<typeof Projection> }>,
    reply: FastifyReply,
    next: (current: ScimUser) => { user: ScimUser; explicitActive: boolean },
  ) {
    const deps = req.server.deps;
    const { employee, leaverEvent, moverEvent, reportEvents } = await withTransaction(deps.db, async (c) => {
      const before = await lockedForWrite(req, "User", (id) => getEmployee(c, id, true));
      const factsBefore = await employeeFacts(c, before);
      const { user, explicitActive } = next(before.resource as ScimUser);
      const employee = await replaceEmployee(c, before.id, columnsOf(user), user, deps.now());
      if (!employee) throw new ScimError({ status: 404, detail: `User ${req.params.id} not found` });
      // A renamed manager: every report's manager attribute follows the userName, so each
      // becomes a mover of its own (Entra and Okta send only the manager's write).
      const reports =
        // (userName is case-insensitive, RFC 7643 §4.1.1: a change of case renames nobody)
        before.userName.toLowerCase() !== employee.userName.toLowerCase() && before.active && employee.active
          ? (await reportsOf(c, before)).filter((r) => r.active)
          : [];
      // Lock order: the person's pending mover row before the audit chain head, as the mover's
      // finish takes them (its row, then its audit row), so the two never deadlock. The same for
      // each report's.
      await pendingMoverFor(c, employee.id);
      for (const r of reports) await pendingMoverFor(c, r.id);
      await audit(req, c, "employee_updated", employee, {
        changed: changedAttributes(before.resource, employee.resource),
        ...(before.active !== employee.active ? { active: employee.active } : {}),
      });
      // An explicit active=true (e.g. Entra's PATCH) re-activates even if the row said active.
      const effBefore = explicitActive && employee.active ? { ...before, active: false } : before;
      const leaverEvent = await leaverTransition(req, c, effBefore, employee, false);
      // A mover: a field asset attributes may follow changed (a leaver's assets go instead).
      const moverEvent =
        before.active && employee.active
          ? await recordMover(c, {
              employeeId: employee.id,
              userName: employee.userName,
              before: factsBefore,
              after: await employeeFacts(c, employee),
              by: attribution(req),
              now: deps.now(),
            })
          : undefined;
      const reportEvents: string[] = [];
      for (const r of reports) {
        const after = await employeeFacts(c, r);
        const ev = await recordMover(c, {
          employeeId: r.id,
          userName: r.userName,
          // Before the write their manager resolved to `before`, so the fact was its userName.
          before: { ...after, manager: before.userName },
          after,
          by: attribution(req),
          now: deps.now(),
        });
        if (ev) reportEvents.push(ev);
      }
      return { employee, leaverEvent, moverEvent, reportEvents };
    });
    if (leaverEvent) startFanout(leaverDeps(req), leaverEvent);
    if (moverEvent) startMover(deps, moverEvent);
    for (const ev of reportEvents) startMover(deps, ev);
    reply.header("etag", etagOf(employee.version));
    // RFC 7644 §3.9: attributes/excludedAttributes apply to any answer that returns the resource.
    const doc = full(req, employee, (await groupsByEmployee(deps.db, [employee.id])).get(employee.id));
    return send(reply, 200, projectUser(doc, req.query.attributes, req.query.excludedAttributes));
  }

  app.put(
    `${BASE}/Users/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) =>
      update(req, reply, (current) => {
        // Okta deactivates with a PUT of the full user carrying active:false.
        const n = normaliseUser(req.body);
        if (!n.ok) throw new ScimError(n.problem);
        // RFC 7644 §3.5.1: an omitted readWrite attribute MAY be taken as not asserted. For
        // `active` it must be: a profile sync that leaves it out must not re-activate a leaver.
        if (!assertsActive(req.body)) n.user.active = current.active !== false;
        return { user: n.user, explicitActive: false };
      }),
  );

  app.patch(
    `${BASE}/Users/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) =>
      update(req, reply, (current) => {
        const r = applyPatch(current, req.body);
        if (!r.ok) throw new ScimError(r.problem);
        return { user: r.user, explicitActive: mentionsActiveTrue(req.body) };
      }),
  );

  app.delete(`${BASE}/Users/:id`, { config: scim, schema: { params: IdParams } }, async (req, reply) => {
    const deps = req.server.deps;
    const leaverEvent = await withTransaction(deps.db, async (c) => {
      // The groups first, then the employee: the lock order of a group write (group, then its
      // members), so a DELETE and a group PATCH never deadlock.
      await lockGroupsOfEmployee(c, req.params.id);
      const before = await lockedForWrite(req, "User", (id) => getEmployee(c, id, true));
      const gone = await deleteEmployee(c, before.id, deps.now());
      if (!gone) throw new ScimError({ status: 404, detail: `User ${req.params.id} not found` });
      // A deleted User's memberships disappear (a deactivated one stays a member, entitled to
      // nothing): each group it left gets its own audit row, so `target=group:<id>` tells all.
      const left = await removeFromAllGroups(c, gone.id, deps.now());
      await audit(
        req,
        c,
        "employee_deleted",
        gone,
        left.length > 0 ? { groupsLeft: left.map((g) => g.id) } : {},
      );
      for (const g of left) {
        await appendAudit(c, {
          ...attribution(req),
          action: "group_updated",
          target: `group:${g.id}`,
          data: {
            displayName: g.displayName,
            changed: ["members"],
            membersRemoved: [gone.id],
            membersRemovedCount: 1,
            reason: "UserDeleted",
          },
        });
      }
      // A deleted user has left: the same leaver path as active=false (once per person).
      return leaverTransition(req, c, before, gone, true);
    });
    if (leaverEvent) startFanout(leaverDeps(req), leaverEvent);
    return reply.code(204).send();
  });
};

/** Whether a User document (PUT body) gives `active` a value, under any spelling of its name. */
function assertsActive(body: unknown): boolean {
  if (body === null || typeof body !== "object") return false;
  const names = ["active", `${CORE_USER}:active`.toLowerCase()];
  return Object.entries(body).some(
    ([k, v]) => names.includes(k.toLowerCase()) && v !== null && v !== undefined,
  );
}

/** Whether a PatchOp body sets active to true (any spelling Entra or Okta uses). */
function mentionsActiveTrue(body: unknown): boolean {
  const ops = (body as { Operations?: unknown } | null)?.Operations;
  if (!Array.isArray(ops)) return false;
  const isTrue = (v: unknown) => v === true || (typeof v === "string" && v.toLowerCase() === "true");
  return ops.some((o: unknown) => {
    if (o === null || typeof o !== "object") return false;
    const op = o as { path?: unknown; value?: unknown };
    if (typeof op.path === "string") return op.path.toLowerCase() === "active" && isTrue(op.value);
    if (op.value !== null && typeof op.value === "object") {
      return Object.entries(op.value).some(([k, v]) => k.toLowerCase() === "active" && isTrue(v));
    }
    return false;
  });
}
