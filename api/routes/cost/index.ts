// Route area: cost report JSON/CSV (issue #4).
// TODO(#4): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const costRoutes: FastifyPluginAsyncZod = async () => undefined;
