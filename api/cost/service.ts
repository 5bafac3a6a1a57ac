// The cost service: the report by cost centre, asset type, user and month over a time range in
// a time zone, scoped to the caller's asset types (a cost centre's total would otherwise reveal
// other teams' types), and the thresholds of the daily check. The JSON route (api/routes/cost)
// and the console's cost page and charts call these functions, so a chart's numbers are the
// API's numbers.
import type { FastifyRequest } from "fastify";
import {
  costLines,
  groupCost,
  monthOf,
  monthStart,
  type GroupKey,
  type ReportRow,
} from "../../record/cost.ts";
import {
  listCostThresholds,
  loadAssetTypeCosts,
  loadHeldOrders,
  setCostThreshold,
} from "../../record/cost-check.ts";
import { InputError } from "../../record/errors.ts";
import { aclScopeFor } from "../plugins/acl.ts";
import { isVisible } from "../policy/acl.ts";
import { translateKubeError } from "../../operator/index.ts";

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** `YYYY-MM` is that month's start in the zone (as `to`: the next month's start, so it is inclusive). */
export function instantOf(v: string, tz: string, edge: "from" | "to"): Date {
  const m = /^(\d{4})-(\d{2})$/.exec(v);
  if (!m) return new Date(v);
  const [y, mo] = [Number(m[1]), Number(m[2])];
  if (edge === "from") return monthStart(y, mo, tz);
  return mo === 12 ? monthStart(y + 1, 1, tz) : monthStart(y, mo + 1, tz);
}

export type CostQuery = {
  from?: string | undefined;
  to?: string | undefined;
  groupBy: GroupKey[];
  timeZone: string;
};

export type CostReport = {
  from: string;
  to: string;
  timeZone: string;
  groupBy: GroupKey[];
  rows: ReportRow[];
  unpriced: ReturnType<typeof costLines>["unpriced"];
};

export async function costReport(req: FastifyRequest, q: CostQuery): Promise<CostReport> {
  const deps = req.server.deps;
  const tz = q.timeZone;
  const now = deps.now();
  const from = q.from ? instantOf(q.from, tz, "from") : monthOf(now, tz).start;
  const to = q.to ? instantOf(q.to, tz, "to") : now;
  if (!(to > from)) throw new InputError("`to` must be after `from`", { reason: "EmptyRange" });
  const costs = await loadAssetTypeCosts(deps.kc, deps.namespace).catch((err: unknown) => {
    throw translateKubeError(err, "listing AssetTypes for the cost report");
  });
  const scope = await aclScopeFor(req);
  const orders = (await loadHeldOrders(deps.db, deps.namespace, from, to)).filter((o) =>
    isVisible(scope, o.assetType),
  );
  const { lines, unpriced } = costLines(orders, costs, { from, to }, now, tz);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    timeZone: tz,
    groupBy: q.groupBy,
    rows: groupCost(lines, q.groupBy),
    unpriced,
  };
}

export type Threshold = { costCenter: string; amount: string; currency: string };

export async function costThresholds(req: FastifyRequest): Promise<Threshold[]> {
  return listCostThresholds(req.server.deps.db);
}

export async function setThreshold(req: FastifyRequest, t: Threshold): Promise<Threshold> {
  await setCostThreshold(req.server.deps.db, {
    ...t,
    actor: req.principal?.actor ?? "system:api",
    source: "api",
    requestId: req.id,
  });
  return t;
}
