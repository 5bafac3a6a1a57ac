// A person's employee record as attributes see it (api/policy/mover.ts EmployeeFacts): the one
// read that order creation, changes and the mover share, so they fill the same values.
import type { Queryable } from "../../record/db.ts";
import { findEmployee, getEmployee, type Employee } from "../../record/employees/store.ts";
import { factsOf, type EmployeeFacts } from "../policy/mover.ts";

/** The manager a record's `manager` names: by SCIM id, else by any identifier (Entra's objectId, a UPN). */
export async function managerRecord(q: Queryable, ref: string): Promise<Employee | undefined> {
  return (await getEmployee(q, ref)) ?? (await findEmployee(q, ref));
}

/** The facts of a person (the manager as their userName; a UPN-like reference nobody has, as is). */
export async function employeeFacts(q: Queryable, e: Employee): Promise<EmployeeFacts> {
  const m = e.manager ? await managerRecord(q, e.manager) : undefined;
  return factsOf(e, m?.userName ?? (e.manager?.includes("@") ? e.manager : null));
}

/** The facts of whoever an Order's requester is, or null when SCIM never provisioned them. */
export async function requesterFacts(
  q: Queryable,
  who: { id?: string | undefined; email: string },
): Promise<EmployeeFacts | null> {
  const e = (await findEmployee(q, who.email)) ?? (who.id ? await findEmployee(q, who.id) : undefined);
  return e ? employeeFacts(q, e) : null;
}
