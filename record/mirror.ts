// The order history mirror: watches Orders in the API server and writes `orders`,
// `order_phases`, `order_approvals`, `step_runs` and an audit row per transition / approval.
// Started in the operator process: `await startHistoryMirror({ kc, namespace, db, log })`.
//
// Never loses history while the process runs: rows derived from every watch event wait in
// memory until written; while Postgres is down the operator keeps working and the mirror keeps
// buffering and retrying with backoff; when Postgres is back it relists Orders from the API
// server and writes whatever is missing. Every write is keyed (see mirror-rows.ts), so replays
// and relists write nothing twice.
import * as k8s from "@kubernetes/client-node";
import type pg from "pg";
import type { Logger } from "pino";
import { OrderResource, type Order } from "../crds/generated/order.ts";
import { appendAudit, decisionRecorded, jsonWithoutNul, lockOrderDecisions, withoutNul } from "./audit.ts";
import { withTransaction, type Db } from "./db.ts";
import { historyRowsOf, mergeRows, phaseAction, type HistoryRows } from "./mirror-rows.ts";

export type HistoryMirror = {
  /** Resolves when the informer has synced and nothing is waiting to be written. */
  whenIdle(timeoutMs?: number): Promise<void>;
  stats(): MirrorStats;
  stop(): Promise<void>;
};

export type MirrorStats = {
  synced: boolean;
  /** Orders with rows waiting to be written. */
  pending: number;
  /** Consecutive failed write rounds (0 when Postgres is healthy). */
  failures: number;
  writtenPhases: number;
  relists: number;
};

export type MirrorOptions = {
  kc: k8s.KubeConfig;
  namespace: string;
  db: Db;
  log: Logger;
  now?: () => Date;
};

const MAX_BACKOFF_MS = 5000;

export async function startHistoryMirror(opts: MirrorOptions): Promise<HistoryMirror> {
  const now = opts.now ?? (() => new Date());
  const log = opts.log.child({ component: "history-mirror" });
  const path = `/apis/${OrderResource.group}/${OrderResource.version}/namespaces/${opts.namespace}/${OrderResource.plural}`;
  const custom = opts.kc.makeApiClient(k8s.CustomObjectsApi);
  const list = async (): Promise<k8s.KubernetesListObject<Order & k8s.KubernetesObject>> =>
    (await custom.listNamespacedCustomObject({
      group: OrderResource.group,
      version: OrderResource.version,
      namespace: opts.namespace,
      plural: OrderResource.plural,
    })) as k8s.KubernetesListObject<Order & k8s.KubernetesObject>;

  const pending = new Map<string, HistoryRows>();
  const deletions = new Map<string, string>();
  let stopped = false;
  let synced = false;
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let writtenPhases = 0;
  let relists = 0;
  let needsRelist = false;
  const idleWaiters: (() => void)[] = [];

  const enqueue = (o: Order, deleted: boolean) => {
    const rows = historyRowsOf(o, now());
    if (!rows) return;
    pending.set(rows.order.uid, mergeRows(pending.get(rows.order.uid), rows));
    if (deleted) deletions.set(rows.order.uid, now().toISOString());
    kick();
  };

  const isIdle = () => synced && pending.size === 0 && deletions.size === 0 && !flushing;
  const notifyIdle = () => {
    if (!isIdle()) return;
    for (const w of idleWaiters.splice(0)) w();
  };

  const kick = () => {
    if (stopped || flushing || retryTimer) return;
    flushing = flush().finally(() => {
      flushing = undefined;
      if (pending.size > 0 || deletions.size > 0) kick();
      else notifyIdle();
    });
  };

  const flush = async () => {
    while (!stopped && (pending.size > 0 || deletions.size > 0)) {
      const [uid, rows] = pending.entries().next().value ?? [undefined, undefined];
      const key = uid ?? deletions.keys().next().value;
      if (key === undefined) return;
      const deletedAt = deletions.get(key);
      pending.delete(key);
      deletions.delete(key);
      try {
        await writeOrder(opts.db, rows, key, deletedAt, (n) => (writtenPhases += n));
      } catch (err) {
        // Put it back (rows that arrived meanwhile are newer and win) and retry later.
        if (rows) pending.set(key, mergeRows(rows, pending.get(key) ?? rows));
        if (deletedAt && !deletions.has(key)) deletions.set(key, deletedAt);
        failures++;
        needsRelist = true;
        const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 6));
        log.warn(
          { err, order: rows?.order.name, retryInMs: delay, failures },
          "history mirror write failed; will retry",
        );
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          kick();
        }, delay);
        return;
      }
      if (failures > 0) log.info({ failures }, "history mirror writing again");
      failures = 0;
      if (needsRelist) {
        // The record was away: whatever the watch may have missed comes back with a fresh list.
        needsRelist = false;
        await relist();
      }
    }
  };

  const relist = async () => {
    try {
      const l = await list();
      relists++;
      for (const o of l.items) enqueue(o, false);
    } catch (err) {
      log.warn({ err }, "history mirror relist failed; the watch cache still has every Order");
      for (const o of lw.list(opts.namespace)) enqueue(o, false);
    }
  };

  const lw = new k8s.ListWatch<Order & k8s.KubernetesObject>(path, new k8s.Watch(opts.kc), list, false);
  lw.on("add", (o) => enqueue(o, false));
  lw.on("update", (o) => enqueue(o, false));
  lw.on("delete", (o) => enqueue(o, true));
  let watchFailures = 0;
  lw.on("error", (err: unknown) => {
    if (stopped || !synced) return;
    watchFailures++;
    const delay = Math.min(30_000, 200 * 2 ** Math.min(watchFailures, 8));
    log.warn({ err, retryInMs: delay }, "order watch failed; restarting");
    setTimeout(() => {
      if (!stopped)
        void lw.start().then(
          () => (watchFailures = 0),
          (e: unknown) => log.warn({ err: e }, "order watch restart failed"),
        );
    }, delay).unref();
  });
  for (let n = 0; !stopped; n++) {
    await lw.start();
    if (lw.latestResourceVersion()) break;
    log.warn({ path }, "initial order list failed; retrying");
    await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** n)));
  }
  synced = true;
  kick();

  return {
    stats: () => ({ synced, pending: pending.size + deletions.size, failures, writtenPhases, relists }),
    whenIdle(timeoutMs = 30_000) {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`history mirror not idle after ${timeoutMs} ms`)),
          timeoutMs,
        );
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await lw.stop();
      await flushing;
    },
  };
}

