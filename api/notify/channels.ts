// Notification channels behind one interface: e-mail over SMTP (nodemailer; STARTTLS and auth),
// Microsoft Teams (an incoming-webhook / Workflows URL receiving an Adaptive Card whose Approve
// and Decline buttons open the recipient's one-click link), and a generic webhook signed as
// Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
// A channel delivers one rendered message or throws a DeliveryError saying whether a retry can
// help. Settings come from the API's configuration (env, from a Secret in the chart): never
// from a CR spec, never logged. Error messages carry no URL (Teams and webhook URLs are secrets).
import { createHmac } from "node:crypto";
import nodemailer from "nodemailer";
import type { NotificationKind, Rendered } from "./templates.ts";

export type ChannelName = "email" | "teams" | "webhook";
export const CHANNEL_NAMES: readonly ChannelName[] = ["email", "teams", "webhook"];

export type Outgoing = {
  /** Unique per (event, recipient, channel): the outbox row's id, `msg_<id>` on webhooks. */
  id: string;
  kind: NotificationKind;
  /** The person's e-mail address. */
  to: string;
  message: Rendered;
  /** Template data, for machine receivers (webhook). */
  data: Record<string, string | undefined>;
  at: Date;
};

export type Channel = {
  readonly name: ChannelName;
  deliver(m: Outgoing): Promise<void>;
  close?(): Promise<void>;
};

/** `permanent`: retrying cannot help (rejected recipient, 4xx): the row fails at once. */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean, opts?: { cause?: unknown }) {
    super(message, opts);
    this.permanent = permanent;
  }
}

export type SmtpSettings = {
  host: string;
  port: number;
  /** require: refuse to send without STARTTLS; opportunistic: upgrade when offered; off: never. */
  starttls: "require" | "opportunistic" | "off";
  /** Implicit TLS (port 465). */
  secure: boolean;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
  /** PEM of a private CA for the SMTP server's certificate. */
  ca?: string | undefined;
  timeoutMs?: number | undefined;
};

export function smtpChannel(s: SmtpSettings): Channel {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.starttls === "require",
    ignoreTLS: s.starttls === "off",
    ...(s.user ? { auth: { user: s.user, pass: s.password ?? "" } } : {}),
    ...(s.ca ? { tls: { ca: s.ca } } : {}),
    connectionTimeout: s.timeoutMs ?? 10_000,
    greetingTimeout: s.timeoutMs ?? 10_000,
    socketTimeout: s.timeoutMs ?? 20_000,
    // Never log: a message body holds a capability URL.
    logger: false,
    debug: false,
  });
  return {
    name: "email",
    async deliver(m) {
      try {
        await transport.sendMail({
          from: s.from,
          to: m.to,
          subject: m.message.subject,
          text: m.message.text,
          html: m.message.html,
          messageId: `<${m.id}@ipsolis>`,
          headers: { "X-Ipsolis-Event": m.kind },
        });
      } catch (err) {
        const e = err as { responseCode?: number; code?: string; message?: string };
        // 5xx on a recipient or the message is permanent; connection and 4xx errors wait.
        const permanent = typeof e.responseCode === "number" && e.responseCode >= 500 && e.code !== "EAUTH";
        throw new DeliveryError(
          `SMTP ${s.host}:${s.port}: ${e.code ?? "error"}${e.responseCode ? ` ${e.responseCode}` : ""}`,
          permanent,
          { cause: err },
        );
      }
    },
    async close() {
      transport.close();
    },
  };
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  what: string,
  timeoutMs: number,
) {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new DeliveryError(`${what} unreachable (${(err as Error).name})`, false, { cause: err });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) {
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new DeliveryError(`${what} answered ${res.status}`, permanent);
  }
}

/** The Adaptive Card (1.4, what Teams renders) of one message, in the webhook envelope Teams wants. */
export function teamsPayload(m: Outgoing): unknown {
  const lines = m.message.text.split("\n\n")[0]!.split("\n");
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: m.message.subject, weight: "Bolder", size: "Medium", wrap: true },
            { type: "TextBlock", text: `To: ${m.to}`, isSubtle: true, wrap: true },
            ...lines.map((l) => ({ type: "TextBlock", text: l, wrap: true })),
          ],
          actions: m.message.actions.map((a) => ({ type: "Action.OpenUrl", title: a.title, url: a.url })),
        },
      },
    ],
    // For Workflows that route the card to the person (chat) rather than a channel.
    recipient: m.to,
  };
}

export function teamsChannel(opts: { url: string; timeoutMs?: number }): Channel {
  return {
    name: "teams",
    deliver: (m) =>
      post(opts.url, JSON.stringify(teamsPayload(m)), {}, "Teams webhook", opts.timeoutMs ?? 10_000),
  };
}

/**
 * Standard Webhooks signature: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, where
 * the key is the base64 part of a `whsec_…` secret (or the secret's bytes when it has no prefix).
 */
export function standardWebhookSignature(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): string {
  const key = secret.startsWith("whsec_")
    ? Buffer.from(secret.slice(6), "base64")
    : Buffer.from(secret, "utf8");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest("base64")}`;
}

export function webhookChannel(opts: { url: string; secret: string; timeoutMs?: number }): Channel {
  return {
    name: "webhook",
    async deliver(m) {
      const timestamp = Math.floor(m.at.getTime() / 1000);
      const body = JSON.stringify({
        type: m.kind,
        timestamp: m.at.toISOString(),
        data: {
          recipient: m.to,
          subject: m.message.subject,
          ...m.data,
          ...(m.message.actions.length ? { actions: m.message.actions } : {}),
        },
      });
      await post(
        opts.url,
        body,
        {
          "webhook-id": m.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": standardWebhookSignature(opts.secret, m.id, timestamp, body),
        },
        "notification webhook",
        opts.timeoutMs ?? 10_000,
      );
    },
  };
}
