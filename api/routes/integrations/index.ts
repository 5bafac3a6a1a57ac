// Route area: integration health (issue #22), a thin declaration over
// api/integrations/service.ts, which the console's dashboard calls too.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { listIntegrations } from "../../integrations/service.ts";

const IntegrationView = z.object({
  name: z.string(),
  kind: z.enum(["directory", "runbook-target", "mail", "identity-provider"]),
  target: z.string(),
  health: z.enum(["healthy", "failing", "unknown"]),
  runbooks: z.array(z.string()),
  lastSuccessAt: z.date().nullable(),
  lastFailureAt: z.date().nullable(),
  lastError: z.string().nullable(),
  probe: z.object({ at: z.date(), ok: z.boolean(), message: z.string().nullable() }).nullable(),
});

export const integrationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/integrations",
    {
      config: { permission: "runbooks:read" },
      schema: {
        querystring: z.object({
          probe: z
            .enum(["true", "false"])
            .optional()
            .describe("true: run the active probes afresh (otherwise answers up to a minute old are shown)"),
        }),
        response: { 200: z.object({ integrations: z.array(IntegrationView) }) },
      },
    },
    async (req) => ({ integrations: await listIntegrations(req, { probe: req.query.probe === "true" }) }),
  );
};
