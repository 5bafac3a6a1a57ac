// Directory groups (SCIM Groups, RFC 7643 §4.2) and their members, as provisioned by Entra ID or
// Okta. The SCIM routes own the writes; the orders API and the portal read an employee's groups
// to decide entitlement (api/policy/entitlement.ts). Members are live employees only: reads
// join `employees` on `deleted_at IS NULL`, and a SCIM DELETE of a User removes its rows.
import type { Queryable } from "../db.ts";
import { translatePgError } from "../db.ts";
import { ConflictError } from "../errors.ts";
import { isUuid } from "./store.ts";

export type GroupColumns = { displayName: string; externalId: string | null };

export type Group = GroupColumns & {
  id: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
};

/** A member as a SCIM response shows it (`value`, `display`, `$ref`). */
export type GroupMember = { id: string; userName: string; displayName: string | null };

/** What entitlement matching needs of a group an employee belongs to. */
export type GroupRef = { id: string; displayName: string; externalId: string | null };

type Row = {
  id: string;
  display_name: string;
  external_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
};

const COLS = "id, display_name, external_id, version, created_at, updated_at";

function toGroup(r: Row): Group {
  return {
    id: r.id,
    displayName: r.display_name,
    externalId: r.external_id,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function uniqueness(err: unknown, c: GroupColumns): unknown {
  const e = err as { code?: string };
  if (e.code === "23505") {
    return new ConflictError(`a group with displayName ${JSON.stringify(c.displayName)} already exists`, {
      cause: err,
      reason: "uniqueness",
    });
  }
  return translatePgError(err, "writing a group");
}

export async function createGroup(q: Queryable, c: GroupColumns, now: Date): Promise<Group> {
  const r = await q
    .query<Row>(
      `INSERT INTO employee_groups (display_name, external_id, created_at, updated_at)
       VALUES ($1, $2, $3, $3) RETURNING ${COLS}`,
      [c.displayName, c.externalId, now],
    )
    .catch((err: unknown) => {
      throw uniqueness(err, c);
    });
  return toGroup(r.rows[0]!);
}

/** A group by SCIM id; `forUpdate` locks the row in a transaction (member writes serialise on it). */
export async function getGroup(q: Queryable, id: string, forUpdate = false): Promise<Group | undefined> {
  if (!isUuid(id)) return undefined;
  const r = await q
    .query<Row>(`SELECT ${COLS} FROM employee_groups WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id])
    .catch((err: unknown) => {
      throw translatePgError(err, "reading a group");
    });
  return r.rows[0] ? toGroup(r.rows[0]) : undefined;
}

export type GroupQuery = { displayName?: string; externalId?: string; id?: string; member?: string };

/**
 * Groups in creation order, pre-selected by the exact keys given (all must hold). The SCIM
 * route evaluates the full filter on these candidates.
 */
export async function listGroups(q: Queryable, sel: GroupQuery = {}): Promise<Group[]> {
  const where = ["true"];
  const args: unknown[] = [];
  if (sel.displayName !== undefined) {
    args.push(sel.displayName.toLowerCase());
    where.push(`lower(display_name) = $${args.length}`);
  }
  if (sel.externalId !== undefined) {
    args.push(sel.externalId);
    where.push(`external_id = $${args.length}`);
  }
  if (sel.id !== undefined) {
    if (!isUuid(sel.id)) return [];
    args.push(sel.id);
    where.push(`id = $${args.length}`);
  }
  if (sel.member !== undefined) {
    if (!isUuid(sel.member)) return [];
    args.push(sel.member);
    where.push(`id IN (SELECT group_id FROM employee_group_members WHERE employee_id = $${args.length})`);
  }
  const r = await q
    .query<Row>(`SELECT ${COLS} FROM employee_groups WHERE ${where.join(" AND ")} ORDER BY seq`, args)
    .catch((err: unknown) => {
      throw translatePgError(err, "listing groups");
    });
  return r.rows.map(toGroup);
}

/** Stores new columns and bumps the version (call it for every change, member changes included). */
export async function updateGroup(q: Queryable, id: string, c: GroupColumns, now: Date): Promise<Group> {
  const r = await q
    .query<Row>(
      `UPDATE employee_groups SET display_name = $1, external_id = $2, version = version + 1, updated_at = $3
        WHERE id = $4 RETURNING ${COLS}`,
      [c.displayName, c.externalId, now, id],
    )
    .catch((err: unknown) => {
      throw uniqueness(err, c);
    });
  if (!r.rows[0]) throw new Error(`group ${id} vanished under its row lock`);
  return toGroup(r.rows[0]);
}

export async function deleteGroup(q: Queryable, id: string): Promise<Group | undefined> {
  if (!isUuid(id)) return undefined;
  const r = await q
    .query<Row>(`DELETE FROM employee_groups WHERE id = $1 RETURNING ${COLS}`, [id])
    .catch((err: unknown) => {
      throw translatePgError(err, "deleting a group");
    });
  return r.rows[0] ? toGroup(r.rows[0]) : undefined;
}

/** Live members of each group, in the order they were added. */
export async function membersOf(q: Queryable, groupIds: string[]): Promise<Map<string, GroupMember[]>> {
  const out = new Map<string, GroupMember[]>(groupIds.map((g) => [g, []]));
  if (groupIds.length === 0) return out;
  const r = await q
    .query<{ group_id: string; id: string; user_name: string; display_name: string | null }>(
      `SELECT m.group_id, e.id, e.user_name, e.display_name
         FROM employee_group_members m JOIN employees e ON e.id = m.employee_id
        WHERE m.group_id = ANY($1::uuid[]) AND e.deleted_at IS NULL
        ORDER BY m.seq`,
      [groupIds],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "listing group members");
    });
  for (const row of r.rows) {
    out.get(row.group_id)?.push({ id: row.id, userName: row.user_name, displayName: row.display_name });
  }
  return out;
}

/**
 * Which of `ids` are live employees. `lock` takes a share lock on them, so a concurrent SCIM
 * DELETE of one of them waits for this transaction (and then removes the membership it adds),
 * or commits first (and this read no longer finds it).
 */
export async function liveEmployeeIds(q: Queryable, ids: string[], lock = false): Promise<Set<string>> {
  const uuids = [...new Set(ids.filter(isUuid).map((i) => i.toLowerCase()))];
  if (uuids.length === 0) return new Set();
  const r = await q
    .query<{ id: string }>(
      `SELECT id FROM employees WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL ORDER BY id${lock ? " FOR SHARE" : ""}`,
      [uuids],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "looking up group members");
    });
  return new Set(r.rows.map((x) => x.id));
}

/** Adds and removes members (ids of live employees; the caller checked them). */
export async function changeMembers(
  q: Queryable,
  groupId: string,
  add: string[],
  remove: string[],
  now: Date,
): Promise<void> {
  if (remove.length > 0) {
    await q
      .query(`DELETE FROM employee_group_members WHERE group_id = $1 AND employee_id = ANY($2::uuid[])`, [
        groupId,
        remove.filter(isUuid),
      ])
      .catch((err: unknown) => {
        throw translatePgError(err, "removing group members");
      });
  }
  if (add.length > 0) {
    await q
      .query(
        `INSERT INTO employee_group_members (group_id, employee_id, added_at)
         SELECT $1, m, $3 FROM unnest($2::uuid[]) WITH ORDINALITY AS t(m, n) ORDER BY n
         ON CONFLICT DO NOTHING`,
        [groupId, add, now],
      )
      .catch((err: unknown) => {
        throw translatePgError(err, "adding group members");
      });
  }
}

/**
 * Locks (FOR UPDATE, in id order) the groups an employee belongs to. The User DELETE takes these
 * before the employee's row, the same order as a group write (group, then its members), so the
 * two never deadlock.
 */
export async function lockGroupsOfEmployee(q: Queryable, employeeId: string): Promise<string[]> {
  if (!isUuid(employeeId)) return [];
  const r = await q
    .query<{ id: string }>(
      `SELECT id FROM employee_groups
        WHERE id IN (SELECT group_id FROM employee_group_members WHERE employee_id = $1)
        ORDER BY id FOR UPDATE`,
      [employeeId],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "locking an employee's groups");
    });
  return r.rows.map((x) => x.id);
}

/**
 * Removes a (deleted) employee from every group, bumping each group's version (its member list
 * changed). Returns the groups it left.
 */
export async function removeFromAllGroups(q: Queryable, employeeId: string, now: Date): Promise<GroupRef[]> {
  const r = await q
    .query<{ id: string; display_name: string; external_id: string | null }>(
      `WITH gone AS (
         DELETE FROM employee_group_members WHERE employee_id = $1 RETURNING group_id)
       UPDATE employee_groups g SET version = version + 1, updated_at = $2
         FROM gone WHERE g.id = gone.group_id
       RETURNING g.id, g.display_name, g.external_id`,
      [employeeId, now],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "removing an employee from their groups");
    });
  return r.rows.map((x) => ({ id: x.id, displayName: x.display_name, externalId: x.external_id }));
}

/** The groups a live employee belongs to (for entitlement). */
export async function groupsOfEmployee(q: Queryable, employeeId: string): Promise<GroupRef[]> {
  if (!isUuid(employeeId)) return [];
  const r = await q
    .query<{ id: string; display_name: string; external_id: string | null }>(
      `SELECT g.id, g.display_name, g.external_id
         FROM employee_group_members m
         JOIN employee_groups g ON g.id = m.group_id
         JOIN employees e ON e.id = m.employee_id AND e.deleted_at IS NULL
        WHERE m.employee_id = $1
        ORDER BY g.seq`,
      [employeeId],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading an employee's groups");
    });
  return r.rows.map((x) => ({ id: x.id, displayName: x.display_name, externalId: x.external_id }));
}

/** The groups of each of these live employees (for the Users' read-only `groups` attribute). */
export async function groupsByEmployee(
  q: Queryable,
  employeeIds: string[],
): Promise<Map<string, GroupRef[]>> {
  const out = new Map<string, GroupRef[]>();
  const ids = employeeIds.filter(isUuid);
  if (ids.length === 0) return out;
  const r = await q
    .query<{ employee_id: string; id: string; display_name: string; external_id: string | null }>(
      `SELECT m.employee_id, g.id, g.display_name, g.external_id
         FROM employee_group_members m JOIN employee_groups g ON g.id = m.group_id
        WHERE m.employee_id = ANY($1::uuid[])
        ORDER BY g.seq`,
      [ids],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading employees' groups");
    });
  for (const x of r.rows) {
    const list = out.get(x.employee_id) ?? [];
    list.push({ id: x.id, displayName: x.display_name, externalId: x.external_id });
    out.set(x.employee_id, list);
  }
  return out;
}
