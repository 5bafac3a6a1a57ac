// Route area: orders (issues #5, #19): thin declarations over the orders service (api/orders):
// create, list, detail, cancel, revoke, modify, retry. The portal calls the same functions.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { OrderSpec, OrderStatus } from "../../../crds/generated/order.ts";
import type { AssetTypeSpec } from "../../../crds/generated/assettype.ts";
import { appendAudit } from "../../../record/audit.ts";
import { ConflictError } from "../../../record/errors.ts";
import { principalOf } from "../../plugins/auth.ts";
import { resourcesOf } from "../../plugins/resources.ts";
import { K8sName } from "../catalog/schemas.ts";
import { orderPhases } from "../../../crds/reasons.ts";
import { deprovisionOrderName } from "../../leaver/decide.ts";
import { needsCleanup } from "../../../crds/order-cleanup.ts";
import {
  cancelOrder,
  createProvisionOrder,
  retryOrder,
  modifyOrder,
  labelValue,
  listVisibleOrders,
  OrderView,
  orderView,
  visibleOrder,
  type OrderCr,
} from "../../orders/index.ts";

export {
  canModify,
  createProvisionOrder,
  currentAttributes,
  entitlementOf,
  modifyOrder,
  modifyRefusal,
  retryOrder,
  listVisibleOrders,
  ordererOf,
  orderView,
  visibleOrder,
  type ModifyInput,
  type NewOrder,
  type OrderCr,
  type OrderView,
} from "../../orders/index.ts";

/** Attribute values as JSON scalars; the asset type's schema decides what each must be. */
export const AttributesBody = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const Params = z.object({ name: K8sName });

export const orderRoutes: FastifyPluginAsyncZod = async (app) => {
  const res = resourcesOf(app.deps);

  app.post(
    "/orders",
    {
      config: { permission: "orders:write" },
      schema: {
        body: z.object({
          assetType: K8sName,
          attributes: AttributesBody.optional(),
          reason: z.string().max(2000).optional(),
          /** On behalf (admins only): the employee the asset is for. */
          requester: z
            .object({
              id: z.string().min(1),
              email: z.email(),
              displayName: z.string().optional(),
              manager: z.email().optional(),
            })
            .optional(),
        }),
        response: { 201: OrderView },
      },
    },
    async (req, reply) => reply.code(201).send(orderView(await createProvisionOrder(req, req.body))),
  );

  app.get(
    "/orders",
    {
      config: { permission: "orders:read" },
      schema: {
        querystring: z.object({
          phase: z.enum(orderPhases).optional(),
          assetType: z.string().optional(),
          requester: z.string().optional(),
        }),
        response: { 200: z.object({ items: z.array(OrderView) }) },
      },
    },
    async (req) => ({ items: (await listVisibleOrders(req, req.query)).map(orderView) }),
  );

  app.get(
    "/orders/:name",
    { config: { permission: "orders:read" }, schema: { params: Params, response: { 200: OrderView } } },
    async (req) => orderView(await visibleOrder(req, req.params.name)),
  );

  app.post(
    "/orders/:name/retry",
    { config: { permission: "orders:write" }, schema: { params: Params, response: { 200: OrderView } } },
    async (req) => orderView(await retryOrder(req, req.params.name)),
  );

  app.post(
    "/orders/:name/modify",
    {
      config: { permission: "orders:write" },
      schema: {
        params: Params,
        body: z.object({
          /** The changed values (the others stay as they are), checked against the type's schema. */
          attributes: AttributesBody,
          reason: z.string().max(1024).optional(),
        }),
        response: { 201: OrderView },
      },
    },
    async (req, reply) => reply.code(201).send(orderView(await modifyOrder(req, req.params.name, req.body))),
  );

  app.post(
    "/orders/:name/cancel",
    { config: { permission: "orders:write" }, schema: { params: Params, response: { 200: OrderView } } },
    async (req) => orderView(await cancelOrder(req, req.params.name)),
  );

  app.post(
    "/orders/:name/revoke",
    {
      config: { permission: "orders:write" },
      schema: {
        params: Params,
        body: z.object({ reason: z.string().max(2000).optional() }).optional(),
        response: { 200: OrderView, 201: OrderView },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const o = await visibleOrder(req, req.params.name);
      if ((o.spec.action ?? "Provision") !== "Provision") {
        throw new ConflictError("only a Provision order can be revoked", { reason: "NotProvision" });
      }
      const name = deprovisionOrderName(o.metadata.name);
      const existing = await res.get<OrderSpec, OrderStatus>("Order", name);
      if (existing) return reply.code(200).send(orderView(existing));
      if (o.status?.phase === "Failed" && !needsCleanup(o)) {
        throw new ConflictError(
          "the order failed before any step ran: nothing was granted, no cleanup is needed",
          {
            reason: "NoCleanupNeeded",
          },
        );
      }
      // Provisioned, or a Failed provision whose steps may have granted something (#19).
      if (o.status?.phase !== "Provisioned" && !needsCleanup(o)) {
        throw new ConflictError(
          `the order is ${o.status?.phase ?? "not yet processed"}: only a Provisioned order can be revoked`,
          {
            reason: "NotProvisioned",
          },
        );
      }
      // Without a deprovision runbook nothing could take the asset back: say so now instead of
      // creating a Deprovision Order that fails (crds/assettypes.yaml runbooks.deprovision).
      const at = await res.get<AssetTypeSpec>("AssetType", o.spec.assetType);
      if (!at) {
        throw new ConflictError(
          `asset type ${o.spec.assetType} no longer exists: nothing can revoke the asset`,
          {
            reason: "AssetTypeNotFound",
          },
        );
      }
      if (!at.spec.runbooks.deprovision) {
        throw new ConflictError(
          `asset type ${o.spec.assetType} has no deprovision runbook: nothing can take the asset back`,
          { reason: "NoDeprovisionRunbook" },
        );
      }
      const spec: OrderSpec = {
        assetType: o.spec.assetType,
        action: "Deprovision",
        target: o.metadata.name,
        requester: o.spec.requester,
        ...(req.body?.reason ? { reason: req.body.reason } : {}),
      };
      let made: OrderCr;
      try {
        made = await res.create<OrderSpec, OrderStatus>("Order", name, spec, {
          "ipsolis.io/asset-type": labelValue(o.spec.assetType),
          "ipsolis.io/requester": labelValue(o.spec.requester.id),
        });
      } catch (err) {
        // Two revokes at once: the second finds the first one's Order (idempotent).
        if (err instanceof ConflictError) {
          const again = await res.get<OrderSpec, OrderStatus>("Order", name);
          if (again) return reply.code(200).send(orderView(again));
        }
        throw err;
      }
      await appendAudit(req.server.deps.db, {
        actor: p.actor,
        action: "order_revoke_requested",
        target: `order:${o.metadata.name}`,
        order: name,
        requestId: req.id,
        source: "api",
        data: { deprovisionOrder: name },
      });
      return reply.code(201).send(orderView(made));
    },
  );
};
