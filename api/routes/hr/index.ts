// Route area: the HR leaver webhook and the leaver events it (and SCIM) create (issue #6).
//   POST /hr/leaver                 X-Hub-Signature-256 (HMAC of the raw body) or a token with hr:leaver
//   GET  /leavers/:id           per-asset outcome (leavers:read)
//   POST /leavers/:id/retry     retry the failed deprovisions (leavers:write)
//   GET  /movers, /movers/:id   what SCIM changes of followed fields did (leavers:read; api/mover/)
// The area also runs the leaver scheduler: events with a future effective date, and fan-outs
// whose process died, are picked up from Postgres every few seconds.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { withTransaction } from "../../../record/db.ts";
import { NotFoundError } from "../../../record/errors.ts";
import { findEmployee, type Employee } from "../../../record/employees/store.ts";
import { listLeaverEvents } from "../../../record/leavers/store.ts";
import { aclScopeFor } from "../../plugins/acl.ts";
import { isVisible } from "../../policy/acl.ts";
import { getMover, listMovers, type MoverEvent } from "../../../record/movers/store.ts";
import { effectiveAt, subjectOfEmployee, subjectOfIdentifier } from "../../leaver/decide.ts";
import { recordLeaver, retryLeaver } from "../../leaver/fanout.ts";
import { EffectiveDate, leaverPlan, leaverReportFor } from "../../leaver/plan.ts";
import { drainFanouts, startFanout, startLeaverScheduler } from "../../leaver/background.ts";
import { authenticateWebhook, keepRawJsonBody, parseBody } from "../../leaver/webhook.ts";

/** How often the scheduler looks for due leaver events. */
const SCHEDULER_EVERY_MS = 10_000;

const identifier = z.string().trim().min(1).max(320);

/** `2026-12-31` (start of that day, UTC) or an RFC 3339 date-time. */

export const LeaverBody = z
  .object({
    /** Any one identifier; the specific fields below say which kind it is. */
    user: identifier.optional(),
    upn: identifier.optional(),
    email: identifier.optional(),
    employeeId: identifier.optional(),
    externalId: identifier.optional(),
    effectiveDate: EffectiveDate.optional(),
    dryRun: z.boolean().optional(),
    /** The sender's own event id, kept in the audit row. */
    eventId: z.string().max(200).optional(),
  })
  .strict()
  .refine((b) => [b.user, b.upn, b.email, b.employeeId, b.externalId].some((x) => x !== undefined), {
    message: "one of user, upn, email, employeeId or externalId is required",
  });

const DryRunQuery = z.object({ dryRun: z.enum(["true", "false"]).optional() });
const IdParams = z.object({ id: z.uuid() });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

type Named = { target: string };
const LISTS = ["modifyOrders", "unchanged", "noModifyRunbook", "waiting", "pendingApproval"] as const;

/**
 * A mover's last result as the caller may see it: a scoped admin sees the orders of their own
 * asset types only (another team's asset type is never named to them, as in the leaver report).
 */
function visibleResult(
  r: Record<string, unknown> | null,
  visible: (assetType: string) => boolean,
): Record<string, unknown> | null {
  if (!r) return r;
  const types = (r.assetTypes ?? {}) as Record<string, string>;
  const ok = (name: string) => visible(types[name] ?? "");
  const out: Record<string, unknown> = { ...r };
  for (const k of LISTS) if (Array.isArray(r[k])) out[k] = (r[k] as string[]).filter(ok);
  for (const k of ["refused", "failed"] as const)
    if (Array.isArray(r[k])) out[k] = (r[k] as Named[]).filter((x) => ok(x.target));
  out.assetTypes = Object.fromEntries(Object.entries(types).filter(([, t]) => visible(t)));
  return out;
}

function moverView(m: MoverEvent & { userName?: string | null }, visible: (assetType: string) => boolean) {
  return {
    id: m.id,
    employee: { id: m.employeeId, ...(m.userName !== undefined ? { userName: m.userName } : {}) },
    changes: m.changes,
    version: m.version,
    reportedBy: { source: m.source, actor: m.actor },
    state: m.state,
    attempts: m.attempts,
    lastError: m.lastError,
    // The last run: modifyOrders, unchanged, noModifyRunbook, waiting, pendingApproval, refused.
    result: visibleResult(m.result, visible),
    createdAt: m.createdAt.toISOString(),
    processedAt: m.processedAt?.toISOString() ?? null,
  };
}

