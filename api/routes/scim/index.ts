// Route area: SCIM 2.0 at /scim/v2 (issue #6).
// TODO(#6): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const scimRoutes: FastifyPluginAsyncZod = async () => undefined;
