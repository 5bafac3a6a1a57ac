// Builds the Fastify app (never listens: server.ts does, tests use inject). Shared plugins
// first, then one encapsulated plugin per route area, registered by name.
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyServerOptions,
  type FastifyInstance,
  type RawServerDefault,
} from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import swagger from "@fastify/swagger";
import cookie from "@fastify/cookie";
import csrf from "@fastify/csrf-protection";
import formbody from "@fastify/formbody";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import { createHmac, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Db } from "../record/db.ts";
import { AppError } from "../record/errors.ts";
import type { ApiConfig } from "./config.ts";
import { hasNul, nulError } from "./plugins/nul.ts";
import { authPlugin, csrfUserInfo } from "./plugins/auth.ts";
import { makeTokenReviewer } from "./plugins/kube-identity.ts";
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
import { oidcRoutes } from "./routes/oidc/index.ts";
import { integrationRoutes } from "./routes/integrations/index.ts";
import { secretRoutes } from "./routes/secrets/index.ts";
import type { OidcClient } from "./oidc/client.ts";
import { makeApiMetrics, scimResourceOf, type ApiMetrics } from "./metrics.ts";
import { OPENAPI_BASE, openapiTransform } from "./openapi/document.ts";

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
  /**
   * The parsed configuration (api/config.ts). Optional so tests can build an app from the
   * five deps above: then the session and link secrets are random per app, and the legacy
   * key and webhook secrets are off.
   */
  config?: Partial<ApiConfig>;
  /** Employee single sign-on (OpenID Connect); off when absent. */
  oidc?: OidcClient;
  /** Prometheus metrics (api/metrics.ts); the server passes one with process metrics. */
  metrics?: ApiMetrics;
};

export type RouteEntry = { method: string; url: string; permission: string | undefined };

/** The secrets and limits every app has, filled in when `deps.config` leaves them out. */
export type Security = {
  sessionSecret: string;
  linkSecret: string;
  adminKey: string | undefined;
  publicUrl: string;
  serviceAccount: string;
  loginRateLimit: number;
  sessionHours: number;
};

function securityOf(c: Partial<ApiConfig> | undefined): Security {
  return {
    sessionSecret: c?.IPSOLIS_SESSION_SECRET ?? randomBytes(32).toString("base64url"),
    linkSecret: c?.IPSOLIS_LINK_SECRET ?? randomBytes(32).toString("base64url"),
    adminKey: c?.IPSOLIS_ADMIN_KEY,
    publicUrl: c?.IPSOLIS_PUBLIC_URL ?? "http://127.0.0.1:8080",
    serviceAccount: c?.IPSOLIS_SERVICE_ACCOUNT ?? "ipsolis-api",
    loginRateLimit: c?.IPSOLIS_LOGIN_RATE_LIMIT ?? 20,
    sessionHours: c?.IPSOLIS_SESSION_HOURS ?? 12,
  };
}