export const hrRoutes: FastifyPluginAsyncZod = async (app) => {
  keepRawJsonBody(app);
  let stopScheduler: (() => Promise<void>) | undefined;
  app.addHook("onReady", async () => {
    stopScheduler = startLeaverScheduler(app.deps, SCHEDULER_EVERY_MS);
  });
  app.addHook("onClose", async () => {
    await stopScheduler?.();
    await drainFanouts(app.deps);
  });

  app.post(
    "/hr/leaver",
    { config: { permission: "hr:leaver", hmac: "hr" }, schema: { querystring: DryRunQuery } },
    async (req, reply) => {
      const deps = req.server.deps;
      const caller = await authenticateWebhook(req, deps.config?.IPSOLIS_HR_WEBHOOK_SECRET, "hr-webhook");
      const body = parseBody(req, LeaverBody);
      const dryRun = body.dryRun === true || req.query.dryRun === "true";
      const given = [body.user, body.upn, body.email, body.employeeId, body.externalId].filter(
        (x): x is string => x !== undefined,
      );
      if (dryRun) {
        const plan = await leaverPlan(
          req,
          given,
          body.effectiveDate ? new Date(body.effectiveDate) : undefined,
        );
        return reply.code(200).send({
          dryRun: true,
          employee: plan.employee ? { id: plan.employee.id, userName: plan.employee.userName } : null,
          effectiveAt: plan.effectiveAt.toISOString(),
          wouldCancel: plan.cancels,
          wouldRevoke: plan.deprovisions.map((p) => ({
            target: p.target,
            assetType: p.assetType,
            deprovisionOrder: p.orderName,
            alreadyQueued: p.alreadyQueued,
          })),
        });
      }
      let employee: Employee | undefined;
      for (const g of given) if ((employee = await findEmployee(deps.db, g))) break;
      const subject = employee ? subjectOfEmployee(employee) : subjectOfIdentifier(given[0]!);
      const when = effectiveAt(body.effectiveDate ? new Date(body.effectiveDate) : undefined, deps.now());
      const { event, created } = await withTransaction(deps.db, (c) =>
        recordLeaver(deps, c, {
          subject,
          identifier: employee?.userName ?? given[0]!,
          effectiveAt: when,
          by: {
            actor: caller.actor,
            source: "hr-webhook",
            requestId: body.eventId ? `${req.id} (${body.eventId})` : req.id,
          },
        }),
      );
      if (event.state !== "processed" && event.effectiveAt.getTime() <= deps.now().getTime()) {
        startFanout(deps, event.id);
      }
      return reply.code(202).send({
        id: event.id,
        duplicate: !created,
        employee: employee ? { id: employee.id, userName: employee.userName } : null,
        effectiveAt: event.effectiveAt.toISOString(),
        state: event.state,
        status: `/leavers/${event.id}`,
      });
    },
  );

  app.get(
    "/leavers",
    { config: { permission: "leavers:read" }, schema: { querystring: ListQuery } },
    async (req) => {
      const events = await listLeaverEvents(req.server.deps.db, req.query.limit);
      return {
        items: events.map((e) => ({
          id: e.id,
          identifier: e.identifier,
          displayName: e.displayName,
          reportedBy: { source: e.source, actor: e.actor },
          deliveries: e.deliveries,
          effectiveAt: e.effectiveAt.toISOString(),
          state: e.closedAt ? "closed" : e.state,
          closedReason: e.closedReason,
          createdAt: e.createdAt.toISOString(),
        })),
      };
    },
  );

  app.get(
    "/leavers/:id",
    { config: { permission: "leavers:read" }, schema: { params: IdParams } },
    async (req) => {
      const r = await leaverReportFor(req, req.params.id);
      if (!r) throw new NotFoundError(`leaver event ${req.params.id} not found`);
      return r;
    },
  );

  // Movers (api/mover/README.md): what a SCIM change of a followed field did to the assets.
  app.get(
    "/movers",
    { config: { permission: "leavers:read" }, schema: { querystring: ListQuery } },
    async (req) => {
      const scope = await aclScopeFor(req);
      const items = await listMovers(req.server.deps.db, req.query.limit);
      return { items: items.map((m) => moverView(m, (t) => isVisible(scope, t))) };
    },
  );

  app.get(
    "/movers/:id",
    { config: { permission: "leavers:read" }, schema: { params: IdParams } },
    async (req) => {
      const m = await getMover(req.server.deps.db, req.params.id);
      if (!m) throw new NotFoundError(`mover event ${req.params.id} not found`);
      const scope = await aclScopeFor(req);
      return moverView(m, (t) => isVisible(scope, t));
    },
  );

  app.post(
    "/leavers/:id/retry",
    { config: { permission: "leavers:write" }, schema: { params: IdParams } },
    async (req) => {
      const r = await retryLeaver(req.server.deps, req.params.id, {
        actor: req.principal?.actor ?? "system:api",
        source: "api",
        requestId: req.id,
      });
      if (!r) throw new NotFoundError(`leaver event ${req.params.id} not found`);
      return r;
    },
  );
};
