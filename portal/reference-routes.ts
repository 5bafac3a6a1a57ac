// The API reference page, /docs/api (ADR 0014): public like /openapi.json, which it renders;
// server-side from app.swagger(), in the portal's layout and languages, without script.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { referenceOf, type OpenApiDocument, type Reference } from "../api/openapi/index.ts";
import { ctxOf, send } from "./context.ts";
import { apiReferencePage } from "./pages/api-reference.ts";

export const REFERENCE_PATH = "/docs/api";

export const referenceRoutes: FastifyPluginAsyncZod = async (app) => {
  // The document is fixed once the app is ready (@fastify/swagger caches it too): built once.
  let ref: Reference | undefined;
  app.get(
    REFERENCE_PATH,
    { config: { permission: "public" }, schema: { hide: true } },
    async (req, reply) => {
      ref ??= referenceOf(app.swagger() as OpenApiDocument);
      return send(reply, apiReferencePage(await ctxOf(req, reply), ref));
    },
  );
};
