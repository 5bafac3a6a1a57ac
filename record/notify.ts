// Pluggable notification channels for alerts. A channel sends one JSON message or throws.
// The HTTP webhook channel POSTs JSON signed with HMAC-SHA256 over `<timestamp>.<body>`:
//   X-Ipsolis-Timestamp: <unix seconds>
//   X-Ipsolis-Signature: sha256=<hex>
// Receivers recompute the HMAC with the shared secret and reject stale timestamps (replays).
import { createHmac } from "node:crypto";
import { UnavailableError } from "./errors.ts";

export type Notification = { kind: string; summary: string; data: Record<string, unknown> };

export type NotificationChannel = {
  readonly name: string;
  send(n: Notification): Promise<void>;
};

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function webhookChannel(opts: {
  url: string;
  secret: string;
  timeoutMs?: number;
  now?: () => Date;
}): NotificationChannel {
  const now = opts.now ?? (() => new Date());
  return {
    name: `webhook:${new URL(opts.url).host}`,
    async send(n) {
      const body = JSON.stringify(n);
      const ts = String(Math.floor(now().getTime() / 1000));
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-ipsolis-timestamp": ts,
            "x-ipsolis-signature": signWebhook(opts.secret, ts, body),
          },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        throw new UnavailableError(`webhook ${new URL(opts.url).host} unreachable`, { cause: err });
      }
      // Drain the body so the connection is released.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new UnavailableError(`webhook ${new URL(opts.url).host} answered ${res.status}`);
    },
  };
}
