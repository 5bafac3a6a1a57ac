// The API process's notification work, started by the composition root (api/server.ts, or a
// test) and never at import: a watch on the namespace's Orders feeds `syncOrder` (requests to
// approvers, outcomes to requesters), and the outbox worker delivers what that wrote. A watch
// (re)started without a resourceVersion begins with every existing Order, so a restart or a
// dropped connection is a full level-triggered resync; the unique keys make it a no-op for
// what was sent already. Reminders, escalation and expiry are the CronJob's (api/notify/tick.ts).
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Db } from "../../record/db.ts";
import { makeResources } from "../plugins/resources.ts";
import { closeRequest, syncOrder, type NotifierDeps, type OrderCr } from "./approval-requests.ts";
import { startOutboxWorker } from "./outbox.ts";
import type { ApiMetrics } from "../metrics.ts";
import type { NotifySettings } from "./settings.ts";

export type NotifierOptions = {
  db: Db;
  kc: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  now: () => Date;
  settings: NotifySettings;
  linkSecret: string;
  publicUrl: string;
  /** Outbox polling interval (it is also woken whenever a sync wrote rows). */
  intervalMs?: number | undefined;
  backoff?: { baseMs: number; maxMs: number } | undefined;
  metrics?: Pick<ApiMetrics, "notifications"> | undefined;
};

export type Notifier = {
  /** Wakes the outbox worker now. */
  kick(): void;
  /** Resolves when every Order event seen so far has been synced. */
  idle(): Promise<void>;
  stop(): Promise<void>;
};

export function notifierDepsOf(
  o: Pick<NotifierOptions, "db" | "kc" | "namespace" | "log" | "now" | "settings">,
): NotifierDeps {
  return {
    db: o.db,
    res: makeResources(o.kc, o.namespace),
    log: o.log,
    now: o.now,
    channels: { configured: [...o.settings.channels.keys()], defaults: o.settings.defaults },
  };
}

export function startNotifier(o: NotifierOptions): Notifier {
  const log = o.log.child({ component: "notifier" });
  const deps = { ...notifierDepsOf(o), log };
  const worker = startOutboxWorker(
    {
      db: o.db,
      log,
      now: o.now,
      channels: o.settings.channels,
      linkSecret: o.linkSecret,
      publicUrl: o.publicUrl,
      backoff: o.backoff,
      metrics: o.metrics,
    },
    o.intervalMs ?? 5000,
  );
  // Latest observed state per Order name (null: deleted), drained one at a time.
  const pending = new Map<string, OrderCr | null>();
  let draining: Promise<void> | undefined;
  let stopped = false;
  const drain = async () => {
    while (pending.size > 0 && !stopped) {
      const [name, obj] = pending.entries().next().value as [string, OrderCr | null];
      pending.delete(name);
      try {
        const added =
          obj === null
            ? (await closeRequest(o.db, name, "withdrawn", o.now()), 0)
            : await syncOrder(deps, obj);
        if (added > 0) worker.kick();
      } catch (err) {
        // Level-triggered: the next event of this Order, a watch restart or the CronJob retries.
        log.warn({ err, order: name }, "notification sync failed; retried on the next event");
      }
    }
  };
  const schedule = () => {
    draining ??= drain().finally(() => {
      draining = undefined;
      if (pending.size > 0 && !stopped) schedule();
    });
  };

  const path = `/apis/ipsolis.io/v1alpha1/namespaces/${o.namespace}/orders`;
  const watch = new k8s.Watch(o.kc);
  let abort: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;
  const start = async () => {
    if (stopped) return;
    try {
      abort = await watch.watch(
        path,
        {},
        (type: string, obj: OrderCr) => {
          if (!obj?.metadata?.name) return;
          pending.set(obj.metadata.name, type === "DELETED" ? null : obj);
          schedule();
        },
        (err: unknown) => {
          if (stopped) return;
          if (err) log.warn({ err }, "order watch ended; restarting");
          retry = setTimeout(() => void start(), err ? 2000 : 200);
        },
      );
    } catch (err) {
      log.warn({ err }, "order watch failed to start; retrying");
      retry = setTimeout(() => void start(), 2000);
    }
  };
  void start();

  return {
    kick: () => worker.kick(),
    async idle() {
      while (draining || pending.size > 0) await (draining ?? Promise.resolve());
    },
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      abort?.abort();
      await draining;
      await worker.stop();
    },
  };
}
