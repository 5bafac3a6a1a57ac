// One LISTEN connection per process for live step output: followers subscribe to an order and
// are told which (job, seq range) just committed; they read those rows themselves. Reconnects
// with backoff when Postgres goes away (followers then catch up from their own cursor).
import type pg from "pg";
import type { Logger } from "pino";
import type { Db } from "./db.ts";
import { STEP_OUTPUT_CHANNEL, type StepOutputNotice } from "./step-output.ts";

export type LogListener = {
  /** Calls `fn` for every committed batch of the order; returns the unsubscribe function. */
  subscribe(ns: string, order: string, fn: (n: StepOutputNotice) => void): Promise<() => void>;
  close(): Promise<void>;
};

export function createLogListener(db: Db, log: Logger): LogListener {
  const subs = new Map<string, Set<(n: StepOutputNotice) => void>>();
  let client: pg.PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let backoffMs = 100;

  const keyOf = (ns: string, order: string) => `${ns}/${order}`;

  const onNotification = (m: pg.Notification) => {
    if (m.channel !== STEP_OUTPUT_CHANNEL || !m.payload) return;
    let n: StepOutputNotice;
    try {
      n = JSON.parse(m.payload) as StepOutputNotice;
    } catch (err) {
      log.warn({ err }, "unparsable step output notice");
      return;
    }
    for (const fn of subs.get(keyOf(n.ns, n.order)) ?? []) fn(n);
  };

  const resyncAll = () => {
    for (const [k, fns] of subs) {
      const i = k.indexOf("/");
      const n: StepOutputNotice = {
        ns: k.slice(0, i),
        order: k.slice(i + 1),
        job: "",
        minSeq: 0,
        maxSeq: Number.MAX_SAFE_INTEGER,
        resync: true,
      };
      for (const fn of fns) fn(n);
    }
  };

  const connect = async (): Promise<void> => {
    while (!closed) {
      try {
        const c = await db.connect();
        c.on("notification", onNotification);
        c.on("error", (err) => {
          log.warn({ err }, "step output listener lost its connection; reconnecting");
          c.removeListener("notification", onNotification);
          c.release(err);
          if (client === c) client = undefined;
          if (!closed && subs.size > 0) {
            // NOTIFYs sent while nobody listened are gone: once listening again, every follower
            // re-reads its order (it drops what it already sent).
            connecting ??= connect()
              .then(resyncAll)
              .finally(() => {
                connecting = undefined;
              });
          }
        });
        await c.query(`LISTEN ${STEP_OUTPUT_CHANNEL}`);
        client = c;
        backoffMs = 100;
        return;
      } catch (err) {
        log.warn({ err, backoffMs }, "step output listener cannot connect; retrying");
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  };

  return {
    async subscribe(ns, order, fn) {
      const k = keyOf(ns, order);
      const set = subs.get(k) ?? new Set();
      set.add(fn);
      subs.set(k, set);
      if (!client) {
        connecting ??= connect().finally(() => {
          connecting = undefined;
        });
        await connecting;
      }
      return () => {
        set.delete(fn);
        if (set.size === 0) subs.delete(k);
      };
    },
    async close() {
      closed = true;
      subs.clear();
      const c = client;
      client = undefined;
      if (c) {
        c.removeListener("notification", onNotification);
        await c.query(`UNLISTEN ${STEP_OUTPUT_CHANNEL}`).catch(() => undefined);
        c.release();
      }
    },
  };
}
