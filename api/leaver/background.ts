// Fan-outs run after the reporting request has answered (a webhook must not wait for 500
// creates), and a periodic tick runs events whose effective date has arrived or whose process
// died mid-way (the event is in Postgres, so a restart loses nothing). Both are tracked per app
// so closing the app waits for them.
import { processDueLeavers, processLeaver, type LeaverDeps } from "./fanout.ts";

const inflight = new WeakMap<LeaverDeps, Set<Promise<unknown>>>();

function track(deps: LeaverDeps, p: Promise<unknown>): void {
  let set = inflight.get(deps);
  if (!set) {
    set = new Set();
    inflight.set(deps, set);
  }
  const s = set;
  const done = p.finally(() => s.delete(done));
  s.add(done);
}

/** Starts the fan-out of an event in the background; failures are logged and the tick retries. */
export function startFanout(deps: LeaverDeps, eventId: string): void {
  track(
    deps,
    processLeaver(deps, eventId).catch((err: unknown) => {
      deps.log.warn({ err, leaverEvent: eventId }, "leaver fan-out failed; the scheduler retries it");
    }),
  );
}

/** Waits for every background fan-out of this app (tests, and shutdown). */
export async function drainFanouts(deps: LeaverDeps): Promise<void> {
  for (;;) {
    const set = inflight.get(deps);
    if (!set || set.size === 0) return;
    await Promise.allSettled([...set]);
  }
}

/** Runs due leaver events every `everyMs`; returns the stop function. */
export function startLeaverScheduler(deps: LeaverDeps, everyMs: number): () => Promise<void> {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    const p = processDueLeavers(deps)
      .catch((err: unknown) => deps.log.warn({ err }, "leaver scheduler tick failed"))
      .finally(() => (running = false));
    track(deps, p);
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await drainFanouts(deps);
  };
}
