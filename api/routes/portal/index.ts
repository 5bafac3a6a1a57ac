// Route area: portal pages (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const portalRoutes: FastifyPluginAsyncZod = async () => undefined;
