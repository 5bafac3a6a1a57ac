// Portal pages (server-rendered HTML): sign-in (offering the first-run setup while no admin
// exists), password change, the catalogue with its order forms (only the asset types the
// employee is entitled to), the order list, and the one-click approval link's confirmation
// page, whose POST alone acts. Rules live in api/ (auth service, approvals service); these
// routes only translate forms to calls and results to pages.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { appendAudit } from "../record/audit.ts";
import { AppError, NotFoundError } from "../record/errors.ts";
import type { OrderSpec, OrderStatus } from "../crds/generated/order.ts";
import {
  changeOwnPassword,
  isFirstRun,
  LEGACY_KEY_PASSWORD_REFUSAL,
  setUpFirstSuperadmin,
  signIn,
  signOut,
} from "../api/routes/auth/service.ts";
import { principalOf } from "../api/plugins/auth.ts";
import { createProvisionOrder, listVisibleOrders, ordererOf } from "../api/routes/orders/index.ts";
import type { AssetTypeSpec } from "../crds/generated/assettype.ts";
import { decideEntitlement } from "../api/policy/entitlement.ts";
import { isVisible } from "../api/policy/acl.ts";
import { aclScopeFor } from "../api/plugins/acl.ts";
import { decideOrder } from "../api/routes/approvals/service.ts";
import { verifyApprovalLink } from "../api/routes/approvals/links.ts";
import { resourcesOf } from "../api/plugins/resources.ts";
import { toHtml, type SafeHtml } from "./html.ts";
import {
  approvalLinkPage,
  cataloguePage,
  loginPage,
  ordersPage,
  passwordPage,
  STYLE_CSS,
  type CatalogueItem,
} from "./templates.ts";

const send = (reply: FastifyReply, body: SafeHtml, status = 200) =>
  reply.code(status).type("text/html; charset=utf-8").send(toHtml(body));
const messageOf = (err: unknown) => (err instanceof AppError && err.status < 500 ? err.message : undefined);
const statusOf = (err: unknown) => (err instanceof AppError ? err.status : 500);

const Form = (shape: z.ZodRawShape) => z.object({ _csrf: z.string().optional(), ...shape });

