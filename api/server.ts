// The API process: parse the configuration once, build the dependencies, migrate the record,
// build the app (api/app.ts) and listen. `node api/server.ts` (or `npm run api`).
import { pathToFileURL } from "node:url";
import { loadConfig } from "../record/config.ts";
import { createPool } from "../record/db.ts";
import { prepareSchema } from "../record/migrate.ts";
import { createLogger } from "../record/log.ts";
import { loadKubeConfig } from "../operator/index.ts";
import { readFile } from "node:fs/promises";
import { buildApp, type App } from "./app.ts";
import { makeApiMetrics, serveMetrics } from "./metrics.ts";
import { createOidcClient } from "./oidc/client.ts";
import { ApiEnv, type ApiConfig } from "./config.ts";
import { startNotifier } from "./notify/notifier.ts";
import { notifySettingsOf } from "./notify/settings.ts";

export async function startServer(env: Record<string, string | undefined>): Promise<{
  app: App;
  url: string;
  /** Where /metrics is served (IPSOLIS_METRICS_PORT), when it is. */
  metricsUrl: string | undefined;
  config: Readonly<ApiConfig>;
  stop: () => Promise<void>;
}> {
  const config = loadConfig(ApiEnv, env);
  const log = createLogger({ level: config.IPSOLIS_LOG_LEVEL, name: "ipsolis-api" });
  const schema = await prepareSchema({
    mode: config.IPSOLIS_MIGRATIONS,
    url: config.IPSOLIS_DATABASE_URL,
    migrateUrl: config.IPSOLIS_MIGRATE_DATABASE_URL,
  });
  log.info({ mode: config.IPSOLIS_MIGRATIONS, ...schema }, "database schema current");
  const db = createPool(config.IPSOLIS_DATABASE_URL, { applicationName: "ipsolis-api" });
  const kc = loadKubeConfig(config.IPSOLIS_KUBECONFIG, config.IPSOLIS_IN_CLUSTER_ROOT);
  const oidc =
    config.IPSOLIS_OIDC_AUTHORITY && config.IPSOLIS_OIDC_CLIENT_ID && config.IPSOLIS_OIDC_CLIENT_SECRET
      ? createOidcClient({
          authority: config.IPSOLIS_OIDC_AUTHORITY,
          clientId: config.IPSOLIS_OIDC_CLIENT_ID,
          clientSecret: config.IPSOLIS_OIDC_CLIENT_SECRET,
          redirectUri: new URL("/auth/oidc/callback", config.IPSOLIS_PUBLIC_URL).href,
          ca: config.IPSOLIS_OIDC_CA_FILE ? await readFile(config.IPSOLIS_OIDC_CA_FILE, "utf8") : undefined,
        })
      : undefined;
  const metrics = makeApiMetrics({ defaults: true });
  const app = await buildApp({
    log,
    metrics,
    db,
    kc,
    namespace: config.IPSOLIS_NAMESPACE,
    now: () => new Date(),
    config,
    ...(oidc ? { oidc } : {}),
  });
  const url = await app.listen({ host: config.IPSOLIS_LISTEN_HOST, port: config.IPSOLIS_LISTEN_PORT });
  log.info({ url }, "ipsolis API listening");
  const metricsServer =
    config.IPSOLIS_METRICS_PORT === undefined
      ? undefined
      : await serveMetrics(metrics.registry, config.IPSOLIS_LISTEN_HOST, config.IPSOLIS_METRICS_PORT, (err) =>
          log.error({ err }, "metrics failed"),
        );
  const metricsUrl = metricsServer
    ? `http://${config.IPSOLIS_LISTEN_HOST.includes(":") ? `[${config.IPSOLIS_LISTEN_HOST}]` : config.IPSOLIS_LISTEN_HOST}:${metricsServer.port}/metrics`
    : undefined;
  if (metricsUrl) log.info({ url: metricsUrl }, "metrics listening");
  // Background work, started here and nowhere else: approval requests and outcomes to the
  // outbox, and its delivery (reminders/escalation/expiry are the CronJob's, api/notify/tick.ts).
  const settings = await notifySettingsOf(config);
  const notifier = startNotifier({
    db,
    kc,
    namespace: config.IPSOLIS_NAMESPACE,
    log,
    now: () => new Date(),
    settings,
    linkSecret: app.security.linkSecret,
    publicUrl: app.security.publicUrl,
    intervalMs: config.IPSOLIS_NOTIFY_INTERVAL_MS,
    metrics,
  });
  log.info({ channels: [...settings.channels.keys()] }, "notifications started");
  const stop = async () => {
    await notifier.stop();
    await metricsServer?.close();
    await app.close();
    await db.end();
  };
  return { app, url, metricsUrl, config, stop };
}

// Run only when executed directly: importing this module starts nothing.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const { stop } = await startServer(process.env);
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.once(sig, () => {
        void stop().then(() => process.exit(0));
      });
    }
  } catch (err) {
    process.stderr.write(
      `ipsolis API failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}
