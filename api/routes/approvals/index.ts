// Route area: approve/decline, quorum, one-click approval links (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const approvalRoutes: FastifyPluginAsyncZod = async () => undefined;
