// Route area: asset types and runbooks as CRs, audited with before/after (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const catalogRoutes: FastifyPluginAsyncZod = async () => undefined;
