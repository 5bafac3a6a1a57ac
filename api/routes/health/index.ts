import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/healthz",
    {
      config: { permission: "public" },
      schema: { response: { 200: z.object({ status: z.literal("ok") }) } },
    },
    async () => ({
      status: "ok" as const,
    }),
  );
};
