// The plugin's one HTTP client for the ipsolis API (node:http/https): the bearer token on every
// request, JSON in and out, a timeout (`--request-timeout`, 0: none), and the two ways a call
// fails translated where they enter: the API answered a refusal (ApiError: status, the API's
// message and reason), or the API could not be reached (UnreachableError). The token is never
// part of a message. Not global fetch: its client (undici) gives up on any answer whose headers
// take more than 300 s, whatever the timeout, and verify-audit on a large record takes longer.
import * as http from "node:http";
import * as https from "node:https";
import { Readable } from "node:stream";
import type { Connection } from "./config.ts";

/** The API refused (4xx) or failed (5xx); `message` is the API's own sentence. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason: string | undefined) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** No answer: refused connection, DNS, TLS, timeout. */
export class UnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnreachableError";
  }
}

export type Client = {
  readonly server: string;
  /** A JSON call; the parsed body and the status. */
  call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A streaming GET (server-sent events): the open response, for the caller to read and abort. */
  stream(path: string, signal: AbortSignal): Promise<Response>;
};

/** "connect ECONNREFUSED 127.0.0.1:1" from fetch's `TypeError: fetch failed` and its cause. */
function causeOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  if (e.cause?.message) return e.cause.message;
  if (e.cause?.code) return e.cause.code;
  return e.message ?? String(err);
}

async function refusal(res: Response): Promise<ApiError> {
  // Redirects are not followed (the token would go wherever they point): say where to go instead.
  const location = res.headers.get("location");
  if (res.status >= 300 && res.status < 400 && location) {
    await res.body?.cancel();
    return new ApiError(
      res.status,
      `the server redirects to ${location.slice(0, 300)}: use that address as --server / IPSOLIS_URL (redirects are not followed, so the token does not travel on)`,
      "Redirect",
    );
  }
  const text = await res.text().catch(() => "");
  let message = text.trim() || res.statusText || `HTTP ${res.status}`;
  let reason: string | undefined;
  try {
    // The API's error body (api/app.ts): { error, reason?, fields? }; SCIM-style bodies have `detail`.
    const j = JSON.parse(text) as { error?: unknown; detail?: unknown; reason?: unknown };
    if (typeof j.error === "string") message = j.error;
    else if (typeof j.detail === "string") message = j.detail;
    if (typeof j.reason === "string") reason = j.reason;
  } catch (err) {
    // Not JSON (a proxy's HTML page): keep its first line, not the whole page.
    if (!(err instanceof SyntaxError)) throw err;
    message = message.split("\n")[0]!.slice(0, 300);
  }
  return new ApiError(res.status, message, reason);
}

/** "30s", "2m", "1m30s": a timeout as the user wrote it in kubectl's style. */
export function formatTimeout(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 60_000 && ms % 1000 === 0) return `${Math.floor(ms / 60_000)}m${(ms % 60_000) / 1000}s`;
  return `${ms / 1000}s`;
}

/** One HTTP exchange: the answer as a web Response, its body streamed; aborted by `signal`. */
function request(
  url: URL,
  opts: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(
      url,
      { method: opts.method, headers: opts.headers, signal: opts.signal },
      (res) => {
        // The web stream below reports a failure to its reader; after the reader has cancelled (the
        // follower stops), the socket's late "aborted" has nobody to tell and must not crash the CLI.
        res.on("error", () => undefined);
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
        const status = res.statusCode ?? 500;
        const empty = status === 204 || status === 304;
        resolve(
          new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage ?? "",
            headers,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

export function createClient(c: Connection, opts: { timeoutMs: number }): Client {
  const headers = (extra: Record<string, string>) => ({
    authorization: `Bearer ${c.token}`,
    "user-agent": "kubectl-ipsolis",
    ...extra,
  });
  const unreachable = (err: unknown, timeout: AbortSignal | undefined): UnreachableError => {
    const why = timeout?.aborted
      ? `no answer within ${formatTimeout(opts.timeoutMs)} (--request-timeout; 0 waits as long as it takes)`
      : causeOf(err);
    return new UnreachableError(`cannot reach the ipsolis API at ${c.server}: ${why}`, { cause: err });
  };
  /** `signal`: the caller's own abort (the follower stops), which is not a failure to reach the API. */
  const send = async (
    path: string,
    init: { method: string; headers: Record<string, string>; body?: string },
    signal: AbortSignal | undefined,
    timeout: AbortSignal | undefined,
  ): Promise<Response> => {
    const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await request(new URL(`${c.server}${path}`), { ...init, signal: AbortSignal.any(signals) });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw unreachable(err, timeout);
    }
  };
  return {
    server: c.server,
    async call<T>(method: "GET" | "POST", path: string, body?: unknown) {
      // The limit covers the whole exchange: the answer's headers and its body.
      const timeout = opts.timeoutMs > 0 ? AbortSignal.timeout(opts.timeoutMs) : undefined;
      const res = await send(
        path,
        {
          method,
          headers: headers({
            accept: "application/json",
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          }),
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        },
        undefined,
        timeout,
      );
      if (!res.ok) throw await refusal(res);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw unreachable(err, timeout);
      }
      try {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
      } catch (err) {
        throw new UnreachableError(`the server at ${c.server} did not answer JSON: is it the ipsolis API?`, {
          cause: err,
        });
      }
    },
    async stream(path: string, signal: AbortSignal) {
      // A live stream has no overall limit; the API's heartbeats keep it open.
      const res = await send(
        path,
        { method: "GET", headers: headers({ accept: "text/event-stream" }) },
        signal,
        undefined,
      );
      if (!res.ok) throw await refusal(res);
      return res;
    },
  };
}
