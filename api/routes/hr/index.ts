// Route area: HR leaver webhook (issue #6).
// TODO(#6): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const hrRoutes: FastifyPluginAsyncZod = async () => undefined;
