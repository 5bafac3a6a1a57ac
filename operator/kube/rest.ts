// A thin REST client for the operator's hot path: one keep-alive HTTPS agent (client-node's
// generated APIs open a new agent per request, which costs a TLS handshake per write), our
// own User-Agent so the API server's metrics and audit name us, and failures translated into
// client-node's ApiException so `translateKubeError` handles both alike.
import * as k8s from "@kubernetes/client-node";
import { Agent, request, type RequestOptions } from "node:https";

export type RestRequest = {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Defaults to application/json; server-side apply uses application/apply-patch+yaml. */
  contentType?: string;
  /** Defaults to application/json (e.g. PartialObjectMetadata to read only an object's metadata). */
  accept?: string;
};

export type Rest = {
  readonly server: string;
  call<T = unknown>(r: RestRequest): Promise<T>;
  close(): void;
};

export const APPLY_PATCH = "application/apply-patch+yaml";
export const MERGE_PATCH = "application/merge-patch+json";

export async function makeRest(kc: k8s.KubeConfig, userAgent: string): Promise<Rest> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const base: RequestOptions = {};
  await kc.applyToHTTPSOptions(base);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 64,
    ca: base.ca,
    cert: base.cert,
    key: base.key,
    ...(base.rejectUnauthorized !== undefined ? { rejectUnauthorized: base.rejectUnauthorized } : {}),
  });
  const url = new URL(cluster.server);
  const headers = { ...(base.headers as Record<string, string> | undefined) };
  return {
    server: cluster.server,
    close: () => agent.destroy(),
    call<T>(r: RestRequest): Promise<T> {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) qs.set(k, v);
      const path = qs.size > 0 ? `${r.path}?${qs.toString()}` : r.path;
      const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
      return new Promise<T>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port || 443,
            method: r.method,
            path,
            headers: {
              ...headers,
              "user-agent": userAgent,
              accept: r.accept ?? "application/json",
              ...(payload
                ? { "content-type": r.contentType ?? "application/json", "content-length": payload.length }
                : {}),
            },
            timeout: 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              const code = res.statusCode ?? 0;
              if (code >= 200 && code < 300) {
                try {
                  resolve((text ? JSON.parse(text) : undefined) as T);
                } catch (err) {
                  reject(new Error(`unparsable answer from ${r.method} ${r.path}`, { cause: err }));
                }
                return;
              }
              reject(new k8s.ApiException(code, `${r.method} ${r.path} answered ${code}`, text, {}));
            });
            res.on("error", reject);
          },
        );
        req.on("timeout", () =>
          req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })),
        );
        req.on("error", reject);
        if (payload) req.write(payload);
        req.end();
      });
    },
  };
}

/** The HTTP status of a Kubernetes failure, or undefined for anything else. */
export function statusCodeOf(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}
