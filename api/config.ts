// The API process's configuration: one zod schema over the environment, parsed once at start
// (api/server.ts) with record/config.ts `loadConfig`, frozen, and handed to buildApp as
// `deps.config`. No other code reads process.env.
import { z } from "zod";

const secret = (what: string) =>
  z.string().min(32, `${what} must be at least 32 characters (use e.g. \`openssl rand -base64 48\`)`);

export const ApiEnv = z
  .object({
    IPSOLIS_DATABASE_URL: z.url(),
    /** The schema owner's URL: when set (and IPSOLIS_MIGRATIONS=apply), migrations run with it. */
    IPSOLIS_MIGRATE_DATABASE_URL: z.url().optional(),
    /** `apply`: migrate at start; `check`: refuse to start while the schema is behind (record/migrate.ts). */
    IPSOLIS_MIGRATIONS: z.enum(["apply", "check"]).default("apply"),
    /**
     * Prefix of the in-cluster ServiceAccount files (/var/run/secrets/kubernetes.io/serviceaccount):
     * unset in a pod; the local node (tests, demo) points it at its copy of the projected volume.
     */
    IPSOLIS_IN_CLUSTER_ROOT: z.string().min(1).optional(),
    IPSOLIS_NAMESPACE: z.string().min(1),
    /** Path of a kubeconfig; in-cluster or $KUBECONFIG defaults when unset. */
    IPSOLIS_KUBECONFIG: z.string().min(1).optional(),
    IPSOLIS_LISTEN_HOST: z.string().min(1).default("127.0.0.1"),
    IPSOLIS_LISTEN_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /**
     * Prometheus `/metrics` on a port of its own (never on the public port); unset = not served.
     * Listens on IPSOLIS_LISTEN_HOST; 0 picks a free port.
     */
    IPSOLIS_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    IPSOLIS_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** Legacy shared admin key (`X-Admin-Key`): a virtual superadmin `admin:legacy_key`. Unset = off. */
    IPSOLIS_ADMIN_KEY: secret("IPSOLIS_ADMIN_KEY").optional(),
    /** Signs the CSRF tokens of the browser forms. */
    IPSOLIS_SESSION_SECRET: secret("IPSOLIS_SESSION_SECRET"),
    /** Signs one-click approval links. */
    IPSOLIS_LINK_SECRET: secret("IPSOLIS_LINK_SECRET"),
    /** Where users reach the API/portal, for links in mails (e.g. https://ipsolis.example.com). */
    IPSOLIS_PUBLIC_URL: z.url().default("http://127.0.0.1:8080"),
    IPSOLIS_HR_WEBHOOK_SECRET: secret("IPSOLIS_HR_WEBHOOK_SECRET").optional(),
    IPSOLIS_SERVICENOW_WEBHOOK_SECRET: secret("IPSOLIS_SERVICENOW_WEBHOOK_SECRET").optional(),
    // Inbound webhooks signed with X-Hub-Signature-256 (body only, replayable): accepted today's
    // senders' way, or refused so only Standard Webhooks (id + timestamp signed) get in.
    IPSOLIS_WEBHOOK_LEGACY_SIGNATURES: z.enum(["accept", "refuse"]).default("accept"),
    // Bearer tokens that are not ipsolis API tokens are reviewed by the cluster (TokenReview) and
    // act as the admin account their Kubernetes username is mapped to (kubectl ipsolis); "off"
    // refuses them without asking the cluster.
    IPSOLIS_KUBE_IDENTITY: z.enum(["on", "off"]).default("on"),
    /** HMAC secret of the runners' per-Job ingest tokens (record/ingest-token.ts). */
    IPSOLIS_INGEST_SECRET: secret("IPSOLIS_INGEST_SECRET").optional(),
    /** The API's ServiceAccount (the only identity allowed to write Order spec.approvals). */
    IPSOLIS_SERVICE_ACCOUNT: z.string().min(1).default("ipsolis-api"),
    /** Login attempts per client address and minute (on top of the per-account lockout). */
    IPSOLIS_LOGIN_RATE_LIMIT: z.coerce.number().int().min(1).default(20),
    /** Session lifetime in hours. */
    IPSOLIS_SESSION_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(12),
    /**
     * Which proxies' X-Forwarded-For to believe for the client address (rate limits, audit):
     * unset = none (clients talk to the API directly); a hop count ("1"); or a comma-separated
     * list of proxy addresses/CIDRs ("10.0.0.0/8,127.0.0.1"). Never "true": any client could
     * then choose its own address and walk past the sign-in rate limit.
     */
    IPSOLIS_TRUST_PROXY: z
      .string()
      .regex(
        /^(\d+|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/,
        "a hop count or a comma-separated list of addresses/CIDRs",
      )
      .optional(),
    /** Employee single sign-on (OpenID Connect, e.g. https://login.microsoftonline.com/<tenant-id>). */
    IPSOLIS_OIDC_AUTHORITY: z.url({ protocol: /^https$/, error: "must be an https URL" }).optional(),
    IPSOLIS_OIDC_CLIENT_ID: z.string().min(1).optional(),
    IPSOLIS_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    /** PEM file of an extra CA to trust for the identity provider (private PKI). */
    IPSOLIS_OIDC_CA_FILE: z.string().min(1).optional(),
    /** The name on the portal's sign-in button: "Sign in with <name>". */
    IPSOLIS_OIDC_PROVIDER_NAME: z.string().min(1).max(60).default("Microsoft"),
    /** IANA time zone the pages show dates in (e.g. Europe/Berlin). */
    IPSOLIS_TIME_ZONE: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat("en", { timeZone: tz });
          return true;
        } catch (err) {
          if (err instanceof RangeError) return false;
          throw err;
        }
      }, "not an IANA time zone (e.g. Europe/Berlin)")
      .default("UTC"),
    // ---- notifications (api/notify/settings.ts): values from a Secret, never a CR spec or a log ----
    /** Which channels the installation uses (comma list of email, teams, webhook). Default: every configured one. */
    IPSOLIS_NOTIFY_CHANNELS: z
      .string()
      .regex(
        /^(email|teams|webhook)(,(email|teams|webhook))*$/,
        "a comma-separated list of email, teams, webhook",
      )
      .optional(),
    /** SMTP server for e-mail; unset = no e-mail. */
    IPSOLIS_SMTP_HOST: z.string().min(1).optional(),
    IPSOLIS_SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(587),
    /** require (default): refuse to send without STARTTLS; opportunistic; off (a loopback test server). */
    IPSOLIS_SMTP_STARTTLS: z.enum(["require", "opportunistic", "off"]).default("require"),
    /** Implicit TLS (port 465). */
    IPSOLIS_SMTP_SECURE: z.enum(["true", "false"]).default("false"),
    IPSOLIS_SMTP_USER: z.string().min(1).optional(),
    IPSOLIS_SMTP_PASSWORD: z.string().min(1).optional(),
    IPSOLIS_SMTP_FROM: z.string().min(3).default("ipsolis <ipsolis@localhost>"),
    /** PEM file of a private CA for the SMTP server's certificate. */
    IPSOLIS_SMTP_CA_FILE: z.string().min(1).optional(),
    /** Microsoft Teams incoming-webhook / Workflows URL (a secret: it is a capability). */
    IPSOLIS_TEAMS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** Generic notification webhook (Standard Webhooks signed with IPSOLIS_NOTIFY_WEBHOOK_SECRET). */
    IPSOLIS_NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    IPSOLIS_NOTIFY_WEBHOOK_SECRET: z.string().min(24, "at least 24 characters (a whsec_… secret)").optional(),
    /** How often the outbox worker looks for due messages (it is also woken by each event). */
    IPSOLIS_NOTIFY_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  })
  .superRefine((c, ctx) => {
    if ((c.IPSOLIS_NOTIFY_WEBHOOK_URL === undefined) !== (c.IPSOLIS_NOTIFY_WEBHOOK_SECRET === undefined)) {
      for (const k of ["IPSOLIS_NOTIFY_WEBHOOK_URL", "IPSOLIS_NOTIFY_WEBHOOK_SECRET"] as const) {
        if (c[k] === undefined)
          ctx.addIssue({
            code: "custom",
            path: [k],
            message: "required when the other webhook setting is given",
          });
      }
    }
    if ((c.IPSOLIS_SMTP_USER === undefined) !== (c.IPSOLIS_SMTP_PASSWORD === undefined)) {
      for (const k of ["IPSOLIS_SMTP_USER", "IPSOLIS_SMTP_PASSWORD"] as const) {
        if (c[k] === undefined)
          ctx.addIssue({ code: "custom", path: [k], message: "SMTP auth needs both user and password" });
      }
    }
    for (const ch of c.IPSOLIS_NOTIFY_CHANNELS?.split(",") ?? []) {
      const missing =
        ch === "email"
          ? c.IPSOLIS_SMTP_HOST === undefined && "IPSOLIS_SMTP_HOST"
          : ch === "teams"
            ? c.IPSOLIS_TEAMS_WEBHOOK_URL === undefined && "IPSOLIS_TEAMS_WEBHOOK_URL"
            : c.IPSOLIS_NOTIFY_WEBHOOK_URL === undefined && "IPSOLIS_NOTIFY_WEBHOOK_URL";
      if (missing)
        ctx.addIssue({
          code: "custom",
          path: ["IPSOLIS_NOTIFY_CHANNELS"],
          message: `channel ${ch} needs ${missing}`,
        });
    }
    const sso = [c.IPSOLIS_OIDC_AUTHORITY, c.IPSOLIS_OIDC_CLIENT_ID, c.IPSOLIS_OIDC_CLIENT_SECRET];
    if (sso.some((v) => v !== undefined) && sso.some((v) => v === undefined)) {
      for (const k of [
        "IPSOLIS_OIDC_AUTHORITY",
        "IPSOLIS_OIDC_CLIENT_ID",
        "IPSOLIS_OIDC_CLIENT_SECRET",
      ] as const) {
        if (c[k] === undefined) {
          ctx.addIssue({
            code: "custom",
            path: [k],
            message: "required when any IPSOLIS_OIDC_* setting is given",
          });
        }
      }
    }
  });
export type ApiConfig = z.infer<typeof ApiEnv>;
