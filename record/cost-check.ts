// Cost inputs and the daily threshold check (I/O around record/cost.ts). Orders come from the
// mirrored `orders` table (Provision orders that were provisioned), prices from the AssetTypes
// in the API server (today's price; price history is not kept: see record/README.md).
import * as k8s from "@kubernetes/client-node";
import { Cron } from "croner";
import type { Logger } from "pino";
import { AssetTypeResource, type AssetType } from "../crds/generated/assettype.ts";
import { appendAudit } from "./audit.ts";
import { translatePgError, withTransaction, type Db, type Queryable } from "./db.ts";
import {
  checkThresholds,
  DEFAULT_TIME_ZONE,
  monthOf,
  type AssetCost,
  type HeldOrder,
  type Threshold,
  type ThresholdFinding,
} from "./cost.ts";
import type { NotificationChannel } from "./notify.ts";

export async function loadAssetTypeCosts(
  kc: k8s.KubeConfig,
  namespace: string,
): Promise<Map<string, AssetCost>> {
  const r = (await kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
    group: AssetTypeResource.group,
    version: AssetTypeResource.version,
    namespace,
    plural: AssetTypeResource.plural,
  })) as { items: AssetType[] };
  const m = new Map<string, AssetCost>();
  for (const a of r.items) {
    const c = a.spec.cost;
    if (a.metadata?.name && c)
      m.set(a.metadata.name, {
        amountPerMonth: c.amountPerMonth,
        currency: c.currency,
        costCenter: c.costCenter,
      });
  }
  return m;
}

/** Provision orders held at some time in [from, to). */
export async function loadHeldOrders(
  q: Queryable,
  namespace: string,
  from: Date,
  to: Date,
): Promise<HeldOrder[]> {
  const r = await q
    .query<{
      name: string;
      asset_type: string;
      requester_email: string | null;
      requester_id: string | null;
      provisioned_at: Date;
      revoked_at: Date | null;
    }>(
      `SELECT name, asset_type, requester_email, requester_id, provisioned_at, revoked_at FROM orders
        WHERE namespace = $1 AND action = 'Provision' AND provisioned_at IS NOT NULL
          AND provisioned_at < $3 AND (revoked_at IS NULL OR revoked_at > $2)
        ORDER BY name`,
      [namespace, from, to],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading held orders");
    });
  return r.rows.map((x) => ({
    name: x.name,
    assetType: x.asset_type,
    user: x.requester_email ?? x.requester_id ?? "unknown",
    provisionedAt: x.provisioned_at,
    revokedAt: x.revoked_at,
  }));
}

export async function listCostThresholds(q: Queryable): Promise<Threshold[]> {
  const r = await q.query<{ cost_center: string; amount: string; currency: string }>(
    "SELECT cost_center, amount::text AS amount, currency FROM cost_thresholds ORDER BY cost_center",
  );
  return r.rows.map((x) => ({ costCenter: x.cost_center, amount: x.amount, currency: x.currency }));
}

