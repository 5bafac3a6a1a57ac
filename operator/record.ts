// The record's parts that run in the operator process when IPSOLIS_DATABASE_URL is set: the
// migrations (retried in the background, so the operator reconciles even while Postgres is
// away), the order history mirror, the daily cost-threshold check and the audit anchors. Each
// tolerates Postgres going away; none of them blocks reconciling Orders.
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../record/log.ts";
import { createPool, type Db } from "../record/db.ts";
import { prepareSchema, SchemaBehindError, type MigrationMode } from "../record/migrate.ts";
import { startHistoryMirror, type HistoryMirror } from "../record/mirror.ts";
import { startCostScheduler, type CostScheduler } from "../record/cost-check.ts";
import { webhookChannel } from "../record/notify.ts";
import { startAnchorWriter, type AnchorWriter } from "../record/anchor.ts";

export type RecordConfig = {
  IPSOLIS_DATABASE_URL: string;
  IPSOLIS_COST_CHECK_CRON: string;
  IPSOLIS_COST_TIME_ZONE: string;
  IPSOLIS_COST_WEBHOOK_URL?: string | undefined;
  IPSOLIS_COST_WEBHOOK_SECRET?: string | undefined;
  IPSOLIS_AUDIT_ANCHOR_SECONDS: number;
  IPSOLIS_MIGRATE_DATABASE_URL?: string | undefined;
  IPSOLIS_MIGRATIONS?: MigrationMode | undefined;
};

export type OperatorRecord = {
  readonly db: Db;
  /** Resolves once the migrations are applied (they are retried until Postgres answers). */
  readonly migrated: Promise<void>;
  readonly mirror: HistoryMirror;
  readonly anchors: AnchorWriter | undefined;
  stop(): Promise<void>;
};

export async function startRecord(d: {
  config: RecordConfig;
  kc: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  isLeader: () => boolean;
  now: () => Date;
}): Promise<OperatorRecord> {
  const log = d.log.child({ component: "record" });
  const c = d.config;
  const db = createPool(c.IPSOLIS_DATABASE_URL, { max: 5, applicationName: "ipsolis-operator" });
  let stopped = false;
  const schema = {
    mode: c.IPSOLIS_MIGRATIONS ?? "apply",
    url: c.IPSOLIS_DATABASE_URL,
    migrateUrl: c.IPSOLIS_MIGRATE_DATABASE_URL,
  } as const;
  // In `check` mode startOperator has already refused a schema that is behind; an unreachable
  // Postgres is checked again here, with the same backoff as migrating.
  const migrated = (async () => {
    for (let n = 0; !stopped; n++) {
      try {
        const r = await prepareSchema(schema);
        if (r.applied.length > 0) log.info({ applied: r.applied }, "migrations applied");
        return;
      } catch (err) {
        const delay = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
        if (err instanceof SchemaBehindError) log.error({ err, retryInMs: delay }, err.message);
        else log.warn({ err, retryInMs: delay }, "migrations not applied (is Postgres up?); retrying");
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  })();
  // The mirror starts at once: while the tables are missing or Postgres is away it holds rows
  // in memory and retries, so nothing the operator does meanwhile is lost.
  const mirror = await startHistoryMirror({ kc: d.kc, namespace: d.namespace, db, log, now: d.now });
  const channels =
    c.IPSOLIS_COST_WEBHOOK_URL && c.IPSOLIS_COST_WEBHOOK_SECRET
      ? [
          webhookChannel({
            url: c.IPSOLIS_COST_WEBHOOK_URL,
            secret: c.IPSOLIS_COST_WEBHOOK_SECRET,
            now: d.now,
          }),
        ]
      : [];
  // Safe on every replica: each alert is claimed once per cost centre and day (record/cost-check.ts).
  const cost: CostScheduler = startCostScheduler({
    db,
    kc: d.kc,
    namespace: d.namespace,
    log,
    channels,
    now: d.now,
    cron: c.IPSOLIS_COST_CHECK_CRON,
    timeZone: c.IPSOLIS_COST_TIME_ZONE,
  });
  const anchors =
    c.IPSOLIS_AUDIT_ANCHOR_SECONDS > 0
      ? startAnchorWriter({
          db,
          kc: d.kc,
          namespace: d.namespace,
          log,
          intervalMs: c.IPSOLIS_AUDIT_ANCHOR_SECONDS * 1000,
          active: d.isLeader,
          now: d.now,
        })
      : undefined;
  log.info(
    {
      costCheck: c.IPSOLIS_COST_CHECK_CRON,
      timeZone: c.IPSOLIS_COST_TIME_ZONE,
      next: cost.nextRun(),
      channels: channels.map((x) => x.name),
    },
    "record started: history mirror, cost check, audit anchors",
  );
  return {
    db,
    migrated,
    mirror,
    anchors,
    async stop() {
      stopped = true;
      anchors?.stop();
      cost.stop();
      await mirror.stop();
      // A migration loop waiting out a Postgres outage is not waited for (its backoff may be
      // 30 s; the pod's grace period is too): it stops at its next turn.
      await Promise.race([migrated, new Promise((r) => setTimeout(r, 1000).unref())]);
      await db.end();
    },
  };
}
