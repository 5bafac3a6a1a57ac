// Route area: runner step-output ingest with per-Job tokens (issue #4).
// TODO(#4): routes land here.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export const ingestRoutes: FastifyPluginAsyncZod = async () => undefined;
