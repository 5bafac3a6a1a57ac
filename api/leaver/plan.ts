// The leaver dry run and report as a caller sees them. The dry run (POST /hr/leaver?dryRun=true, the console's leaver plan, `kubectl ipsolis
// leaver plan`): who the identifiers name, when it would take effect, and what it would cancel
// and revoke, changing nothing. One function for the route and the page, so they cannot
// disagree. A scoped admin sees only their own asset types' orders: another team's asset type
// is never named to them, not even in a plan (api/policy/acl.ts).
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { findEmployee, type Employee } from "../../record/employees/store.ts";
import { aclScopeFor } from "../plugins/acl.ts";
import { isVisible } from "../policy/acl.ts";
import { effectiveAt, subjectOfEmployee, subjectOfIdentifier, type PlannedDeprovision } from "./decide.ts";
import { planFor, reportLeaver, type LeaverReport } from "./fanout.ts";

/** An effective date as HR sends it: a calendar date or a date-time with its offset. */
export const EffectiveDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

export type LeaverPlan = {
  employee: Employee | undefined;
  effectiveAt: Date;
  cancels: string[];
  deprovisions: PlannedDeprovision[];
};

/** `given`: the identifiers in the order they are tried (user, UPN, e-mail, ids); at least one. */
export async function leaverPlan(
  req: FastifyRequest,
  given: readonly string[],
  effectiveDate: Date | undefined,
): Promise<LeaverPlan> {
  const deps = req.server.deps;
  let employee: Employee | undefined;
  for (const g of given) if ((employee = await findEmployee(deps.db, g))) break;
  const subject = employee ? subjectOfEmployee(employee) : subjectOfIdentifier(given[0]!);
  const plan = await planFor(deps, subject);
  // A signed HR webhook has no principal: it is the HR system, which sees the whole plan.
  const scope = req.principal ? await aclScopeFor(req) : { all: true as const };
  return {
    employee,
    effectiveAt: effectiveAt(effectiveDate, deps.now()),
    cancels: plan.cancelOrders.filter((o) => isVisible(scope, o.assetType)).map((o) => o.name),
    deprovisions: plan.deprovisions.filter((d) => isVisible(scope, d.assetType)),
  };
}

/**
 * A leaver event's report (GET /leavers/:id, the console's leaver page) as the caller may see
 * it: a scoped admin sees their own asset types' items, and the summary counts those.
 */
export async function leaverReportFor(req: FastifyRequest, id: string): Promise<LeaverReport | undefined> {
  const scope = await aclScopeFor(req);
  return reportLeaver(req.server.deps, id, (assetType) => isVisible(scope, assetType));
}
