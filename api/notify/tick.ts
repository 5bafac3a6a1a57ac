// The approval schedule as a one-shot program: reminders, escalation and expiry of every open
// approval request (api/notify/approval-requests.ts runApprovalSchedule), then exit. Kubernetes
// is the scheduler: the chart runs it as a CronJob (charts/ipsolis/templates/approvals-cronjob.yaml,
// `concurrencyPolicy: Forbid`), `./dev up` every minute; tests call `runTick` with their clock.
// It only writes the outbox; the API's worker delivers. `node api/notify/tick.ts`.
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { loadConfig } from "../../record/config.ts";
import { createPool } from "../../record/db.ts";
import { createLogger } from "../../record/log.ts";
import { loadKubeConfig } from "../../operator/index.ts";
import { ApiEnv } from "../config.ts";
import { runApprovalSchedule, type NotifierDeps } from "./approval-requests.ts";
import { makeResources } from "../plugins/resources.ts";
import type { ChannelName } from "./channels.ts";

const s = ApiEnv.shape;
/** What the tick reads: the API's settings it needs (same names, same Secret). */
export const TickEnv = z.object({
  IPSOLIS_DATABASE_URL: s.IPSOLIS_DATABASE_URL,
  IPSOLIS_NAMESPACE: s.IPSOLIS_NAMESPACE,
  IPSOLIS_KUBECONFIG: s.IPSOLIS_KUBECONFIG,
  IPSOLIS_IN_CLUSTER_ROOT: s.IPSOLIS_IN_CLUSTER_ROOT,
  IPSOLIS_LOG_LEVEL: s.IPSOLIS_LOG_LEVEL,
  /**
   * The channels the API sends on (its configured ones, narrowed as the API narrows them): the
   * tick only writes outbox rows for them, so it needs no server address or secret. Unset: none.
   */
  IPSOLIS_NOTIFY_CHANNELS: s.IPSOLIS_NOTIFY_CHANNELS,
});

export async function runTick(deps: NotifierDeps) {
  return runApprovalSchedule(deps);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const config = loadConfig(TickEnv, process.env);
    const log = createLogger({ level: config.IPSOLIS_LOG_LEVEL, name: "ipsolis-approvals-tick" });
    const db = createPool(config.IPSOLIS_DATABASE_URL, { applicationName: "ipsolis-approvals-tick", max: 2 });
    const kc = loadKubeConfig(config.IPSOLIS_KUBECONFIG, config.IPSOLIS_IN_CLUSTER_ROOT);
    const deps: NotifierDeps = {
      db,
      res: makeResources(kc, config.IPSOLIS_NAMESPACE),
      log,
      now: () => new Date(),
      // Only which channels exist: the tick writes the outbox, the API's worker delivers.
      channels: (() => {
        const names = (config.IPSOLIS_NOTIFY_CHANNELS?.split(",") ?? []) as ChannelName[];
        return { configured: names, defaults: names };
      })(),
    };
    const done = await runTick(deps);
    log.info(done, "approval schedule pass done");
    await db.end();
  } catch (err) {
    process.stderr.write(`approval tick failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
