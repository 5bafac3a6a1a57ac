// Route area: ServiceNow inbound webhook (issue #6).
// TODO(#6): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const servicenowRoutes: FastifyPluginAsyncZod = async () => undefined;