export const portalRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/portal/style.css",
    { config: { permission: "public" }, schema: { hide: true } },
    async (_req, reply) => reply.type("text/css; charset=utf-8").send(STYLE_CSS),
  );

  app.get("/portal/login", { config: { permission: "public" }, schema: { hide: true } }, async (req, reply) =>
    send(reply, loginPage({ csrf: reply.generateCsrf(), firstRun: await isFirstRun(req) })),
  );

  app.post(
    "/portal/login",
    {
      config: {
        permission: "public",
        csrf: true,
        rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 },
      },
      schema: { hide: true, body: Form({ username: z.string().max(200), password: z.string().max(1024) }) },
    },
    async (req, reply) => {
      try {
        await signIn(req, reply, req.body as { username: string; password: string }, "portal");
        return reply.redirect("/portal/orders", 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return send(
          reply,
          loginPage({ csrf: reply.generateCsrf(), firstRun: false, error: msg }),
          statusOf(err),
        );
      }
    },
  );

  app.post(
    "/portal/setup",
    {
      config: {
        permission: "public",
        csrf: true,
        rateLimit: { max: app.security.loginRateLimit, timeWindow: 60_000 },
      },
      schema: {
        hide: true,
        body: Form({
          username: z.string().max(64),
          password: z.string().max(1024),
          email: z.string().max(254).optional(),
        }),
      },
    },
    async (req, reply) => {
      if (!(await isFirstRun(req))) throw new NotFoundError("Not Found");
      const b = req.body as { username: string; password: string; email?: string };
      try {
        await setUpFirstSuperadmin(
          req,
          reply,
          { username: b.username, password: b.password, email: b.email || undefined },
          "portal",
        );
        return reply.redirect("/portal/orders", 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || err instanceof NotFoundError) throw err;
        return send(
          reply,
          loginPage({ csrf: reply.generateCsrf(), firstRun: true, error: msg }),
          statusOf(err),
        );
      }
    },
  );

  app.post(
    "/portal/logout",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      await signOut(req, reply);
      return reply.redirect("/portal/login", 303);
    },
  );

  app.get(
    "/portal/password",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      const p = principalOf(req);
      if (p.kind === "legacy")
        return send(
          reply,
          passwordPage({ csrf: "", who: p.actor, refusal: LEGACY_KEY_PASSWORD_REFUSAL }),
          403,
        );
      return send(reply, passwordPage({ csrf: reply.generateCsrf(), who: p.actor }));
    },
  );

  app.post(
    "/portal/password",
    {
      config: { permission: "self" },
      schema: {
        hide: true,
        body: Form({ currentPassword: z.string().max(1024), newPassword: z.string().max(1024) }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      try {
        await changeOwnPassword(
          req,
          reply,
          req.body as { currentPassword: string; newPassword: string },
          "portal",
        );
        return send(reply, passwordPage({ csrf: reply.generateCsrf(), who: p.actor, done: true }));
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        if (p.kind === "legacy")
          return send(reply, passwordPage({ csrf: "", who: p.actor, refusal: msg }), statusOf(err));
        return send(
          reply,
          passwordPage({ csrf: reply.generateCsrf(), who: p.actor, error: msg }),
          statusOf(err),
        );
      }
    },
  );

  app.get(
    "/portal/orders",
    { config: { permission: "orders:read" }, schema: { hide: true } },
    async (req, reply) => {
      const p = principalOf(req);
      const orders = (await listVisibleOrders(req, {})).map((o) => ({
        name: o.metadata.name,
        assetType: o.spec.assetType,
        action: o.spec.action ?? "Provision",
        requester: o.spec.requester.displayName ?? o.spec.requester.email,
        phase: o.status?.phase ?? "New",
        createdAt: o.metadata.creationTimestamp ? new Date(o.metadata.creationTimestamp).toISOString() : "",
      }));
      return send(reply, ordersPage({ who: p.actor, csrf: reply.generateCsrf(), orders }));
    },
  );

  /**
   * The catalogue as the caller may see it: for an employee only the types they are entitled
   * to (api/policy/entitlement.ts), for staff the types in their ACL scope.
   */
  async function catalogueFor(req: FastifyRequest): Promise<CatalogueItem[]> {
    const p = principalOf(req);
    const all = await resourcesOf(req.server.deps).list<AssetTypeSpec>("AssetType");
    const who =
      p.role === "employee"
        ? await ordererOf(req.server.deps.db, { id: p.employeeId, email: p.email! })
        : undefined;
    const scope = p.role === "employee" ? undefined : await aclScopeFor(req);
    const shown = all.filter((at) =>
      scope === undefined
        ? decideEntitlement(at.spec.entitlement, who).ok
        : isVisible(scope, at.metadata.name),
    );
    return shown
      .map((at) => ({
        name: at.metadata.name,
        displayName: at.spec.displayName,
        description: at.spec.description,
        category: at.spec.category,
        attributes: (at.spec.attributes ?? []).map((a) => ({
          name: a.name,
          type: a.type,
          enum: a.enum,
          required: a.required,
          secret: a.secret,
          description: a.description,
        })),
      }))
      .sort((a, b) => a.category.localeCompare(b.category) || a.displayName.localeCompare(b.displayName));
  }

  app.get(
    "/portal/catalogue",
    { config: { permission: "orders:write" }, schema: { hide: true } },
    async (req, reply) => {
      const p = principalOf(req);
      return send(
        reply,
        cataloguePage({
          who: p.actor,
          csrf: reply.generateCsrf(),
          items: await catalogueFor(req),
          canOrder: p.role === "employee",
        }),
      );
    },
  );

  app.post(
    "/portal/orders",
    {
      config: { permission: "orders:write" },
      schema: {
        hide: true,
        // Attribute fields arrive as attr_<name> (the AssetType's attribute names).
        body: Form({ assetType: z.string().max(253), reason: z.string().max(2000).optional() }).catchall(
          z.string().max(2000),
        ),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const body = req.body as Record<string, string | undefined>;
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(body)) {
        if (k.startsWith("attr_") && v !== undefined && v !== "") attributes[k.slice(5)] = v;
      }
      try {
        // The same rule as POST /orders: a type the employee is not entitled to answers the
        // missing type's 404.
        await createProvisionOrder(req, {
          assetType: body.assetType ?? "",
          ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
          ...(body.reason ? { reason: body.reason } : {}),
        });
        return reply.redirect("/portal/orders", 303);
      } catch (err) {
        const msg = messageOf(err);
        if (!msg) throw err;
        return send(
          reply,
          cataloguePage({
            who: p.actor,
            csrf: reply.generateCsrf(),
            items: await catalogueFor(req),
            canOrder: p.role === "employee",
            error: msg,
          }),
          statusOf(err),
        );
      }
    },
  );

  // ---- one-click approval links: GET shows, only POST acts ----
  const TokenParams = z.object({ token: z.string().min(1).max(4096) });

  app.get(
    "/approve/:token",
    { config: { permission: "public" }, schema: { hide: true, params: TokenParams } },
    async (req, reply) => {
      const check = verifyApprovalLink(
        req.server.security.linkSecret,
        req.params.token,
        req.server.deps.now(),
      );
      if (!check.ok)
        return send(
          reply,
          approvalLinkPage({ error: check.message }),
          check.reason === "Expired" ? 410 : 400,
        );
      const used = await req.server.deps.db.query("SELECT 1 FROM used_links WHERE link_id = $1", [
        check.claims.id,
      ]);
      if (used.rowCount)
        return send(reply, approvalLinkPage({ error: "this approval link has already been used" }), 409);
      const o = await resourcesOf(req.server.deps).get<OrderSpec, OrderStatus>("Order", check.claims.order);
      if (!o) return send(reply, approvalLinkPage({ error: "this order no longer exists" }), 404);
      return send(
        reply,
        approvalLinkPage({
          csrf: reply.generateCsrf(),
          action: `/approve/${req.params.token}`,
          approver: check.claims.approver,
          order: {
            name: o.metadata.name,
            assetType: o.spec.assetType,
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
          approvalLinkPage({ error: check.message }),
          check.reason === "Expired" ? 410 : 400,
        );
      }
      const c = check.claims;
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
          return send(reply, approvalLinkPage({ error: "this approval link has already been used" }), 409);
        }
        const msg = messageOf(err);
        if (!msg) throw err;
        return send(reply, approvalLinkPage({ error: msg }), statusOf(err));
      }
      return send(
        reply,
        approvalLinkPage({
          message: `Order ${c.order}: ${body.decision === "Approved" ? "approved" : "declined"}. Thank you.`,
        }),
      );
    },
  );
};

class LinkReused extends Error {}

/** Audit actor of a link's approver: `user:<email>`, or `admin:<username>`. */
function actorOf(approver: string): string {
  return approver.includes("@") ? `user:${approver}` : `admin:${approver}`;
}
