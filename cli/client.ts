// The plugin's one HTTP client for the ipsolis API (global fetch): the bearer token on every
// request, JSON in and out, a timeout, and the two ways a call fails translated where they
// enter: the API answered a refusal (ApiError: status, the API's message and reason), or the
// API could not be reached (UnreachableError). The token is never part of a message.
import type { Connection } from "./config.ts";

const TIMEOUT_MS = 30_000;

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

export function createClient(c: Connection, fetchImpl: typeof fetch = fetch): Client {
  const headers = (extra: Record<string, string>) => ({
    authorization: `Bearer ${c.token}`,
    "user-agent": "kubectl-ipsolis",
    ...extra,
  });
  const send = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetchImpl(`${c.server}${path}`, init);
    } catch (err) {
      // Our own abort (the follower stops): not a failure to reach the API.
      if ((err as Error).name === "AbortError") throw err;
      const why =
        (err as Error).name === "TimeoutError" ? `no answer within ${TIMEOUT_MS / 1000} s` : causeOf(err);
      throw new UnreachableError(`cannot reach the ipsolis API at ${c.server}: ${why}`, { cause: err });
    }
  };
  return {
    server: c.server,
    async call<T>(method: "GET" | "POST", path: string, body?: unknown) {
      const res = await send(path, {
        method,
        headers: headers({
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        }),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (!res.ok) throw await refusal(res);
      const text = await res.text();
      try {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
      } catch (err) {
        throw new UnreachableError(`the server at ${c.server} did not answer JSON: is it the ipsolis API?`, {
          cause: err,
        });
      }
    },
    async stream(path: string, signal: AbortSignal) {
      const res = await send(path, {
        method: "GET",
        headers: headers({ accept: "text/event-stream" }),
        signal,
      });
      if (!res.ok) throw await refusal(res);
      return res;
    },
  };
}
