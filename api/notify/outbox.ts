// The notification outbox (migration 0400): `enqueue` writes rows inside the caller's
// transaction (the event that causes a message and the message commit together); the worker
// delivers due rows one at a time under `FOR UPDATE SKIP LOCKED`, so two API replicas never
// take the same row, and a row is marked sent in the same transaction that locked it. While a
// channel is down (SMTP away) rows wait with exponential backoff and go out when it returns;
// after `giveUpAfterMs` (or a permanent refusal) a row fails. Each delivery and each final
// failure is an audit row naming recipient, channel and event: never the link or a secret.
import type { ApiMetrics } from "../metrics.ts";
import type { Logger } from "pino";
import { appendAudit } from "../../record/audit.ts";
import { withTransaction, type Db, type Queryable } from "../../record/db.ts";
import { signApprovalLink } from "../routes/approvals/links.ts";
import { DeliveryError, type Channel, type ChannelName } from "./channels.ts";
import { renderMessage, type Lang, type MessageData, type NotificationKind } from "./templates.ts";

export const NOTIFY_ACTOR = "system:notifications";

/** A system-minted approval link, stored as its claims (signed into a URL only at delivery). */
export type LinkClaims = { order: string; approver: string; expiresAt: string; id: string; issuer: string };

export type NewNotification = {
  eventKey: string;
  kind: NotificationKind;
  recipient: string;
  channels: readonly ChannelName[];
  lang: Lang;
  data: MessageData;
  link?: LinkClaims | undefined;
};

/** Writes outbox rows (one per channel); a row that exists already is left alone (sent once). */
export async function enqueue(q: Queryable, n: NewNotification, now: Date): Promise<number> {
  let added = 0;
  for (const channel of n.channels) {
    const r = await q.query(
      `INSERT INTO notification_outbox (event_key, kind, recipient, channel, payload, next_attempt_at, created_at)
       VALUES ($1, $2, lower($3), $4, $5::jsonb, $6, $6)
       ON CONFLICT (event_key, recipient, channel) DO NOTHING`,
      [
        n.eventKey,
        n.kind,
        n.recipient,
        channel,
        JSON.stringify({ lang: n.lang, data: n.data, link: n.link }),
        now,
      ],
    );
    added += r.rowCount ?? 0;
  }
  return added;
}

export type OutboxDeps = {
  db: Db;
  log: Logger;
  now: () => Date;
  channels: ReadonlyMap<ChannelName, Channel>;
  linkSecret: string;
  publicUrl: string;
  backoff?: { baseMs: number; maxMs: number } | undefined;
  giveUpAfterMs?: number | undefined;
  /** Counts deliveries by channel and result (the API's /metrics); absent in the CronJob. */
  metrics?: Pick<ApiMetrics, "notifications"> | undefined;
};

/** Backoff after the n-th failed attempt: base · 2^(n−1), capped. */
export function backoffMs(attempts: number, b: { baseMs: number; maxMs: number }): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
}

type Row = {
  id: string;
  event_key: string;
  kind: NotificationKind;
  recipient: string;
  channel: ChannelName;
  payload: { lang: Lang; data: MessageData; link?: LinkClaims };
  attempts: number;
  created_at: Date;
};

/** Error texts go to the record: no URLs in them (a Teams or webhook URL is a secret). */
const scrub = (s: string) => s.replace(/https?:\/\/\S+/g, "[url]").slice(0, 500);

/**
 * Delivers due rows until none is left (or `max`); returns how many it sent. Safe to run in
 * every replica at once.
 */
