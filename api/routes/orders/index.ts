// Route area: orders: create, list, detail, cancel, revoke (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const orderRoutes: FastifyPluginAsyncZod = async () => undefined;
