// Employees (the people who order assets), as provisioned over SCIM. Other areas use the
// lookups (findEmployee, isOrderingBlocked); the SCIM routes own the writes.
import type { Queryable } from "../db.ts";
import { translatePgError } from "../db.ts";
import { ConflictError, PreconditionFailedError } from "../errors.ts";

/** The indexed columns, derived from the SCIM document by the caller (api/scim). */
export type EmployeeColumns = {
  userName: string;
  externalId: string | null;
  employeeNumber: string | null;
  displayName: string | null;
  /** Lower-cased, primary first. */
  emails: string[];
  active: boolean;
  department: string | null;
  costCenter: string | null;
  manager: string | null;
};

export type Employee = EmployeeColumns & {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
};

type Row = {
  id: string;
  user_name: string;
  external_id: string | null;
  employee_number: string | null;
  display_name: string | null;
  emails: string[];
  active: boolean;
  department: string | null;
  cost_center: string | null;
  manager: string | null;
  resource: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
};

const COLS =
  "id, user_name, external_id, employee_number, display_name, emails, active, department, cost_center, manager, resource, version, created_at, updated_at, deleted_at";

function toEmployee(r: Row): Employee {
  return {
    id: r.id,
    userName: r.user_name,
    externalId: r.external_id,
    employeeNumber: r.employee_number,
    displayName: r.display_name,
    emails: r.emails,
    active: r.active,
    department: r.department,
    costCenter: r.cost_center,
    manager: r.manager,
    resource: r.resource,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

function uniqueness(err: unknown, c: EmployeeColumns): unknown {
  const e = err as { code?: string; constraint?: string };
  if (e.code === "23505") {
    const what =
      e.constraint === "employees_external_id_key"
        ? `externalId ${JSON.stringify(c.externalId)}`
        : `userName ${JSON.stringify(c.userName)}`;
    return new ConflictError(`${what} is already taken`, {
      cause: err,
      reason: "uniqueness",
    });
  }
  return translatePgError(err, "writing an employee");
}

function params(c: EmployeeColumns): unknown[] {
  return [
    c.userName,
    c.externalId,
    c.employeeNumber,
    c.displayName,
    c.emails.map((e) => e.toLowerCase()),
    c.active,
    c.department,
    c.costCenter,
    c.manager,
  ];
}

export async function createEmployee(
  q: Queryable,
  c: EmployeeColumns,
  resource: Record<string, unknown>,
  now: Date,
): Promise<Employee> {
  const r = await q
    .query<Row>(
      `INSERT INTO employees (user_name, external_id, employee_number, display_name, emails, active,
                              department, cost_center, manager, resource, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ${COLS}`,
      [...params(c), JSON.stringify(resource), now],
    )
    .catch((err: unknown) => {
      throw uniqueness(err, c);
    });
  return toEmployee(r.rows[0]!);
}

/** A live (not deleted) employee by SCIM id; `forUpdate` locks the row in a transaction. */
export async function getEmployee(
  q: Queryable,
  id: string,
  forUpdate = false,
): Promise<Employee | undefined> {
  if (!isUuid(id)) return undefined;
  const r = await q
    .query<Row>(
      `SELECT ${COLS} FROM employees WHERE id = $1 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
      [id],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading an employee");
    });
  return r.rows[0] ? toEmployee(r.rows[0]) : undefined;
}

/**
 * Replaces an employee's document. `ifVersion` (from If-Match) must equal the stored version,
 * else 412 (RFC 7644 §3.14).
 */
export async function replaceEmployee(
  q: Queryable,
  id: string,
  c: EmployeeColumns,
  resource: Record<string, unknown>,
  now: Date,
  ifVersion?: number,
): Promise<Employee | undefined> {
  const r = await q
    .query<Row>(
      `UPDATE employees SET user_name = $1, external_id = $2, employee_number = $3, display_name = $4,
              emails = $5, active = $6, department = $7, cost_center = $8, manager = $9, resource = $10,
              version = version + 1, updated_at = $11
        WHERE id = $12 AND deleted_at IS NULL AND ($13::int IS NULL OR version = $13)
        RETURNING ${COLS}`,
      [...params(c), JSON.stringify(resource), now, id, ifVersion ?? null],
    )
    .catch((err: unknown) => {
      throw uniqueness(err, c);
    });
  if (r.rows[0]) return toEmployee(r.rows[0]);
  if (ifVersion !== undefined && (await getEmployee(q, id))) {
    throw new PreconditionFailedError("the resource changed since the given ETag", { reason: "invalidVers" });
  }
  return undefined;
}

export async function deleteEmployee(
  q: Queryable,
  id: string,
  now: Date,
  ifVersion?: number,
): Promise<Employee | undefined> {
  const r = await q
    .query<Row>(
      `UPDATE employees SET deleted_at = $2, active = false, updated_at = $2, version = version + 1
        WHERE id = $1 AND deleted_at IS NULL AND ($3::int IS NULL OR version = $3) RETURNING ${COLS}`,
      [id, now, ifVersion ?? null],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "deleting an employee");
    });
  if (r.rows[0]) return toEmployee(r.rows[0]);
  if (ifVersion !== undefined && (await getEmployee(q, id))) {
    throw new PreconditionFailedError("the resource changed since the given ETag", { reason: "invalidVers" });
  }
  return undefined;
}

export type EmployeeQuery = {
  userName?: string;
  externalId?: string;
  id?: string;
  email?: string;
};

/**
 * Live employees in creation order, pre-selected by the exact keys given (all must hold). The
 * SCIM route evaluates the full filter on these candidates.
 */
export async function listEmployees(q: Queryable, sel: EmployeeQuery = {}): Promise<Employee[]> {
  const where = ["deleted_at IS NULL"];
  const args: unknown[] = [];
  if (sel.userName !== undefined) {
    args.push(sel.userName.toLowerCase());
    where.push(`lower(user_name) = $${args.length}`);
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
  if (sel.email !== undefined) {
    args.push(sel.email.toLowerCase());
    where.push(`emails @> ARRAY[$${args.length}]::text[]`);
  }
  const r = await q
    .query<Row>(`SELECT ${COLS} FROM employees WHERE ${where.join(" AND ")} ORDER BY seq`, args)
    .catch((err: unknown) => {
      throw translatePgError(err, "listing employees");
    });
  return r.rows.map(toEmployee);
}

/**
 * The live people whose `manager` names `m` by any identifier it had (SCIM id, userName, an
 * e-mail address, the HR employee number, the IdP's externalId): whose manager fact follows
 * `m`'s userName. Pass the record as it was before a write, so a changed identifier still counts.
 * The rows are locked (in seq order) for the caller's transaction: a report written at the same
 * time waits, so its mover is computed from what it is, not what it was.
 */
export async function reportsOf(
  q: Queryable,
  m: Pick<Employee, "id" | "userName" | "emails" | "employeeNumber" | "externalId">,
): Promise<Employee[]> {
  const keys = [m.id, m.userName, ...m.emails, m.employeeNumber, m.externalId]
    .filter((k): k is string => typeof k === "string" && k !== "")
    .map((k) => k.toLowerCase());
  const r = await q
    .query<Row>(
      `SELECT ${COLS} FROM employees
        WHERE deleted_at IS NULL AND id <> $1::uuid AND manager IS NOT NULL
          AND (lower(manager) = ANY($2::text[]) OR manager = $3)
        ORDER BY seq
        FOR UPDATE`,
      [m.id, keys, m.externalId ?? null],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "listing a manager's reports");
    });
  return r.rows.map(toEmployee);
}

/**
 * Finds a live employee by any identifier people and systems use for them: SCIM id, userName
 * (UPN), an e-mail address, the HR employee number, or the IdP's externalId.
 */
export async function findEmployee(q: Queryable, identifier: string): Promise<Employee | undefined> {
  const v = identifier.trim();
  if (v === "") return undefined;
  const r = await q
    .query<Row>(
      `SELECT ${COLS} FROM employees
        WHERE deleted_at IS NULL
          AND (lower(user_name) = lower($1) OR emails @> ARRAY[lower($1)]::text[]
               OR lower(employee_number) = lower($1) OR external_id = $1
               OR ($2::uuid IS NOT NULL AND id = $2::uuid))
        ORDER BY (lower(user_name) = lower($1)) DESC, seq
        LIMIT 1`,
      [v, isUuid(v) ? v : null],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "looking up an employee");
    });
  return r.rows[0] ? toEmployee(r.rows[0]) : undefined;
}

/**
 * Whether this person may not place new orders: a deactivated employee, or an open leaver event
 * (from SCIM or HR) that has taken effect. Call it with the Order's requester id and/or e-mail.
 * Deprovision Orders are exempt: callers check this for Provision and Modify only.
 */
export async function isOrderingBlocked(
  q: Queryable,
  who: { id?: string; email?: string },
  now: Date = new Date(),
): Promise<boolean> {
  const keys = [who.id, who.email].filter((x): x is string => typeof x === "string" && x.trim() !== "");
  if (keys.length === 0) return false;
  const lower = keys.map((k) => k.trim().toLowerCase());
  const r = await q
    .query<{ blocked: boolean }>(
      `SELECT EXISTS (
                SELECT 1 FROM employees
                 WHERE deleted_at IS NULL AND NOT active
                   AND (lower(user_name) = ANY($1) OR emails && $1 OR lower(employee_number) = ANY($1)))
           OR EXISTS (
                SELECT 1 FROM leaver_events
                 WHERE closed_at IS NULL AND effective_at <= $2
                   AND (subject_ids && $1 OR subject_emails && $1)) AS blocked`,
      [lower, now],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "checking whether ordering is blocked");
    });
  return r.rows[0]?.blocked ?? false;
}
