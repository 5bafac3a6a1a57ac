// Route area: approve/decline (eligibility + separation of duties; the operator evaluates the
// N-of-M quorum), delegation windows, and minting one-click approval links (issue #5). The
// link's confirmation page and its POST are portal pages (portal/approval-link.ts).
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { appendAudit } from "../../../record/audit.ts";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../../../record/errors.ts";
import { rankOf } from "../../policy/permissions.ts";
import { checkApproval, checkLinkMint, exactNamesOf, isSameName } from "../../policy/approvals.ts";
import { entriesOf } from "../../../crds/approval-policy.ts";
import type { AssetTypeSpec } from "../../../crds/generated/assettype.ts";
import { resourcesOf } from "../../plugins/resources.ts";
import { principalOf } from "../../plugins/auth.ts";
import type { Queryable } from "../../../record/db.ts";
import { K8sName } from "../catalog/schemas.ts";
import { listVisibleOrders, orderView, visibleOrder } from "../orders/index.ts";
import {
  aliasesOf,
  approverOfName,
  assetTypeChanges,
  deciderOf,
  decideOrder,
  delegationsFor,
  directoryFacts,
  grantsFor,
  ownNameOf,
  placerOf,
  recordDelegation,
} from "./service.ts";
import { mintApprovalLink } from "./links.ts";
import { withTransaction } from "../../../record/db.ts";
import { checkDelegationWindow } from "../../policy/approvals-notify.ts";

const Params = z.object({ name: K8sName });
const OrderOut = z.record(z.string(), z.unknown());

const DelegationView = z.object({
  id: z.string(),
  principal: z.string(),
  deputy: z.string(),
  startsAt: z.date(),
  endsAt: z.date(),
  createdBy: z.string(),
  reason: z.string().optional(),
});

/**
 * Every exact name the caller goes by (username, e-mail, its account's other names; a token:
 * its creator's), lower case: a delegation set under any of them is the caller's.
 */
async function allNamesOf(db: Queryable, p: Parameters<typeof deciderOf>[1]): Promise<string[]> {
  const d = await deciderOf(db, p);
  const me = { username: d.username, email: d.email };
  const names = exactNamesOf({ ...me, aliases: await aliasesOf(db, me) });
  return [...new Set([...names, ownNameOf(d)].map((n) => n.toLowerCase()))];
}

