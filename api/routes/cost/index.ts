// Route area: cost report by cost centre, asset type, user and month (JSON or CSV), and the
// per-cost-centre thresholds of the daily check (issue #4): thin declarations over the cost
// service (api/cost/service.ts), which the console's cost page calls too.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_TIME_ZONE, GROUP_KEYS, type GroupKey } from "../../../record/cost.ts";
import { csvLine } from "../../../record/audit-query.ts";
import { costReport, costThresholds, isTimeZone, setThreshold } from "../../cost/service.ts";

const MonthOrInstant = z.union([
  z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/),
  z.iso.datetime({ offset: true }),
]);

export const ReportQuery = z.object({
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
      const report = await costReport(req, q);
      if (q.format === "json") return report;
      const rows = report.rows;
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
    async (req) => ({ items: await costThresholds(req) }),
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
    async (req) =>
      setThreshold(req, {
        costCenter: req.params.costCenter,
        amount: req.body.amount,
        currency: req.body.currency,
      }),
  );
};
