// Route area: cost report by cost centre, asset type, user and month (JSON or CSV), and the
// per-cost-centre thresholds of the daily check (issue #4).
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  costLines,
  DEFAULT_TIME_ZONE,
  GROUP_KEYS,
  groupCost,
  monthOf,
  monthStart,
  type GroupKey,
} from "../../../record/cost.ts";
import {
  listCostThresholds,
  loadAssetTypeCosts,
  loadHeldOrders,
  setCostThreshold,
} from "../../../record/cost-check.ts";
import { csvLine } from "../../../record/audit-query.ts";
import { InputError } from "../../../record/errors.ts";
import { aclScopeFor } from "../../plugins/acl.ts";
import { isVisible } from "../../policy/acl.ts";
import { translateKubeError } from "../../../operator/index.ts";

const MonthOrInstant = z.union([
  z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/),
  z.iso.datetime({ offset: true }),
]);

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** `YYYY-MM` is that month's start in the zone (as `to`: the next month's start, so it is inclusive). */
function instantOf(v: string, tz: string, edge: "from" | "to"): Date {
  const m = /^(\d{4})-(\d{2})$/.exec(v);
  if (!m) return new Date(v);
  const [y, mo] = [Number(m[1]), Number(m[2])];
  if (edge === "from") return monthStart(y, mo, tz);
  return mo === 12 ? monthStart(y + 1, 1, tz) : monthStart(y, mo + 1, tz);
}

const ReportQuery = z.object({
  from: MonthOrInstant.optional(),
  to: MonthOrInstant.optional(),
  groupBy: z
    .string()
    .default("costCenter,month")
    .transform((s, ctx) => {
      const keys = s.split(",").filter(Boolean);
      const bad = keys.filter((k) => !(GROUP_KEYS as readonly string[]).includes(k));
      if (bad.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown groupBy ${bad.join(", ")} (use ${GROUP_KEYS.join(", ")})`,
        });
        return z.NEVER;
      }
      return [...new Set(keys)] as GroupKey[];
    }),
  timeZone: z.string().default(DEFAULT_TIME_ZONE).refine(isTimeZone, "unknown time zone"),
  format: z.enum(["json", "csv"]).default("json"),
});

export const costRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/cost",
    {
      config: { permission: "cost:read" },
      schema: {
        querystring: ReportQuery,
        response: {
          200: z.unknown().describe("{ from, to, timeZone, groupBy, rows, unpriced } or text/csv"),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const tz = q.timeZone;
      const now = app.deps.now();
      const from = q.from ? instantOf(q.from, tz, "from") : monthOf(now, tz).start;
      const to = q.to ? instantOf(q.to, tz, "to") : now;
      if (!(to > from)) throw new InputError("`to` must be after `from`", { reason: "EmptyRange" });
      const costs = await loadAssetTypeCosts(app.deps.kc, app.deps.namespace).catch((err: unknown) => {
        throw translateKubeError(err, "listing AssetTypes for the cost report");
      });
      // A scoped admin's report covers their asset types only, in every grouping (a cost
      // centre's total would otherwise reveal other teams' types).
      const scope = await aclScopeFor(req);
      const orders = (await loadHeldOrders(app.deps.db, app.deps.namespace, from, to)).filter((o) =>
        isVisible(scope, o.assetType),
      );
      const { lines, unpriced } = costLines(orders, costs, { from, to }, now, tz);
      const rows = groupCost(lines, q.groupBy);
      if (q.format === "json") {
        return {
          from: from.toISOString(),
          to: to.toISOString(),
          timeZone: tz,
          groupBy: q.groupBy,
          rows,
          unpriced,
        };
      }
      const cols = [...q.groupBy, "currency", "amount", "orders"] as const;
      const csv =
        csvLine(cols) + rows.map((r) => csvLine(cols.map((c) => (r as Record<string, unknown>)[c]))).join("");
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="cost.csv"')
        .send(csv);
    },
  );

  app.get(
    "/cost/thresholds",
    {
      config: { permission: "cost:read" },
      schema: {
        response: {
          200: z.object({
            items: z.array(z.object({ costCenter: z.string(), amount: z.string(), currency: z.string() })),
          }),
        },
      },
    },
    async () => ({ items: await listCostThresholds(app.deps.db) }),
  );

  app.put(
    "/cost/thresholds/:costCenter",
    {
      config: { permission: "settings:write" },
      schema: {
        params: z.object({ costCenter: z.string().min(1).max(100) }),
        body: z.object({
          amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, "a decimal amount like 1000.00"),
          currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code like EUR"),
        }),
        response: { 200: z.object({ costCenter: z.string(), amount: z.string(), currency: z.string() }) },
      },
    },
    async (req) => {
      const t = { costCenter: req.params.costCenter, amount: req.body.amount, currency: req.body.currency };
      await setCostThreshold(app.deps.db, {
        ...t,
        actor: req.principal?.actor ?? "system:api",
        source: "api",
        requestId: req.id,
      });
      return t;
    },
  );
};