export const approvalRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const [verb, decision] of [
    ["approve", "Approved"],
    ["decline", "Declined"],
  ] as const) {
    app.post(
      `/orders/:name/${verb}`,
      {
        config: { permission: "orders:approve" },
        schema: {
          params: Params,
          body: z.object({ comment: z.string().max(2000).optional() }).optional(),
          response: { 200: OrderOut },
        },
      },
      async (req) => {
        const p = principalOf(req);
        await visibleOrder(req, req.params.name);
        const after = await decideOrder(req, {
          order: req.params.name,
          approver: await deciderOf(req.server.deps.db, p),
          decision,
          comment: req.body?.comment,
          source: "api",
        });
        return orderView(after);
      },
    );
  }

  // ---- the approver's queue ----
  app.get(
    "/approvals/pending",
    {
      config: { permission: "orders:approve" },
      schema: {
        response: {
          200: z.object({
            items: z.array(
              z.object({
                order: OrderOut,
                /** Whose approval this decision counts as (the listed approver, or the deputy's principal). */
                approver: z.string(),
                viaDeputy: z.boolean(),
                /** False when only declining is open (separation of duties, own order). */
                canApprove: z.boolean(),
                approveRefusal: z.string().optional(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const { db, now } = req.server.deps;
      const res = resourcesOf(req.server.deps);
      const d = await deciderOf(db, p);
      const base = { username: d.username, email: d.email };
      const approver = { ...base, aliases: await aliasesOf(db, base) };
      const delegations = await delegationsFor(db, exactNamesOf(approver));
      // Same visibility as the order list: ACL-scoped admins see only their asset types.
      const pending = await listVisibleOrders(req, { phase: "PendingApproval" });
      const types = new Map<string, AssetTypeSpec | undefined>();
      const items = [];
      for (const o of pending) {
        if (!types.has(o.spec.assetType))
          types.set(o.spec.assetType, (await res.get<AssetTypeSpec>("AssetType", o.spec.assetType))?.spec);
        const at = types.get(o.spec.assetType);
        if (!at) continue;
        const facts = await directoryFacts(db, o.spec.requester, approver, now());
        const input = {
          approver,
          approverIsLeaver: facts.approverIsLeaver,
          order: {
            phase: o.status?.phase,
            requesterEmail: o.spec.requester.email,
            manager: o.spec.requester.manager,
            approvals: o.spec.approvals ?? [],
            requesterIdentities: facts.requesterIdentities,
            placedBy: await placerOf(db, o.metadata.name),
          },
          policy: { kind: at.approval.policy, approvers: at.approval.approvers ?? [] },
          delegations,
          grants: await grantsFor(db, o.metadata.name),
          now: now(),
        };
        const mayDecide = checkApproval({ ...input, decision: "Declined", assetTypeChanges: [] });
        if (!mayDecide.ok) continue;
        const mayApprove = checkApproval({
          ...input,
          decision: "Approved",
          assetTypeChanges: await assetTypeChanges(db, o.spec.assetType, at),
        });
        items.push({
          order: orderView(o),
          approver: mayDecide.approverKey,
          viaDeputy: mayDecide.viaDeputy,
          canApprove: mayApprove.ok,
          ...(mayApprove.ok ? {} : { approveRefusal: mayApprove.message }),
        });
      }
      return { items };
    },
  );

  // ---- delegation windows ----
  // `self`: everyone manages their own deputy, employees included (an employee who is a manager
  // approves by a per-order right, not a role, #17); only admins see and set others'.
  app.get(
    "/delegations",
    {
      config: { permission: "self" },
      schema: { response: { 200: z.object({ items: z.array(DelegationView) }) } },
    },
    async (req) => {
      const p = principalOf(req);
      const all = rankOf(p.role) >= rankOf("admin");
      const r = await req.server.deps.db.query<{
        id: string;
        principal: string;
        deputy: string;
        starts_at: Date;
        ends_at: Date;
        created_by: string;
        reason: string | null;
      }>(
        `SELECT id::text AS id, principal, deputy, starts_at, ends_at, created_by, reason FROM delegations
          WHERE $1 OR lower(principal) = ANY($2) OR lower(deputy) = ANY($2) ORDER BY starts_at`,
        [all, await allNamesOf(req.server.deps.db, p)],
      );
      return {
        items: r.rows.map((d) => ({
          id: d.id,
          principal: d.principal,
          deputy: d.deputy,
          startsAt: d.starts_at,
          endsAt: d.ends_at,
          createdBy: d.created_by,
          ...(d.reason ? { reason: d.reason } : {}),
        })),
      };
    },
  );

  app.post(
    "/delegations",
    {
      config: { permission: "self" },
      schema: {
        body: z.object({
          /** Whose approvals the deputy takes over; yourself unless you are a superadmin (audited). */
          principal: z.string().min(1).optional(),
          deputy: z.string().min(1),
          startsAt: z.coerce.date(),
          endsAt: z.coerce.date(),
          /** Why (holiday, leave): shown to the deputy. */
          reason: z.string().max(500).optional(),
        }),
        response: { 201: DelegationView },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const d = await deciderOf(req.server.deps.db, p);
      const own = ownNameOf(d);
      const principal = req.body.principal ?? own;
      // Exact: a namesake at another domain (`bert@other.example`) is not `bert`.
      const me = { username: d.username, email: d.email };
      const isOwn =
        entriesOf([principal], exactNamesOf({ ...me, aliases: await aliasesOf(req.server.deps.db, me) }))
          .length > 0;
      // Someone else's delegation: a superadmin only (audited below), and never naming themselves
      // as that person's deputy, under any of their names (#15 item 6).
      if (!isOwn && rankOf(p.role) < rankOf("superadmin")) {
        throw new ForbiddenError("you can set a delegation for your own approvals only", {
          reason: "NotOwn",
        });
      }
      if (
        !isOwn &&
        (await allNamesOf(req.server.deps.db, p)).includes(req.body.deputy.trim().toLowerCase())
      ) {
        throw new ForbiddenError("you cannot make yourself another approver's deputy", {
          reason: "SelfDeputy",
        });
      }
      if (req.body.endsAt.getTime() <= req.body.startsAt.getTime()) {
        throw new InputError("endsAt must be after startsAt", {
          details: { fields: [{ path: "body.endsAt", message: "must be after startsAt" }] },
        });
      }
      const window = checkDelegationWindow(req.body.startsAt, req.body.endsAt, req.server.deps.now());
      if (!window.ok) {
        throw new InputError(window.message, {
          reason: "BadWindow",
          details: { fields: [{ path: "body.endsAt", message: window.message }] },
        });
      }
      // Oneself under any name: the caller's own names, and the principal's account names.
      const principalNames = [principal, ...(await aliasesOf(req.server.deps.db, approverOfName(principal)))];
      if (
        isOwn
          ? (await allNamesOf(req.server.deps.db, p)).includes(req.body.deputy.trim().toLowerCase())
          : principalNames.some((n) => n.toLowerCase() === req.body.deputy.trim().toLowerCase())
      ) {
        throw new InputError("a deputy must be someone else", {
          reason: "SelfDeputy",
          details: { fields: [{ path: "body.deputy", message: "must be someone else" }] },
        });
      }
      const id = await recordDelegation(req, {
        principal,
        deputy: req.body.deputy,
        startsAt: req.body.startsAt,
        endsAt: req.body.endsAt,
        reason: req.body.reason,
        source: "api",
      });
      return reply.code(201).send({ ...req.body, id, principal, createdBy: p.actor });
    },
  );

  app.delete(
    "/delegations/:id",
    {
      config: { permission: "self" },
      schema: { params: z.object({ id: z.string().regex(/^\d{1,18}$/) }), response: { 204: z.null() } },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const all = rankOf(p.role) >= rankOf("admin");
      const names = await allNamesOf(req.server.deps.db, p);
      // The row and its audit row together, or neither.
      await withTransaction(req.server.deps.db, async (c) => {
        const r = await c.query(
          "DELETE FROM delegations WHERE id = $1 AND ($2 OR lower(principal) = ANY($3)) RETURNING id",
          [req.params.id, all, names],
        );
        if (!r.rowCount) throw new NotFoundError(`delegation ${req.params.id} not found`);
        await appendAudit(c, {
          actor: p.actor,
          action: "delegation_deleted",
          target: `delegation:${req.params.id}`,
          requestId: req.id,
          source: "api",
        });
      });
      return reply.code(204).send(null);
    },
  );

  // ---- one-click approval links (for notification mails) ----
  app.post(
    "/orders/:name/approval-links",
    {
      config: { permission: "orders:write" },
      schema: {
        params: Params,
        body: z.object({
          approver: z.string().min(1),
          expiresInHours: z
            .number()
            .int()
            .min(1)
            .max(24 * 14)
            .default(72),
        }),
        response: { 201: z.object({ url: z.string(), expiresAt: z.date() }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { db } = req.server.deps;
      const order = await visibleOrder(req, req.params.name);
      // A link is a capability to decide as its approver, and its URL comes back to the minter:
      // a link for yourself, or for another approver only from a superadmin (audited
      // `forOther`). Employees never mint one (api/policy/approvals.ts checkLinkMint). A token
      // mints as the account that created it.
      const d = await deciderOf(db, p);
      const person = { username: d.username, email: d.email, aliases: await aliasesOf(db, d) };
      const mint = checkLinkMint({
        minter: { role: p.role, names: exactNamesOf(person) },
        approver: req.body.approver,
      });
      if (!mint.ok && mint.reason === "EmployeeLink")
        throw new ForbiddenError(mint.message, { reason: mint.reason });
      // Nobody mints one for an order they requested (self-approval through a link for their
      // manager), also not through a token of theirs: the person behind the caller counts.
      const r = order.spec.requester;
      if (
        [...exactNamesOf(person), p.email, p.username, p.employeeId].some(
          (x) => x && (isSameName(x, r.email) || isSameName(x, r.id)),
        )
      ) {
        throw new ConflictError(
          "you requested this order: an approval link for it must come from someone else",
          {
            reason: "SelfApproval",
          },
        );
      }
      if (!mint.ok) throw new ForbiddenError(mint.message, { reason: mint.reason });
      const expiresAt = new Date(req.server.deps.now().getTime() + req.body.expiresInHours * 3600_000);
      const link = mintApprovalLink(req.server.security.linkSecret, {
        order: req.params.name,
        approver: req.body.approver,
        expiresAt,
        issuer: p.actor,
      });
      await appendAudit(db, {
        actor: p.actor,
        action: "approval_link_issued",
        target: `order:${req.params.name}`,
        order: req.params.name,
        requestId: req.id,
        source: "api",
        data: {
          approver: req.body.approver,
          linkId: link.id,
          expiresAt: expiresAt.toISOString(),
          // A superadmin's link to decide as someone else: visible as such in the record.
          ...(mint.forOther ? { forOther: true } : {}),
        },
      });
      const url = new URL(`/approve/${link.token}`, req.server.security.publicUrl).toString();
      return reply.code(201).send({ url, expiresAt });
    },
  );
};
