// Route area: login, logout, first-run superadmin, password change (issue #5).
// TODO(#5): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const authRoutes: FastifyPluginAsyncZod = async () => undefined;
