// The informer's rate-limited key queue (as in controller-runtime): the Kubernetes objects are
// the work; this only remembers which keys need a look. A key is queued once however often it
// is added, never processed by two workers at once, re-run if it was added while running, and
// retried with per-key exponential backoff when its handler throws.
export type WorkQueue = {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
  /** Starts (or resumes) handing keys to workers. */
  start(): void;
  /** Stops handing out keys (keys added meanwhile wait); resolves when running handlers finish. */
  pause(): Promise<void>;
  /** Stops taking keys; resolves when the running handlers finish. */
  stop(): Promise<void>;
  readonly length: number;
};

export type QueueOptions = {
  concurrency: number;
  handler: (key: string) => Promise<void>;
  onError: (key: string, err: unknown, retryInMs: number) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
};

export function makeWorkQueue(opts: QueueOptions): WorkQueue {
  const base = opts.baseDelayMs ?? 20;
  const max = opts.maxDelayMs ?? 60_000;
  const queue: string[] = [];
  const queued = new Set<string>();
  const running = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  let active = 0;
  let started = false;
  let stopped = false;
  let idle: (() => void) | undefined;

  const pump = () => {
    while (started && !stopped && active < opts.concurrency && queue.length > 0) {
      const key = queue.shift()!;
      queued.delete(key);
      running.add(key);
      active++;
      void opts
        .handler(key)
        .then(
          () => failures.delete(key),
          (err: unknown) => {
            const n = (failures.get(key) ?? 0) + 1;
            failures.set(key, n);
            const delay = Math.min(max, base * 2 ** Math.min(n, 20));
            opts.onError(key, err, delay);
            q.addAfter(key, delay);
          },
        )
        .finally(() => {
          running.delete(key);
          active--;
          if (dirty.delete(key)) q.add(key);
          if (active === 0 && idle) {
            idle();
            idle = undefined;
          }
          pump();
        });
    }
  };

  const q: WorkQueue = {
    add(key) {
      if (stopped) return;
      if (running.has(key)) {
        dirty.add(key);
        return;
      }
      if (queued.has(key)) return;
      queued.add(key);
      queue.push(key);
      pump();
    },
    addAfter(key, ms) {
      if (stopped || timers.has(key)) return;
      const t = setTimeout(() => {
        timers.delete(key);
        q.add(key);
      }, ms);
      t.unref();
      timers.set(key, t);
    },
    start() {
      started = true;
      pump();
    },
    async pause() {
      started = false;
      if (active > 0) await new Promise<void>((r) => (idle = r));
    },
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      queue.length = 0;
      queued.clear();
      if (active > 0) await new Promise<void>((r) => (idle = r));
    },
    get length() {
      return queue.length;
    },
  };
  return q;
}
