// SCIM Groups at /scim/v2/Groups (RFC 7643 §4.2, RFC 7644 §3): create, read, list with filter
// and paging, PUT, PATCH, DELETE; ETags like Users. Groups are what AssetType entitlements name
// (api/policy/entitlement.ts), so every change is audited (`group_created`, `group_updated`,
// `group_deleted`, target `group:<id>`, source `scim`) with the members added and removed.
// Registered by scimRoutes as a child plugin, so its SCIM error handler and parsers apply.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { z } from "zod";
import type { PoolClient } from "pg";
import { withTransaction } from "../../../record/db.ts";
import { appendAudit } from "../../../record/audit.ts";
import {
  changeMembers,
  createGroup,
  deleteGroup,
  getGroup,
  listGroups,
  liveEmployeeIds,
  membersOf,
  updateGroup,
  type Group,
  type GroupMember,
} from "../../../record/employees/groups.ts";
import {
  applyGroupPatch,
  filterReadsMembers,
  groupEqualities,
  memberChanges,
  normaliseGroup,
  parseGroupFilter,
  projectGroup,
  renderGroup,
  wantsMembers,
  type GroupDoc,
  type MemberView,
} from "../../scim/group.ts";
import { matches, type Filter } from "../../scim/filter.ts";
import { etagOf } from "../../scim/user.ts";
import { LIST_RESPONSE } from "../../scim/schema.ts";
import {
  BASE,
  IdParams,
  MAX_RESULTS,
  Projection,
  Query,
  ScimError,
  attribution,
  baseUrl,
  lockedForWrite,
  isNoneMatched,
  scim,
  send,
} from "./common.ts";

/** Member ids listed in one audit row at most; the counts are always complete. */
const AUDIT_MEMBER_IDS = 1000;

function memberViews(req: FastifyRequest, members: GroupMember[]): MemberView[] {
  return members.map((m) => ({
    value: m.id,
    display: m.displayName ?? m.userName,
    $ref: `${baseUrl(req)}/Users/${m.id}`,
    type: "User",
  }));
}

function full(req: FastifyRequest, g: Group, members: GroupMember[] | undefined): Record<string, unknown> {
  return renderGroup(g, members === undefined ? undefined : memberViews(req, members), {
    id: g.id,
    created: g.createdAt,
    lastModified: g.updatedAt,
    version: g.version,
    location: `${baseUrl(req)}/Groups/${g.id}`,
  });
}

const capped = (ids: string[]) => ids.slice(0, AUDIT_MEMBER_IDS);

/** Refuses members that are no live User (RFC 7644 §3.12 invalidValue), share-locking those that are. */
async function requireUsers(c: PoolClient, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const live = await liveEmployeeIds(c, ids, true);
  const missing = ids.filter((id) => !live.has(id));
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).map((m) => JSON.stringify(m));
    throw new ScimError({
      status: 400,
      scimType: "invalidValue",
      detail: `members must be existing Users; no User ${shown.join(", ")}${missing.length > 10 ? ` (and ${missing.length - 10} more)` : ""}`,
    });
  }
}