export async function deliverDue(
  d: OutboxDeps,
  max = 100,
): Promise<{ sent: number; failed: number; retried: number }> {
  const out = { sent: 0, failed: 0, retried: 0 };
  const b = d.backoff ?? { baseMs: 5_000, maxMs: 300_000 };
  const giveUp = d.giveUpAfterMs ?? 72 * 3600_000;
  const skipped: string[] = [];
  for (let i = 0; i < max; i++) {
    const now = d.now();
    const done = await withTransaction(d.db, async (c) => {
      const r = await c.query<Row>(
        `SELECT id::text AS id, event_key, kind, recipient, channel, payload, attempts, created_at
           FROM notification_outbox
          WHERE state = 'pending' AND next_attempt_at <= $1 AND NOT (id::text = ANY($2))
          ORDER BY next_attempt_at, id
          FOR UPDATE SKIP LOCKED LIMIT 1`,
        [now, skipped],
      );
      const row = r.rows[0];
      if (!row) return false;
      const channel = d.channels.get(row.channel);
      const order = row.payload.data.order;
      const audit = (action: string, extra: Record<string, unknown>) =>
        appendAudit(c, {
          actor: NOTIFY_ACTOR,
          action,
          ...(order ? { target: `order:${order}`, order } : { target: `notification:${row.id}` }),
          source: "api",
          data: {
            recipient: row.recipient,
            channel: row.channel,
            event: row.kind,
            eventKey: row.event_key,
            ...extra,
          },
        });
      if (!channel) {
        // Configured away since it was queued: a final failure, recorded.
        await c.query(
          "UPDATE notification_outbox SET state = 'failed', last_error = $2, attempts = attempts + 1 WHERE id = $1",
          [row.id, "channel not configured"],
        );
        await audit("notification_failed", { attempts: row.attempts + 1, error: "channel not configured" });
        d.metrics?.notifications.inc({ channel: row.channel, result: "failed" });
        out.failed++;
        return true;
      }
      const link = row.payload.link
        ? new URL(
            `/approve/${signApprovalLink(d.linkSecret, { ...row.payload.link, expiresAt: new Date(row.payload.link.expiresAt) })}`,
            d.publicUrl,
          ).toString()
        : undefined;
      const message = renderMessage(row.kind, row.payload.data, row.payload.lang, link, d.publicUrl);
      try {
        await channel.deliver({
          id: `msg_${row.id}`,
          kind: row.kind,
          to: row.recipient,
          message,
          data: { ...row.payload.data },
          at: now,
        });
      } catch (err) {
        const attempts = row.attempts + 1;
        const permanent = err instanceof DeliveryError && err.permanent;
        const error = scrub(err instanceof Error ? err.message : String(err));
        if (permanent || now.getTime() - row.created_at.getTime() >= giveUp) {
          await c.query(
            "UPDATE notification_outbox SET state = 'failed', attempts = $2, last_error = $3 WHERE id = $1",
            [row.id, attempts, error],
          );
          await audit("notification_failed", { attempts, error });
          d.log.error(
            { outbox: row.id, channel: row.channel, event: row.kind, attempts, error },
            "notification failed for good",
          );
          d.metrics?.notifications.inc({ channel: row.channel, result: "failed" });
          out.failed++;
        } else {
          const next = new Date(now.getTime() + backoffMs(attempts, b));
          await c.query(
            "UPDATE notification_outbox SET attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1",
            [row.id, attempts, error, next],
          );
          d.log.warn(
            { outbox: row.id, channel: row.channel, event: row.kind, attempts, error },
            "notification delivery failed; will retry",
          );
          skipped.push(row.id);
          d.metrics?.notifications.inc({ channel: row.channel, result: "retried" });
          out.retried++;
        }
        return true;
      }
      await c.query(
        "UPDATE notification_outbox SET state = 'sent', attempts = attempts + 1, sent_at = $2, last_error = NULL WHERE id = $1",
        [row.id, now],
      );
      await audit("notification_sent", { attempts: row.attempts + 1 });
      d.metrics?.notifications.inc({ channel: row.channel, result: "sent" });
      out.sent++;
      return true;
    });
    if (!done) break;
  }
  return out;
}

/**
 * Runs deliverDue every `intervalMs` until stopped (also woken by `kick()`, e.g. right after an
 * event wrote rows). Started by the composition root (api/server.ts), never at import.
 */
export function startOutboxWorker(
  d: OutboxDeps,
  intervalMs: number,
): { kick(): void; stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = () => {
    if (stopped || running) return;
    running = deliverDue(d)
      .then(() => undefined)
      .catch((err: unknown) => d.log.warn({ err }, "outbox worker pass failed; will retry"))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(run, intervalMs);
      });
  };
  timer = setTimeout(run, 0);
  return {
    kick() {
      if (timer) clearTimeout(timer);
      run();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      for (const ch of d.channels.values()) await ch.close?.();
    },
  };
}
