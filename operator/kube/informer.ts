// A watched cache of one resource in one namespace (client-node's ListWatch): the operator
// reads only from these, so the hot path makes no GET or LIST of its own. A broken watch is
// restarted with backoff; `synced` turns true after the first list.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../../record/log.ts";
import type { Rest } from "./rest.ts";

export type Cache<T> = { get(name: string): T | undefined; list(): readonly T[] };
export type Informer<T> = Cache<T> & {
  readonly synced: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
};

export type InformerOptions<T> = {
  kc: k8s.KubeConfig;
  rest: Rest;
  /** Collection path, e.g. /apis/batch/v1/namespaces/ns/jobs. */
  path: string;
  namespace: string;
  labelSelector?: string;
  log: Logger;
  /** Called after the cache changed (add, update, delete). */
  onChange: (obj: T, kind: "add" | "update" | "delete") => void;
};

export function makeInformer<T extends k8s.KubernetesObject>(opts: InformerOptions<T>): Informer<T> {
  const list = () =>
    opts.rest.call<k8s.KubernetesListObject<T>>({
      method: "GET",
      path: opts.path,
      query: { labelSelector: opts.labelSelector },
    });
  const lw = new k8s.ListWatch<T>(opts.path, new k8s.Watch(opts.kc), list, false, opts.labelSelector);
  let synced = false;
  let stopped = false;
  let failures = 0;
  lw.on("add", (o) => opts.onChange(o, "add"));
  lw.on("update", (o) => opts.onChange(o, "update"));
  lw.on("delete", (o) => opts.onChange(o, "delete"));
  lw.on("error", (err: unknown) => {
    // Before the first sync, start() retries by itself.
    if (stopped || !synced) return;
    failures++;
    const delay = Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
    opts.log.warn({ err, path: opts.path, retryInMs: delay }, "watch failed; restarting");
    setTimeout(() => {
      if (!stopped)
        void lw.start().then(
          () => (failures = 0),
          (e: unknown) => opts.log.warn({ err: e }, "watch restart failed"),
        );
    }, delay).unref();
  });
  return {
    get: (name) => lw.get(name, opts.namespace),
    list: () => lw.list(opts.namespace),
    get synced() {
      return synced;
    },
    async start() {
      stopped = false;
      for (let n = 0; !stopped; n++) {
        await lw.start();
        // ListWatch reports a failed first list on its error callback and returns: retry.
        if (lw.latestResourceVersion()) {
          synced = true;
          return;
        }
        opts.log.warn({ path: opts.path }, "initial list failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** n)));
      }
    },
    async stop() {
      stopped = true;
      await lw.stop();
    },
  };
}