/** Fastify's trustProxy from IPSOLIS_TRUST_PROXY: off by default, else the proxies' addresses. */
export function trustProxyOf(v: string | undefined): FastifyServerOptions["trustProxy"] {
  return v === undefined ? false : v.split(",");
}

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
    // Always our own id: a client's X-Request-Id is not trusted as the audit's request id (it
    // could collide or impersonate another request); it is logged as `clientRequestId`.
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    trustProxy: trustProxyOf(deps.config?.IPSOLIS_TRUST_PROXY),
    bodyLimit: 1 << 20,
    // One-click approval links carry their signed claims in the path (~200 characters).
    routerOptions: { maxParamLength: 1024 },
  }).withTypeProvider<ZodTypeProvider>();
  // Route areas reach the shared dependencies as `app.deps` (decorated once, visible everywhere).
  app.decorate("deps", deps);
  const security = securityOf(deps.config);
  app.decorate("security", security);
  const metrics = deps.metrics ?? makeApiMetrics({ defaults: false });
  app.decorate("metrics", metrics);
  // Route patterns only (an unknown URL is "unmatched"): label values stay few.
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    const status = String(reply.statusCode);
    metrics.httpDuration.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    const resource = scimResourceOf(route);
    if (resource) metrics.scimRequests.inc({ resource, method: req.method, status });
  });
  // Every route with its declared permission: the route × role test walks this table.
  const routeTable: RouteEntry[] = [];
  app.decorate("routeTable", routeTable);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) {
      if (method === "HEAD") continue;
      const config = (r.config ?? {}) as { permission?: string };
      routeTable.push({ method, url: r.url, permission: config.permission });
    }
  });
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
    // RFC 9110 §11.6.1: a 401 names the scheme to use (SCIM has its own in its answers).
    if (status === 401 && !reply.hasHeader("www-authenticate"))
      void reply.header("www-authenticate", 'Bearer realm="ipsolis"');
    const body: Record<string, unknown> = { error: status >= 500 ? "internal error" : err.message };
    if (err instanceof AppError && status < 500) {
      if (err.reason) body.reason = err.reason;
      if (err.details) Object.assign(body, err.details);
    }
    return reply.code(status).send(body);
  });

  // The edge: our request id on every answer, the client's kept apart; a NUL byte anywhere in
  // the URL, a header or the body is a 400 here, before any route (Postgres text refuses U+0000,
  // so it used to surface as a 500 on a dozen routes, sign-in included).
  app.addHook("onRequest", async (req, reply) => {
    void reply.header("x-request-id", req.id);
    const client = req.headers["x-request-id"];
    if (client !== undefined) {
      req.log = req.log.child({ clientRequestId: String(client).slice(0, 200) });
    }
    if (/%00/.test(req.url) || req.url.includes("\0")) throw nulError("the URL");
    for (const [k, v] of Object.entries(req.headers)) {
      if ([v ?? ""].flat().some((x) => x.includes("\0"))) throw nulError(`header ${k}`);
    }
  });
  app.addHook("preValidation", async (req) => {
    // Signed webhooks check after their signature (api/leaver/webhook.ts); ingest stores U+FFFD.
    const config = req.routeOptions.config as { permission?: string; hmac?: string } | undefined;
    if (config?.hmac !== undefined || config?.permission === "ingest") return;
    if (hasNul(req.body)) throw nulError("the body");
  });

  // Security, tags and summaries come from each route's own config (api/openapi/document.ts).
  await app.register(swagger, { openapi: OPENAPI_BASE, transform: openapiTransform });

  // Shared plugins: security headers, cookies, forms, CSRF, rate limiting (per route, e.g. the
  // sign-in), then authentication + the permission check of every route.
  await app.register(helmet, {
    contentSecurityPolicy: {
      // Pages load our own CSS and script only: no inline script or style, nothing from a CDN.
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  await app.register(cookie, { secret: security.sessionSecret });
  await app.register(formbody);
  await app.register(csrf, {
    // Tokens are bound to the session (#15 item 16): one minted for another session, or before
    // sign-in, is refused for this one (api/plugins/auth.ts csrfToken mints them).
    getUserInfo: csrfUserInfo,
    csrfOpts: { hmacKey: createHmac("sha256", security.sessionSecret).update("ipsolis-csrf").digest() },
    cookieKey: "ipsolis_csrf",
    cookieOpts: { path: "/", sameSite: "strict", httpOnly: true, secure: true, signed: true },
    getToken: (req) => {
      const body = req.body as { _csrf?: unknown } | undefined;
      const fromBody = typeof body?._csrf === "string" ? body._csrf : undefined;
      const h = req.headers["x-csrf-token"];
      return fromBody ?? (Array.isArray(h) ? h[0] : h);
    },
  });
  await app.register(rateLimit, { global: false });
  await app.register(authPlugin, {
    adminKey: security.adminKey,
    reviewKubeToken:
      deps.config?.IPSOLIS_KUBE_IDENTITY === "off" ? undefined : makeTokenReviewer(deps.kc, deps.log),
  });

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(adminRoutes);
  await app.register(orderRoutes);
  await app.register(catalogRoutes);
  await app.register(approvalRoutes);
  await app.register(integrationRoutes);
  await app.register(secretRoutes);
  await app.register(auditRoutes);
  await app.register(costRoutes);
  await app.register(ingestRoutes);
  await app.register(scimRoutes);
  await app.register(hrRoutes);
  await app.register(servicenowRoutes);
  await app.register(portalRoutes);
  await app.register(oidcRoutes);

  app.get("/openapi.json", { schema: { hide: true }, config: { permission: "public" } }, async () =>
    app.swagger(),
  );
  await app.ready();
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    deps: AppDeps;
    security: Security;
    routeTable: RouteEntry[];
    metrics: ApiMetrics;
  }
}