/** Sets (or replaces) a cost centre's monthly threshold; audited. */
export async function setCostThreshold(
  db: Db,
  t: Threshold & { actor: string; source: string; requestId?: string },
): Promise<void> {
  await withTransaction(db, async (c) => {
    const before = await c.query<{ amount: string; currency: string }>(
      "SELECT amount::text AS amount, currency FROM cost_thresholds WHERE cost_center = $1",
      [t.costCenter],
    );
    await c.query(
      `INSERT INTO cost_thresholds (cost_center, amount, currency, updated_by, updated_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (cost_center) DO UPDATE SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
         updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [t.costCenter, t.amount, t.currency, t.actor],
    );
    await appendAudit(c, {
      actor: t.actor,
      action: "cost_threshold_set",
      target: `costcenter:${t.costCenter}`,
      source: t.source,
      ...(t.requestId ? { requestId: t.requestId } : {}),
      data: { before: before.rows[0] ?? null, after: { amount: t.amount, currency: t.currency } },
    });
  });
}

export type CostCheckDeps = {
  db: Db;
  kc: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  channels: readonly NotificationChannel[];
  now: () => Date;
  timeZone?: string;
};

export type CostCheckResult = { findings: ThresholdFinding[]; raised: string[]; notified: string[] };

/**
 * Compares each cost centre's month-to-date and projected spend with its threshold. An alert is
 * raised at most once per cost centre per reporting day (primary key): an audit row in the same
 * transaction, then a Kubernetes Warning Event on the Namespace, then every channel. A failed
 * notification is retried by the next run of the same day (notified_at stays null).
 */
export async function runCostCheck(d: CostCheckDeps): Promise<CostCheckResult> {
  const tz = d.timeZone ?? DEFAULT_TIME_ZONE;
  const now = d.now();
  const thresholds = await listCostThresholds(d.db);
  if (thresholds.length === 0) return { findings: [], raised: [], notified: [] };
  const costs = await loadAssetTypeCosts(d.kc, d.namespace);
  // The whole current month: the projection needs every order held until its end.
  const month = monthOf(now, tz);
  const orders = await loadHeldOrders(d.db, d.namespace, month.start, month.end);
  const findings = checkThresholds(orders, costs, thresholds, now, tz);
  const raised: string[] = [];
  for (const f of findings.filter((x) => x.exceeded)) {
    const isNew = await withTransaction(d.db, async (c) => {
      const r = await c.query(
        `INSERT INTO cost_alerts (cost_center, day, currency, threshold, month_to_date, projected)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cost_center, day) DO NOTHING RETURNING cost_center`,
        [f.costCenter, f.day, f.currency, f.threshold, f.monthToDate, f.projected],
      );
      if (r.rowCount === 0) return false;
      await appendAudit(c, {
        actor: "system:operator",
        action: "cost_threshold_exceeded",
        target: `costcenter:${f.costCenter}`,
        source: "operator",
        data: { ...f },
      });
      return true;
    });
    if (!isNew) continue;
    raised.push(f.costCenter);
    await emitEvent(d, f).catch((err: unknown) =>
      d.log.warn({ err, costCenter: f.costCenter }, "cost alert event failed"),
    );
  }
  const notified = await notifyPending(d, tz, findings);
  return { findings, raised, notified };
}

function alertMessage(
  f: Pick<ThresholdFinding, "costCenter" | "monthToDate" | "projected" | "threshold" | "currency" | "month">,
) {
  return `cost centre ${f.costCenter}: month-to-date ${f.monthToDate} ${f.currency}, projected ${f.projected} ${f.currency}, threshold ${f.threshold} ${f.currency} (${f.month})`;
}

/** A Warning Event on the product's Namespace object, reason CostThresholdExceeded. */
async function emitEvent(d: CostCheckDeps, f: ThresholdFinding): Promise<void> {
  const now = d.now();
  await d.kc.makeApiClient(k8s.CoreV1Api).createNamespacedEvent({
    namespace: d.namespace,
    body: {
      metadata: { generateName: "ipsolis-cost-", namespace: d.namespace },
      // The API server wants involvedObject.namespace equal to the Event's, even for a Namespace.
      involvedObject: { apiVersion: "v1", kind: "Namespace", name: d.namespace, namespace: d.namespace },
      type: "Warning",
      reason: "CostThresholdExceeded",
      message: alertMessage(f),
      source: { component: "ipsolis-cost" },
      reportingComponent: "ipsolis-cost",
      reportingInstance: "ipsolis-operator",
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}

/**
 * Sends today's alerts not yet delivered; marks them delivered only when every channel took them.
 * Each alert is claimed with FOR UPDATE SKIP LOCKED for the duration of its sends: two replicas
 * running the check at once never both notify, and a failed send rolls back (retried next run).
 */
async function notifyPending(d: CostCheckDeps, tz: string, findings: ThresholdFinding[]): Promise<string[]> {
  const day = findings[0]?.day;
  if (!day) return [];
  const done: string[] = [];
  let after = "";
  for (;;) {
    const claimed = await withTransaction(d.db, async (c) => {
      const r = await c.query<{
        cost_center: string;
        currency: string;
        threshold: string;
        month_to_date: string;
        projected: string;
      }>(
        `SELECT cost_center, currency, threshold::text, month_to_date::text, projected::text FROM cost_alerts
          WHERE day = $1 AND notified_at IS NULL AND cost_center > $2
          ORDER BY cost_center LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [day, after],
      );
      const a = r.rows[0];
      if (!a) return null;
      const f = {
        costCenter: a.cost_center,
        currency: a.currency,
        threshold: a.threshold,
        monthToDate: a.month_to_date,
        projected: a.projected,
        month: day.slice(0, 7),
      };
      let ok = true;
      for (const ch of d.channels) {
        try {
          await ch.send({
            kind: "cost_threshold_exceeded",
            summary: alertMessage(f),
            data: { ...f, day, timeZone: tz },
          });
        } catch (err) {
          ok = false;
          d.log.warn(
            { err, channel: ch.name, costCenter: f.costCenter },
            "cost alert notification failed; retried next run",
          );
        }
      }
      if (ok) {
        await c.query("UPDATE cost_alerts SET notified_at = now() WHERE cost_center = $1 AND day = $2", [
          a.cost_center,
          day,
        ]);
      }
      return { costCenter: a.cost_center, ok };
    });
    if (!claimed) break;
    after = claimed.costCenter;
    if (claimed.ok) done.push(claimed.costCenter);
  }
  return done;
}

export type CostScheduler = { stop(): void; nextRun(): Date | null };

/**
 * Runs runCostCheck on a cron schedule (default 06:00 Europe/Berlin daily). Started by the
 * operator process. Overlapping runs are skipped (croner `protect`).
 */
export function startCostScheduler(d: CostCheckDeps & { cron?: string }): CostScheduler {
  const job = new Cron(
    d.cron ?? "0 6 * * *",
    { timezone: d.timeZone ?? DEFAULT_TIME_ZONE, protect: true, name: "ipsolis-cost-check" },
    async () => {
      try {
        const r = await runCostCheck(d);
        d.log.info({ raised: r.raised, notified: r.notified }, "cost check done");
      } catch (err) {
        d.log.error({ err }, "cost check failed");
      }
    },
  );
  return { stop: () => job.stop(), nextRun: () => job.nextRun() };
}
