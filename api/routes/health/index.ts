// Probes: /healthz (the process answers) and /readyz (it can reach the record: Postgres).
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

const READY_TIMEOUT_MS = 2000;

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

  // Not ready while Postgres does not answer: every write path audits, so traffic would fail.
  app.get(
    "/readyz",
    {
      config: { permission: "public" },
      schema: {
        response: {
          200: z.object({ status: z.literal("ok") }),
          503: z.object({ status: z.literal("unavailable"), error: z.string() }),
        },
      },
    },
    async (req, reply) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          app.deps.db.query("SELECT 1"),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("database did not answer in time")), READY_TIMEOUT_MS);
          }),
        ]);
        return { status: "ok" as const };
      } catch (err) {
        req.log.warn({ err }, "not ready: database unreachable");
        return reply.code(503).send({ status: "unavailable" as const, error: "database unreachable" });
      } finally {
        clearTimeout(timer);
      }
    },
  );
};