/** One Order's rows in one transaction; audit rows only for phase/approval rows that are new. */
async function writeOrder(
  db: Db,
  rows: HistoryRows | undefined,
  uid: string,
  deletedAt: string | undefined,
  countPhases: (n: number) => void,
): Promise<void> {
  await withTransaction(db, async (client) => {
    // Postgres text refuses U+0000, which an Order's strings may carry (valid JSON): replaced
    // (withoutNul), or this order's write would fail and be retried forever.
    const c = {
      query: <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
        client.query<R>(
          text,
          values.map((v) => (typeof v === "string" ? withoutNul(v) : v)),
        ),
    };
    let inserted = 0;
    if (rows) {
      const o = rows.order;
      await c.query(
        `INSERT INTO orders (uid, namespace, name, asset_type, action, target, requester_id, requester_email,
                             phase, attempt, job_name, provisioned_at, revoked_at, created_at, resource_version,
                             spec, status, mirrored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, now())
         ON CONFLICT (uid) DO UPDATE SET
           asset_type = EXCLUDED.asset_type, action = EXCLUDED.action, target = EXCLUDED.target,
           requester_id = EXCLUDED.requester_id, requester_email = EXCLUDED.requester_email,
           phase = EXCLUDED.phase, attempt = EXCLUDED.attempt, job_name = EXCLUDED.job_name,
           provisioned_at = EXCLUDED.provisioned_at, revoked_at = EXCLUDED.revoked_at,
           resource_version = EXCLUDED.resource_version, spec = EXCLUDED.spec, status = EXCLUDED.status,
           mirrored_at = now()
         WHERE orders.resource_version IS NULL OR EXCLUDED.resource_version IS NULL
            OR orders.resource_version !~ '^[0-9]+$' OR EXCLUDED.resource_version !~ '^[0-9]+$'
            OR EXCLUDED.resource_version::numeric >= orders.resource_version::numeric`,
        [
          o.uid,
          o.namespace,
          o.name,
          o.assetType,
          o.action,
          o.target,
          o.requesterId,
          o.requesterEmail,
          o.phase,
          o.attempt,
          o.jobName,
          o.provisionedAt,
          o.revokedAt,
          o.createdAt,
          o.resourceVersion,
          jsonWithoutNul(o.spec),
          jsonWithoutNul(o.status),
        ],
      );
      // Before any audit append (the chain lock): the API takes the two in the same order.
      if (rows.approvals.length > 0) await lockOrderDecisions(client, o.name);
      const target = `order:${o.name}`;
      for (const p of [...rows.phases].sort((a, b) => a.at.localeCompare(b.at))) {
        const r = await c.query(
          `INSERT INTO order_phases (order_uid, phase, attempt, at, job_name, message)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING phase`,
          [uid, p.phase, p.attempt, p.at, p.jobName, p.message],
        );
        if (r.rowCount === 0) continue;
        inserted++;
        await appendAudit(client, {
          actor: "system:operator",
          action: phaseAction(p.phase),
          target,
          order: o.name,
          source: "operator",
          data: { uid, phase: p.phase, attempt: p.attempt, at: p.at, jobName: p.jobName, message: p.message },
        });
      }
      for (const a of rows.approvals) {
        const r = await c.query(
          `INSERT INTO order_approvals (order_uid, approver, decision, at, comment)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING approver`,
          [uid, a.approver, a.decision, a.at, a.comment],
        );
        if (r.rowCount === 0) continue;
        // The API recorded the decision it made (under the decision lock taken above); a row
        // from here only stands in for one the API could not write.
        const action = a.decision === "Approved" ? "order_approved" : "order_declined";
        if (await decisionRecorded(client, { order: o.name, action, approver: a.approver, at: a.at }))
          continue;
        await appendAudit(client, {
          actor: `user:${a.approver}`,
          action,
          target,
          order: o.name,
          source: "operator",
          data: { uid, decision: a.decision, at: a.at, comment: a.comment },
        });
      }
      for (const s of rows.steps) {
        await c.query(
          `INSERT INTO step_runs (order_uid, attempt, step, state, attempts, started_at, finished_at, exit_code, message)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (order_uid, attempt, step) DO UPDATE SET
             state = EXCLUDED.state, attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
             finished_at = EXCLUDED.finished_at, exit_code = EXCLUDED.exit_code, message = EXCLUDED.message`,
          [uid, s.attempt, s.step, s.state, s.attempts, s.startedAt, s.finishedAt, s.exitCode, s.message],
        );
      }
    }
    if (deletedAt) {
      const r = await c.query<{ name: string }>(
        "UPDATE orders SET deleted_at = $2 WHERE uid = $1 AND deleted_at IS NULL RETURNING name",
        [uid, deletedAt],
      );
      const name = r.rows[0]?.name;
      if (name) {
        await appendAudit(client, {
          actor: "system:operator",
          action: "order_deleted",
          target: `order:${name}`,
          order: name,
          source: "operator",
          data: { uid },
        });
      }
    }
    countPhases(inserted);
  });
}
