// Posts runner events in batches to the API's ingest endpoint (POST /ingest/v1/lines), in
// order, one request at a time. Back-pressure (429/503 with Retry-After) and network errors are
// retried with backoff and never drop a line; the buffer is bounded, and while it is full the
// runner pauses reading step output (see README.md). Only a permanent refusal (e.g. 401: the
// token expired) or the flush deadline at exit gives up, and says so on stderr; every event is
// on stdout (the pod log) regardless.
import type { RunnerEvent } from "./events.ts";

export type RetryDecision = { kind: "retry"; delayMs: number } | { kind: "give-up"; reason: string };

/** Pure: what to do after a failed POST (`status` undefined = network error). */
export function ingestRetry(
  status: number | undefined,
  retryAfter: string | null,
  failures: number,
): RetryDecision {
  const backoff = Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
  if (status === undefined || status === 408 || status >= 500 || status === 429) {
    const seconds =
      retryAfter !== null && /^\d+(\.\d+)?$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
    return { kind: "retry", delayMs: seconds !== undefined ? Math.min(seconds * 1000, 30_000) : backoff };
  }
  return { kind: "give-up", reason: `ingest endpoint answered ${status}` };
}

/** The ingest endpoint for a base URL (`http://api:8080` → `http://api:8080/ingest/v1/lines`). */
export function ingestEndpoint(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith("/ingest/v1/lines") ? trimmed : `${trimmed}/ingest/v1/lines`;
}

export type Ingest = {
  push(e: RunnerEvent): void;
  /** False while the buffer is full: the caller should stop producing until waitForRoom resolves. */
  hasRoom(): boolean;
  waitForRoom(): Promise<void>;
  /** Waits until every event was accepted or `ms` passed; resolves with what is left unsent. */
  flush(ms: number): Promise<{ unsent: number; gaveUp?: string }>;
};

export function createIngest(opts: {
  url: string;
  token: string;
  batchLines: number;
  bufferLines: number;
  warn: (msg: string, data?: Record<string, unknown>) => void;
}): Ingest {
  const endpoint = ingestEndpoint(opts.url);
  const buf: RunnerEvent[] = [];
  let pumping: Promise<void> | undefined;
  let gaveUp: string | undefined;
  let stopped = false;
  let roomWaiters: (() => void)[] = [];
  let wake: (() => void) | undefined;

  const lowWater = Math.floor(opts.bufferLines / 2);
  const signalRoom = () => {
    if (buf.length <= lowWater || gaveUp) {
      const w = roomWaiters;
      roomWaiters = [];
      for (const f of w) f();
    }
  };
  // Sleeps that flush() can cut short when its deadline passes.
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  async function pump(): Promise<void> {
    let failures = 0;
    while (buf.length > 0 && !gaveUp && !stopped) {
      const batch = buf.slice(0, opts.batchLines);
      let status: number | undefined;
      let retryAfter: string | null = null;
      try {
        const res = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${opts.token}` },
          body: JSON.stringify({ lines: batch }),
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        retryAfter = res.headers.get("retry-after");
        await res.arrayBuffer();
      } catch (err) {
        opts.warn("ingest request failed", { error: (err as Error).message });
      }
      if (status !== undefined && status >= 200 && status < 300) {
        buf.splice(0, batch.length);
        failures = 0;
        signalRoom();
        continue;
      }
      const d = ingestRetry(status, retryAfter, failures++);
      if (d.kind === "give-up") {
        gaveUp = d.reason;
        opts.warn("ingest gave up; events remain on stdout only", { reason: d.reason, unsent: buf.length });
        signalRoom();
        break;
      }
      if (status !== undefined) opts.warn("ingest pushed back; retrying", { status, delayMs: d.delayMs });
      await sleep(d.delayMs);
    }
  }

  const kick = () => {
    pumping ??= pump().finally(() => {
      pumping = undefined;
      if (buf.length > 0 && !gaveUp && !stopped) kick();
    });
  };

  return {
    push(e) {
      if (gaveUp || stopped) return;
      buf.push(e);
      kick();
    },
    hasRoom: () => gaveUp !== undefined || buf.length < opts.bufferLines,
    waitForRoom: () =>
      gaveUp !== undefined || buf.length <= lowWater
        ? Promise.resolve()
        : new Promise((r) => roomWaiters.push(r)),
    async flush(ms) {
      const deadline = Date.now() + ms;
      while (buf.length > 0 && !gaveUp && Date.now() < deadline) {
        kick();
        const left = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pumping, new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
      if (buf.length > 0 && !gaveUp) {
        stopped = true;
        wake?.();
        return { unsent: buf.length, gaveUp: "flush deadline passed" };
      }
      return { unsent: gaveUp ? buf.length : 0, ...(gaveUp ? { gaveUp } : {}) };
    },
  };
}