export const scimGroupRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(`${BASE}/Groups`, { config: scim, schema: { querystring: Query } }, async (req, reply) => {
    const { filter, attributes, excludedAttributes } = req.query;
    const db = req.server.deps.db;
    // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count < 0 as 0.
    const startIndex = Math.max(1, req.query.startIndex ?? 1);
    const count = Math.min(MAX_RESULTS, Math.max(0, req.query.count ?? MAX_RESULTS));
    let f: Filter | undefined;
    if (filter !== undefined && filter.trim() !== "") {
      const parsed = parseGroupFilter(filter);
      if (!parsed.ok) throw new ScimError(parsed.problem);
      f = parsed.filter;
    }
    const candidates = await listGroups(db, f ? groupEqualities(f) : {});
    // Members are read only when the filter or the answer needs them (Entra's lookups send
    // excludedAttributes=members; a big group's list is the expensive part).
    const forFilter = f !== undefined && filterReadsMembers(f);
    const all = forFilter
      ? await membersOf(
          db,
          candidates.map((g) => g.id),
        )
      : undefined;
    const hits: Group[] = [];
    for (const g of candidates) {
      if (f) {
        const m = matches(full(req, g, all?.get(g.id) ?? []), f);
        if (typeof m !== "boolean")
          throw new ScimError({ status: 400, scimType: "invalidFilter", detail: m.error });
        if (!m) continue;
      }
      hits.push(g);
    }
    const page = hits.slice(startIndex - 1, startIndex - 1 + count);
    const shown = wantsMembers(attributes, excludedAttributes)
      ? (all ??
        (await membersOf(
          db,
          page.map((g) => g.id),
        )))
      : undefined;
    return send(reply, 200, {
      schemas: [LIST_RESPONSE],
      totalResults: hits.length,
      startIndex,
      itemsPerPage: page.length,
      Resources: page.map((g) =>
        projectGroup(full(req, g, shown?.get(g.id)), attributes, excludedAttributes),
      ),
    });
  });

  app.get(
    `${BASE}/Groups/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) => {
      const db = req.server.deps.db;
      const g = await getGroup(db, req.params.id);
      if (!g) throw new ScimError({ status: 404, detail: `Group ${req.params.id} not found` });
      reply.header("etag", etagOf(g.version));
      if (isNoneMatched(req.headers["if-none-match"], g.version)) return reply.code(304).send();
      const { attributes, excludedAttributes } = req.query;
      const members = wantsMembers(attributes, excludedAttributes)
        ? (await membersOf(db, [g.id])).get(g.id)
        : undefined;
      return send(reply, 200, projectGroup(full(req, g, members), attributes, excludedAttributes));
    },
  );

  app.post(`${BASE}/Groups`, { config: scim, schema: { querystring: Projection } }, async (req, reply) => {
    const n = normaliseGroup(req.body);
    if (!n.ok) throw new ScimError(n.problem);
    const { db, now } = req.server.deps;
    const ids = n.group.members.map((m) => m.value);
    const { group, members } = await withTransaction(db, async (c) => {
      const group = await createGroup(c, n.group, now());
      await requireUsers(c, ids);
      await changeMembers(c, group.id, ids, [], now());
      const by = attribution(req);
      await appendAudit(c, {
        ...by,
        action: "group_created",
        target: `group:${group.id}`,
        data: {
          displayName: group.displayName,
          externalId: group.externalId,
          version: group.version,
          membersAdded: capped(ids),
          membersAddedCount: ids.length,
        },
      });
      return { group, members: (await membersOf(c, [group.id])).get(group.id) ?? [] };
    });
    reply.header("location", `${baseUrl(req)}/Groups/${group.id}`).header("etag", etagOf(group.version));
    const { attributes, excludedAttributes } = req.query;
    return send(reply, 201, projectGroup(full(req, group, members), attributes, excludedAttributes));
  });

  /** PUT and PATCH: the next document from the locked current one; store and audit a change. */
  async function update(
    req: FastifyRequest<{ Params: { id: string }; Querystring: z.infer<typeof Projection> }>,
    reply: FastifyReply,
    next: (current: GroupDoc) => GroupDoc,
  ) {
    const { db, now } = req.server.deps;
    const { group, members } = await withTransaction(db, async (c) => {
      const before = await lockedForWrite(req, "Group", (id) => getGroup(c, id, true));
      const current = (await membersOf(c, [before.id])).get(before.id) ?? [];
      const doc: GroupDoc = {
        displayName: before.displayName,
        externalId: before.externalId,
        members: current.map((m) => ({ value: m.id, display: m.displayName ?? m.userName })),
      };
      const after = next(doc);
      const { added, removed } = memberChanges(doc.members, after.members);
      const changed = [
        ...(after.displayName !== doc.displayName ? ["displayName"] : []),
        ...(after.externalId !== doc.externalId ? ["externalId"] : []),
        ...(added.length + removed.length > 0 ? ["members"] : []),
      ];
      // Entra re-sends adds of members it already has: no change, no new version, no audit row.
      if (changed.length === 0) return { group: before, members: current };
      await requireUsers(c, added);
      const group = await updateGroup(c, before.id, after, now());
      await changeMembers(c, group.id, added, removed, now());
      await appendAudit(c, {
        ...attribution(req),
        action: "group_updated",
        target: `group:${group.id}`,
        data: {
          displayName: group.displayName,
          version: group.version,
          changed,
          ...(after.displayName !== doc.displayName ? { previousDisplayName: doc.displayName } : {}),
          membersAdded: capped(added),
          membersAddedCount: added.length,
          membersRemoved: capped(removed),
          membersRemovedCount: removed.length,
        },
      });
      return { group, members: (await membersOf(c, [group.id])).get(group.id) ?? [] };
    });
    reply.header("etag", etagOf(group.version));
    const { attributes, excludedAttributes } = req.query;
    return send(reply, 200, projectGroup(full(req, group, members), attributes, excludedAttributes));
  }

  app.put(
    `${BASE}/Groups/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) =>
      update(req, reply, (current) => {
        // Okta sends the whole group with its member list.
        const n = normaliseGroup(req.body);
        if (!n.ok) throw new ScimError(n.problem);
        // RFC 7644 §3.5.1: an omitted attribute MAY be taken as not asserted; for members it
        // is (a rename must not empty a group); `members: []` empties it.
        return n.hasMembers ? n.group : { ...n.group, members: current.members };
      }),
  );

  app.patch(
    `${BASE}/Groups/:id`,
    { config: scim, schema: { params: IdParams, querystring: Projection } },
    async (req, reply) =>
      update(req, reply, (current) => {
        const r = applyGroupPatch(current, req.body);
        if (!r.ok) throw new ScimError(r.problem);
        return r.group;
      }),
  );

  app.delete(`${BASE}/Groups/:id`, { config: scim, schema: { params: IdParams } }, async (req, reply) => {
    const db = req.server.deps.db;
    await withTransaction(db, async (c) => {
      const before = await lockedForWrite(req, "Group", (id) => getGroup(c, id, true));
      const members = ((await membersOf(c, [before.id])).get(before.id) ?? []).map((m) => m.id);
      await deleteGroup(c, before.id);
      await appendAudit(c, {
        ...attribution(req),
        action: "group_deleted",
        target: `group:${before.id}`,
        data: {
          displayName: before.displayName,
          externalId: before.externalId,
          version: before.version,
          membersRemoved: capped(members),
          membersRemovedCount: members.length,
        },
      });
    });
    return reply.code(204).send();
  });
};
