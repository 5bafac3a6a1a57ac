// Prometheus metrics of the API process (#21), on a registry of its own per app (tests build
// several apps in one process). Names follow STYLE.md: ipsolis_api_<name>_<unit>. They are
// served on a port of their own (IPSOLIS_METRICS_PORT, api/server.ts), never on the public
// port the Ingress exposes: route counts and sign-in failures are for Prometheus, not the web.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type ApiMetrics = {
  registry: Registry;
  /** Every answer, by method, route pattern (never the raw URL) and status. */
  httpDuration: Histogram<"method" | "route" | "status">;
  /** SCIM 2.0 requests by resource type (Users, Groups, ...), method and status. */
  scimRequests: Counter<"resource" | "method" | "status">;
  /** Sign-ins by method (password, oidc) and result (succeeded, failed, locked, refused). */
  signIns: Counter<"method" | "result">;
  /** Approval decisions recorded, by decision (Approved, Declined) and source (api, portal). */
  approvals: Counter<"decision" | "source">;
  /** Step-output lines accepted from runners (a re-sent batch counts again; storing is idempotent). */
  ingestLines: Counter;
  /** Notification deliveries by channel and result (sent, retried, failed). */
  notifications: Counter<"channel" | "result">;
};

export function makeApiMetrics(opts: { defaults?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (opts.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: "ipsolis_api_" });
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: "ipsolis_api_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    scimRequests: new Counter({
      name: "ipsolis_api_scim_requests_total",
      help: "SCIM 2.0 requests by resource type, method and status.",
      labelNames: ["resource", "method", "status"],
      registers,
    }),
    signIns: new Counter({
      name: "ipsolis_api_sign_ins_total",
      help: "Sign-ins by method (password, oidc) and result (succeeded, failed, locked, refused).",
      labelNames: ["method", "result"],
      registers,
    }),
    approvals: new Counter({
      name: "ipsolis_api_approval_decisions_total",
      help: "Approval decisions recorded, by decision and source (api, portal).",
      labelNames: ["decision", "source"],
      registers,
    }),
    ingestLines: new Counter({
      name: "ipsolis_api_ingest_lines_total",
      help: "Step-output lines accepted from runners (a re-sent batch counts again).",
      registers,
    }),
    notifications: new Counter({
      name: "ipsolis_api_notifications_total",
      help: "Notification deliveries by channel and result (sent, retried, failed).",
      labelNames: ["channel", "result"],
      registers,
    }),
  };
}

/** The SCIM resource type a route pattern addresses: `/scim/v2/Users/:id` → `Users`. */
export function scimResourceOf(route: string): string | undefined {
  const m = /^\/scim\/v2\/([^/]+)/.exec(route);
  return m ? m[1] : undefined;
}

/**
 * The metrics listener: `GET /metrics` and nothing else (404), on its own port. Resolves once
 * listening; `port` is the bound port (0 picks a free one).
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  onError: (err: unknown) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "/").split("?")[0] !== "/metrics")
      return void res.writeHead(404).end();
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: unknown) => {
        onError(err);
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
