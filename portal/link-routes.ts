// The one-click approval link (from notification mails): GET shows the order and the decision
// form in the portal's look, only the POST acts; single use, expiry, separation of duties.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { appendAudit } from "../record/audit.ts";
import type { OrderSpec, OrderStatus } from "../crds/generated/order.ts";
import { resourcesOf } from "../api/plugins/resources.ts";
import { EXPIRY_APPROVER } from "../crds/approval-policy.ts";
import { assetTypeOf, decideOrder, verifyApprovalLink } from "../api/portal/index.ts";
import { ctxOf, send } from "./context.ts";
import { approvalLinkPage } from "./pages/approvals.ts";
import { Form, messageOf, statusOf } from "./routes.ts";

export const approvalLinkRoutes: FastifyPluginAsyncZod = async (app) => {
  const TokenParams = z.object({ token: z.string().min(1).max(4096) });

  app.get(
    "/approve/:token",
    {
      config: { permission: "public" },
      schema: {
        hide: true,
        params: TokenParams,
        // The mail's Approve / Decline buttons preselect; only this page's POST decides.
        querystring: z.object({ decision: z.enum(["Approved", "Declined"]).optional() }).loose(),
      },
    },
    async (req, reply) => {
      const check = verifyApprovalLink(
        req.server.security.linkSecret,
        req.params.token,
        req.server.deps.now(),
      );
      if (!check.ok)
        return send(
          reply,
          approvalLinkPage(await ctxOf(req, reply), { error: check.message }),
          check.reason === "Expired" ? 410 : 400,
        );
      const used = await req.server.deps.db.query("SELECT 1 FROM used_links WHERE link_id = $1", [
        check.claims.id,
      ]);
      if (used.rowCount)
        return send(
          reply,
          approvalLinkPage(await ctxOf(req, reply), { error: "this approval link has already been used" }),
          409,
        );
      const o = await resourcesOf(req.server.deps).get<OrderSpec, OrderStatus>("Order", check.claims.order);
      if (!o)
        return send(
          reply,
          approvalLinkPage(await ctxOf(req, reply), { error: "this order no longer exists" }),
          404,
        );
      // Decided, withdrawn or expired: say so, offer no buttons (409 like the POST would answer).
      const ctx = await ctxOf(req, reply);
      const expired = (o.spec.approvals ?? []).find((a) => a.approver === EXPIRY_APPROVER);
      if (expired)
        return send(
          reply,
          approvalLinkPage(ctx, { error: ctx.t("link.expired", { order: o.metadata.name, at: expired.at }) }),
          409,
        );
      if (o.status?.phase && o.status.phase !== "PendingApproval")
        return send(
          reply,
          approvalLinkPage(ctx, {
            error: ctx.t("link.closed", { order: o.metadata.name, phase: o.status.phase }),
          }),
          409,
        );
      return send(
        reply,
        approvalLinkPage(ctx, {
          chosen: req.query.decision,
          action: `/approve/${req.params.token}`,
          approver: check.claims.approver,
          order: {
            name: o.metadata.name,
            what: (await assetTypeOf(req, o.spec.assetType))?.spec.displayName ?? o.spec.assetType,
            requester: o.spec.requester.displayName ?? o.spec.requester.email,
            reason: o.spec.reason,
          },
        }),
      );
    },
  );

  app.post(
    "/approve/:token",
    {
      config: { permission: "public", csrf: true },
      schema: {
        hide: true,
        params: TokenParams,
        body: Form({ decision: z.enum(["Approved", "Declined"]), comment: z.string().max(2000).optional() }),
      },
    },
    async (req, reply) => {
      const { db, now } = req.server.deps;
      const body = req.body as { decision: "Approved" | "Declined"; comment?: string };
      const check = verifyApprovalLink(req.server.security.linkSecret, req.params.token, now());
      if (!check.ok) {
        if (check.claims) {
          await appendAudit(db, {
            actor: actorOf(check.claims.approver),
            action: "approval_link_expired",
            target: `order:${check.claims.order}`,
            order: check.claims.order,
            requestId: req.id,
            source: "portal",
            data: { linkId: check.claims.id },
          });
        }
        return send(
          reply,
          approvalLinkPage(await ctxOf(req, reply), { error: check.message }),
          check.reason === "Expired" ? 410 : 400,
        );
      }
      const c = check.claims;
      const ctx = await ctxOf(req, reply);
      const approver = c.approver.includes("@") ? { email: c.approver } : { username: c.approver };
      try {
        // A used link says so (and is audited as reused) before the order is looked at; the
        // claim inside the decision's transaction settles races.
        const used = await db.query("SELECT 1 FROM used_links WHERE link_id = $1", [c.id]);
        if (used.rowCount) throw new LinkReused();
        await decideOrder(req, {
          order: c.order,
          issuer: c.issuer,
          approver: { actor: actorOf(c.approver), ...approver },
          decision: body.decision,
          comment: body.comment || undefined,
          source: "portal",
          auditData: { linkId: c.id },
          // Single use: the link id is claimed in the decision's own transaction; a refused
          // or failed decision (e.g. separation of duties) leaves the link unused.
          within: async (tx) => {
            const claimed = await tx.query(
              "INSERT INTO used_links (link_id) VALUES ($1) ON CONFLICT DO NOTHING",
              [c.id],
            );
            if (!claimed.rowCount) throw new LinkReused();
          },
        });
      } catch (err) {
        if (err instanceof LinkReused) {
          await appendAudit(db, {
            actor: actorOf(c.approver),
            action: "approval_link_reused",
            target: `order:${c.order}`,
            order: c.order,
            requestId: req.id,
            source: "portal",
            data: { linkId: c.id },
          });
          return send(
            reply,
            approvalLinkPage(await ctxOf(req, reply), { error: "this approval link has already been used" }),
            409,
          );
        }
        const msg = messageOf(err);
        if (!msg) throw err;
        return send(reply, approvalLinkPage(await ctxOf(req, reply), { error: msg }), statusOf(err));
      }
      return send(
        reply,
        approvalLinkPage(ctx, { message: ctx.t(`link.thanks.${body.decision}`, { order: c.order }) }),
      );
    },
  );
};

class LinkReused extends Error {}

/** Audit actor of a link's approver: `user:<email>`, or `admin:<username>`. */
function actorOf(approver: string): string {
  return approver.includes("@") ? `user:${approver}` : `admin:${approver}`;
}
