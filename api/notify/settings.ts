// The installation's notification channels from the API's configuration (api/config.ts: env
// from a Secret in the chart). Nothing here is ever logged: SMTP password, Teams URL and
// webhook secret are credentials or capabilities.
import { readFile } from "node:fs/promises";
import type { ApiConfig } from "../config.ts";
import { smtpChannel, teamsChannel, webhookChannel, type Channel, type ChannelName } from "./channels.ts";

export type NotifySettings = {
  /** The channels built from the configuration. */
  channels: Map<ChannelName, Channel>;
  /** Which of them carry messages when an asset type names none (IPSOLIS_NOTIFY_CHANNELS, default all). */
  defaults: ChannelName[];
};

export async function notifySettingsOf(c: Partial<ApiConfig>): Promise<NotifySettings> {
  const channels = new Map<ChannelName, Channel>();
  if (c.IPSOLIS_SMTP_HOST) {
    channels.set(
      "email",
      smtpChannel({
        host: c.IPSOLIS_SMTP_HOST,
        port: c.IPSOLIS_SMTP_PORT ?? 587,
        starttls: c.IPSOLIS_SMTP_STARTTLS ?? "require",
        secure: c.IPSOLIS_SMTP_SECURE === "true",
        user: c.IPSOLIS_SMTP_USER,
        password: c.IPSOLIS_SMTP_PASSWORD,
        from: c.IPSOLIS_SMTP_FROM ?? "ipsolis <ipsolis@localhost>",
        ca: c.IPSOLIS_SMTP_CA_FILE ? await readFile(c.IPSOLIS_SMTP_CA_FILE, "utf8") : undefined,
      }),
    );
  }
  if (c.IPSOLIS_TEAMS_WEBHOOK_URL) channels.set("teams", teamsChannel({ url: c.IPSOLIS_TEAMS_WEBHOOK_URL }));
  if (c.IPSOLIS_NOTIFY_WEBHOOK_URL && c.IPSOLIS_NOTIFY_WEBHOOK_SECRET) {
    channels.set(
      "webhook",
      webhookChannel({ url: c.IPSOLIS_NOTIFY_WEBHOOK_URL, secret: c.IPSOLIS_NOTIFY_WEBHOOK_SECRET }),
    );
  }
  const wanted = c.IPSOLIS_NOTIFY_CHANNELS?.split(",") as ChannelName[] | undefined;
  return { channels, defaults: wanted ?? [...channels.keys()] };
}

/**
 * The channels one asset type's messages go out on: its `spec.approval.channels` when set,
 * else the installation's defaults; a channel the installation has not configured is skipped.
 */
export function channelsFor(
  assetTypeChannels: readonly string[] | undefined,
  s: { configured: readonly ChannelName[]; defaults: readonly ChannelName[] },
): ChannelName[] {
  const want = assetTypeChannels && assetTypeChannels.length > 0 ? assetTypeChannels : s.defaults;
  return s.configured.filter((c) => want.includes(c));
}

/**
 * The channels this configuration carries, without building them (for writers of the outbox
 * that deliver nothing themselves: a route, the CronJob's tick).
 */
export function channelNamesOf(c: Partial<ApiConfig>): {
  configured: ChannelName[];
  defaults: ChannelName[];
} {
  const configured: ChannelName[] = [];
  if (c.IPSOLIS_SMTP_HOST) configured.push("email");
  if (c.IPSOLIS_TEAMS_WEBHOOK_URL) configured.push("teams");
  if (c.IPSOLIS_NOTIFY_WEBHOOK_URL && c.IPSOLIS_NOTIFY_WEBHOOK_SECRET) configured.push("webhook");
  const wanted = c.IPSOLIS_NOTIFY_CHANNELS?.split(",") as ChannelName[] | undefined;
  return { configured, defaults: wanted ?? configured };
}
