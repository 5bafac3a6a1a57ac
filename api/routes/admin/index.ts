// Route area: admin users, API tokens, settings, delegations (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const adminRoutes: FastifyPluginAsyncZod = async () => undefined;
