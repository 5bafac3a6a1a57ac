// Route area: audit log read, filter, cursor pagination, CSV, live follow (issue #4).
// TODO(#4): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const auditRoutes: FastifyPluginAsyncZod = async () => undefined;
