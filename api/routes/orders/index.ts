// Route area: orders (issues #5, #19): thin declarations over the orders service (api/orders):
// create, list, detail, cancel, revoke, modify, retry. The portal calls the same functions.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { K8sName } from "../catalog/schemas.ts";
import { orderPhases } from "../../../crds/reasons.ts";
import {
  resetGenerated,
  cancelOrder,
  createProvisionOrder,
  retryOrder,
  revokeOrder,
  modifyOrder,
  listVisibleOrders,
  OrderView,
  orderView,
  orderViews,
  visibleOrder,
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
  app.post(
    "/orders",
    {
      config: { permission: "orders:write" },
      schema: {
        body: z.object({
          assetType: K8sName,
          attributes: AttributesBody.optional(),
          reason: z.string().max(2000).optional(),
          generate: z
            .array(z.string().min(1).max(63))
            .max(32)
            .optional()
            .describe(
              'Generated attributes (AssetType attributes with `generated`) to make for this order, e.g. ["password"]: the API makes the value and delivers it to the person the type names (a OneTimePassword to the manager of the person it is for, revealable once in the portal); it is never in the response',
            ),
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
    async (req) => ({ items: await orderViews(req, await listVisibleOrders(req, req.query)) }),
  );

  app.get(
    "/orders/:name",
    { config: { permission: "orders:read" }, schema: { params: Params, response: { 200: OrderView } } },
    async (req) => (await orderViews(req, [await visibleOrder(req, req.params.name)]))[0]!,
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
          attributes: AttributesBody.optional(),
          reason: z.string().max(1024).optional(),
          generate: z
            .array(z.string().min(1).max(63))
            .max(32)
            .optional()
            .describe(
              'Generated attributes (AssetType attributes with `generated`) to make anew (a password reset), e.g. ["password"]: the API makes the value and delivers it to the person the type names (a OneTimePassword to the manager of the person it is for, revealable once in the portal); it is never in the response',
            ),
        }),
        response: { 201: OrderView },
      },
    },
    async (req, reply) => reply.code(201).send(orderView(await modifyOrder(req, req.params.name, req.body))),
  );

  app.post(
    "/orders/:name/reset",
    {
      config: { permission: "orders:reset" },
      schema: {
        params: Params,
        body: z
          .object({
            attributes: z
              .array(z.string().min(1).max(63))
              .min(1)
              .max(32)
              .optional()
              .describe("The generated attributes to make anew (default: every one the asset type has)"),
            reason: z.string().max(1024).optional(),
          })
          .optional(),
        response: { 201: OrderView },
      },
    },
    async (req, reply) =>
      reply.code(201).send(orderView(await resetGenerated(req, req.params.name, req.body ?? {}))),
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
      const r = await revokeOrder(req, req.params.name, req.body?.reason);
      return reply.code(r.created ? 201 : 200).send(orderView(r.order));
    },
  );
};
