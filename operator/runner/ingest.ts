// Posts runner events in batches to the API's ingest endpoint (POST /ingest/v1/lines). Up to
// `maxInFlight` batches of plain output lines travel at once (a sliding window: batch k+2 is
// not sent before batch k is accepted), so the API parses one while Postgres stores the other;
// a batch holding a step start/end or the run end travels alone, after everything before it
// was accepted, so the audit rows it makes keep the run's order. Back-pressure (429/503 with Retry-After) and network errors are
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

/** A batch is a control batch when it holds anything but plain output lines. */
const isControl = (e: RunnerEvent) => e.kind !== "line";

/**
 * Pure: how many events from the head of the unsent queue make the next batch, or 0 when
 * nothing may be sent now. `window` is what was sent and not yet accepted, oldest first.
 */
export function nextBatchSize(
  window: readonly { control: boolean }[],
  queue: readonly RunnerEvent[],
  opts: { batchLines: number; maxInFlight: number },
): number {
  if (queue.length === 0 || window.length >= opts.maxInFlight) return 0;
  // A control batch travels alone.
  if (window.some((b) => b.control)) return 0;
  const limit = Math.min(opts.batchLines, queue.length);
  if (window.length === 0) return limit;
  // Beside another batch: plain lines only, up to the next control event.
  let n = 0;
  while (n < limit && !isControl(queue[n]!)) n++;
  return n;
}

type Batch = {
  lines: RunnerEvent[];
  control: boolean;
  state: "sending" | "waiting" | "ready" | "done";
  failures: number;
};

export function createIngest(opts: {
  url: string;
  token: string;
  batchLines: number;
  bufferLines: number;
  /** Batches travelling at once (default 2). */
  maxInFlight?: number;
  warn: (msg: string, data?: Record<string, unknown>) => void;
}): Ingest {
  const endpoint = ingestEndpoint(opts.url);
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
  /** Sent and not yet accepted, oldest first (accepted ones leave from the head only). */
  const window: Batch[] = [];
  /** Not sent yet. */
  let queue: RunnerEvent[] = [];
  let gaveUp: string | undefined;
  let stopped = false;
  let roomWaiters: (() => void)[] = [];
  let changeWaiters: (() => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const held = () => queue.length + window.reduce((n, b) => n + (b.state === "done" ? 0 : b.lines.length), 0);
  const lowWater = Math.floor(opts.bufferLines / 2);
  const changed = () => {
    if (held() <= lowWater || gaveUp || stopped) {
      const w = roomWaiters;
      roomWaiters = [];
      for (const f of w) f();
    }
    const w = changeWaiters;
    changeWaiters = [];
    for (const f of w) f();
  };

  async function send(b: Batch): Promise<void> {
    b.state = "sending";
    let status: number | undefined;
    let retryAfter: string | null = null;
    try {
      const res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${opts.token}` },
        body: JSON.stringify({ lines: b.lines }),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      await res.arrayBuffer();
    } catch (err) {
      opts.warn("ingest request failed", { error: (err as Error).message });
    }
    if (status !== undefined && status >= 200 && status < 300) {
      b.state = "done";
      while (window[0]?.state === "done") window.shift();
    } else {
      const d = ingestRetry(status, retryAfter, b.failures++);
      if (d.kind === "give-up") {
        if (!gaveUp) {
          gaveUp = d.reason;
          opts.warn("ingest gave up; events remain on stdout only", { reason: d.reason, unsent: held() });
        }
      } else {
        if (status !== undefined) opts.warn("ingest pushed back; retrying", { status, delayMs: d.delayMs });
        b.state = "waiting";
        const t = setTimeout(() => {
          timers.delete(t);
          b.state = "ready";
          pump();
        }, d.delayMs);
        timers.add(t);
      }
    }
    changed();
    pump();
  }

  /** Starts every send the window allows now. */
  function pump(): void {
    if (gaveUp || stopped) return;
    for (const b of window) if (b.state === "ready") void send(b);
    for (;;) {
      const n = nextBatchSize(window, queue, { batchLines: opts.batchLines, maxInFlight });
      if (n === 0) return;
      const lines = queue.slice(0, n);
      queue = queue.slice(n);
      const b: Batch = { lines, control: lines.some(isControl), state: "sending", failures: 0 };
      window.push(b);
      void send(b);
    }
  }

  return {
    push(e) {
      if (gaveUp || stopped) return;
      queue.push(e);
      pump();
    },
    hasRoom: () => gaveUp !== undefined || held() < opts.bufferLines,
    waitForRoom: () =>
      gaveUp !== undefined || held() <= lowWater
        ? Promise.resolve()
        : new Promise((r) => roomWaiters.push(r)),
    async flush(ms) {
      const deadline = Date.now() + ms;
      while (held() > 0 && !gaveUp && Date.now() < deadline) {
        pump();
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((r) => {
          changeWaiters.push(r);
          timer = setTimeout(r, deadline - Date.now());
        });
        clearTimeout(timer);
      }
      if (held() > 0 && !gaveUp) {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        changed();
        return { unsent: held(), gaveUp: "flush deadline passed" };
      }
      return { unsent: gaveUp ? held() : 0, ...(gaveUp ? { gaveUp } : {}) };
    },
  };
}
