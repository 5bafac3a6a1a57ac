// Builds the Fastify app (never listens: server.ts does, tests use inject). Shared plugins
// first, then one encapsulated plugin per route area, registered by name.
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type RawServerDefault,
} from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import swagger from "@fastify/swagger";
import type { Logger } from "pino";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Db } from "../record/db.ts";
import { AppError } from "../record/errors.ts";
import { healthRoutes } from "./routes/health/index.ts";
import { authRoutes } from "./routes/auth/index.ts";
import { adminRoutes } from "./routes/admin/index.ts";
import { orderRoutes } from "./routes/orders/index.ts";
import { catalogRoutes } from "./routes/catalog/index.ts";
import { approvalRoutes } from "./routes/approvals/index.ts";
import { auditRoutes } from "./routes/audit/index.ts";
import { costRoutes } from "./routes/cost/index.ts";
import { ingestRoutes } from "./routes/ingest/index.ts";
import { scimRoutes } from "./routes/scim/index.ts";
import { hrRoutes } from "./routes/hr/index.ts";
import { servicenowRoutes } from "./routes/servicenow/index.ts";
import { portalRoutes } from "./routes/portal/index.ts";

export type AppDeps = {
  log: Logger;
  /** Postgres pool (the record). */
  db: Db;
  /** Kubernetes client configuration (the API writes CRs through it). */
  kc: KubeConfig;
  /** Namespace the product's custom resources live in. */
  namespace: string;
  /** The clock; tests pass a fixed one. */
  now: () => Date;
};

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export async function buildApp(deps: AppDeps): Promise<App> {
  const logger: FastifyBaseLogger = deps.log;
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: "x-request-id",
    trustProxy: true,
    bodyLimit: 1 << 20,
  }).withTypeProvider<ZodTypeProvider>();
  // Route areas reach the shared dependencies as `app.deps` (decorated once, visible everywhere).
  app.decorate("deps", deps);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler<FastifyError>((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      // 400 with the path of every bad field, e.g. "body.spec.size: Too small: expected number to be >=1".
      const fields = err.validation.map((v) => ({
        path: [err.validationContext, ...v.instancePath.split("/").filter(Boolean)].filter(Boolean).join("."),
        message: v.message ?? "invalid",
      }));
      return reply.code(400).send({
        error: `invalid request: ${fields.map((f) => `${f.path}: ${f.message}`).join("; ")}`,
        fields,
      });
    }
    const status = err instanceof AppError ? err.status : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err }, "request failed");
    const body: Record<string, unknown> = { error: status >= 500 ? "internal error" : err.message };
    if (err instanceof AppError && status < 500) {
      if (err.reason) body.reason = err.reason;
      if (err.details) Object.assign(body, err.details);
    }
    return reply.code(status).send(body);
  });

  await app.register(swagger, {
    openapi: { info: { title: "ipsolis API", version: "0.1.0" } },
    transform: jsonSchemaTransform,
  });

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(adminRoutes);
  await app.register(orderRoutes);
  await app.register(catalogRoutes);
  await app.register(approvalRoutes);
  await app.register(auditRoutes);
  await app.register(costRoutes);
  await app.register(ingestRoutes);
  await app.register(scimRoutes);
  await app.register(hrRoutes);
  await app.register(servicenowRoutes);
  await app.register(portalRoutes);

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    deps: AppDeps;
  }
}
