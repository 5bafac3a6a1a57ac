// The operator process: watched caches for Orders, Runbooks and their children, one rate-limited
// key queue, leader election, and an HTTP server for /metrics, /healthz and /readyz.
// `startOperator(config, deps)` runs it in-process (tests, `./dev up`); running this file as a
// program (`npm run operator`) starts it from the environment. Importing starts nothing.
import type * as k8s from "@kubernetes/client-node";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { Cron } from "croner";
import { z } from "zod";
import { loadConfig } from "../record/config.ts";
import { createLogger, type Logger } from "../record/log.ts";
import { loadKubeConfig } from "./kube/client.ts";
import { makeInformer, type Informer } from "./kube/informer.ts";
import { startLeaderElection, type LeaderElection } from "./kube/leader.ts";
import { makeWorkQueue } from "./kube/queue.ts";
import { makeRest } from "./kube/rest.ts";
import { makeMetrics } from "./metrics.ts";
import { LABEL_ORDER, MANAGED_BY } from "./order/job.ts";
import type { AssetType, Order, Runbook } from "./order/model.ts";
import { makeExpectations, type AssetObject, type Caches, type OrderDeps } from "./order/deps.ts";
import { reconcileOrder } from "./order/reconcile.ts";
import { reconcileRunbook, type RunbookDeps } from "./runbook/reconcile.ts";
import { isScheduledRunJob, scheduledRunOf } from "./runbook/runs.ts";
import { recordScheduledRun } from "../record/scheduled-runs.ts";
import { reconcileAssetType, type AssetTypeDeps } from "./assettype/reconcile.ts";
import { startRecord, type OperatorRecord } from "./record.ts";
import { requireCurrentSchema, SchemaBehindError } from "../record/migrate.ts";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const OperatorEnv = z
  .object({
    IPSOLIS_NAMESPACE: z.string().min(1),
    /** Path of a kubeconfig; in-cluster or $HOME/.kube/config when unset. */
    KUBECONFIG: z.string().min(1).optional(),
    IPSOLIS_OPERATOR_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    IPSOLIS_OPERATOR_HOST: z.string().default("0.0.0.0"),
    IPSOLIS_OPERATOR_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    IPSOLIS_OPERATOR_ID: z.string().min(1).optional(),
    IPSOLIS_LEADER_ELECTION: bool.default(true),
    IPSOLIS_LEADER_LEASE_SECONDS: z.coerce.number().int().min(2).max(300).default(15),
    IPSOLIS_LEADER_RENEW_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
    /** Every Order and Runbook is reconciled again at this interval, whatever happened. */
    IPSOLIS_RESYNC_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
    /** Base URL of the API's ingest endpoint as pods reach it, e.g. http://ipsolis-api:8080. */
    IPSOLIS_INGEST_URL: z.url().optional(),
    /** HMAC secret for per-Job ingest tokens: the same value and name as the API's. */
    IPSOLIS_INGEST_SECRET: z
      .string()
      .min(32, "IPSOLIS_INGEST_SECRET must be at least 32 characters")
      .optional(),
    IPSOLIS_RUNNER_SERVICE_ACCOUNT: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /**
     * The record (Postgres): with it the operator also runs the order history mirror, the daily
     * cost-threshold check and the audit anchors (operator/record.ts). Without it, none of them.
     */
    IPSOLIS_DATABASE_URL: z.url().optional(),
    /** The schema owner's URL: when set (and IPSOLIS_MIGRATIONS=apply), migrations run with it. */
    IPSOLIS_MIGRATE_DATABASE_URL: z.url().optional(),
    /** `apply`: migrate at start; `check`: refuse to start while the schema is behind (record/migrate.ts). */
    IPSOLIS_MIGRATIONS: z.enum(["apply", "check"]).default("apply"),
    /** Prefix of the in-cluster ServiceAccount files; set only by the local node (tests, demo). */
    IPSOLIS_IN_CLUSTER_ROOT: z.string().min(1).optional(),
    /** When the cost-threshold check runs (cron, in IPSOLIS_COST_TIME_ZONE). */
    IPSOLIS_COST_CHECK_CRON: z
      .string()
      .default("0 6 * * *")
      .refine((v) => {
        try {
          new Cron(v, { paused: true }).stop();
          return true;
        } catch {
          return false;
        }
      }, "a cron expression, e.g. 0 6 * * * (06:00 daily)"),
    IPSOLIS_COST_TIME_ZONE: z
      .string()
      .default("Europe/Berlin")
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat("en", { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, "an IANA time zone, e.g. Europe/Berlin"),
    /** Cost alerts also go to this HTTP webhook, signed with IPSOLIS_COST_WEBHOOK_SECRET (record/notify.ts). */
    IPSOLIS_COST_WEBHOOK_URL: z.url().optional(),
    IPSOLIS_COST_WEBHOOK_SECRET: z
      .string()
      .min(32, "IPSOLIS_COST_WEBHOOK_SECRET must be at least 32 characters")
      .optional(),
    /** How often the audit chain head is copied to the anchor ConfigMap (record/anchor.ts); 0 = never. */
    IPSOLIS_AUDIT_ANCHOR_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  })
  .superRefine((c, ctx) => {
    if ((c.IPSOLIS_COST_WEBHOOK_URL === undefined) !== (c.IPSOLIS_COST_WEBHOOK_SECRET === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [
          c.IPSOLIS_COST_WEBHOOK_URL === undefined
            ? "IPSOLIS_COST_WEBHOOK_URL"
            : "IPSOLIS_COST_WEBHOOK_SECRET",
        ],
        message: "IPSOLIS_COST_WEBHOOK_URL and IPSOLIS_COST_WEBHOOK_SECRET go together",
      });
    }
  });
export type OperatorConfig = z.infer<typeof OperatorEnv>;

export type OperatorDeps = {
  kubeConfig?: k8s.KubeConfig;
  log?: Logger;
  clock?: () => Date;
};

export type Operator = {
  /** The port /metrics, /healthz and /readyz listen on. */
  readonly port: number;
  readonly identity: string;
  isLeader(): boolean;
  /** The record's parts (history mirror, cost check, anchors) when IPSOLIS_DATABASE_URL is set. */
  readonly record: OperatorRecord | undefined;
  stop(): Promise<void>;
};

type Named = { metadata?: { name?: string; labels?: Record<string, string> } };
const nameOf = (o: Named) => o.metadata?.name ?? "";

export async function startOperator(config: OperatorConfig, deps: OperatorDeps = {}): Promise<Operator> {
  const ns = config.IPSOLIS_NAMESPACE;
  const identity =
    config.IPSOLIS_OPERATOR_ID ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const log = (deps.log ?? createLogger({ level: config.LOG_LEVEL, name: "operator" })).child({
    operator: identity,
  });
  if (config.IPSOLIS_DATABASE_URL && config.IPSOLIS_MIGRATIONS === "check") {
    // Refuse to start on a schema that is behind (the pod restarts until the migration Job ran);
    // an unreachable Postgres does not stop the operator (the record's loop checks again).
    await requireCurrentSchema(config.IPSOLIS_DATABASE_URL).catch((err: unknown) => {
      if (err instanceof SchemaBehindError) throw err;
      log.warn({ err }, "cannot check the database schema yet (is Postgres up?); the record waits");
    });
  }
  const kc = deps.kubeConfig ?? loadKubeConfig(config.KUBECONFIG, config.IPSOLIS_IN_CLUSTER_ROOT);
  const clock = deps.clock ?? (() => new Date());
  const rest = await makeRest(kc, "ipsolis-operator");

  const queue = makeWorkQueue({
    concurrency: config.IPSOLIS_OPERATOR_CONCURRENCY,
    handler: (key) => handle(key),
    onError: (key, err, retryInMs) => {
      metrics.queueRetries.inc({ kind: key.slice(0, key.indexOf("/")) });
      log.warn({ err, key, retryInMs }, "reconcile failed; retrying");
    },
  });
  const enqueueOrder = (name: string) => queue.add(`order/${name}`);

  const informers: Informer<unknown>[] = [];
  const inform = <T extends k8s.KubernetesObject>(
    path: string,
    onChange: (o: T, kind: "add" | "update" | "delete") => void,
    labelSelector?: string,
  ) => {
    const i = makeInformer<T>({ kc, rest, path, namespace: ns, labelSelector, log, onChange });
    informers.push(i);
    return i;
  };
  const crd = (plural: string) => `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/${plural}`;
  const managed = `app.kubernetes.io/managed-by=${MANAGED_BY["app.kubernetes.io/managed-by"]}`;
  const live = (o: Order) => !["Failed", "Cancelled", "Revoked"].includes(o.status?.phase ?? "");
  const nudgeLive = (pred: (o: Order) => boolean) => {
    for (const o of orders.list()) if (live(o) && pred(o)) enqueueOrder(o.metadata.name);
  };
  const nudgeWaiting = () =>
    nudgeLive((o) => o.status?.phase === "Scheduled" || o.status?.phase === undefined);

  const orders = inform<Order & k8s.KubernetesObject & { metadata: k8s.V1ObjectMeta & { name: string } }>(
    crd("orders"),
    (o, kind) => {
      enqueueOrder(o.metadata.name);
      // A Deprovision Order's progress is its target's business too (Deprovisioning, Revoked).
      if (o.spec.target) enqueueOrder(o.spec.target);
      // A finished or deleted holder frees its lock and slot: waiting Orders look again.
      if (kind === "delete" || !live(o) || o.status?.phase === "Provisioned") nudgeWaiting();
    },
  );
  const assetTypes = inform<AssetType & k8s.KubernetesObject>(crd("assettypes"), (at) => {
    queue.add(`assettype/${nameOf(at)}`);
    nudgeLive((o) => o.spec.assetType === nameOf(at));
    // Its runbooks serve it: whether they may read their Secrets depends on which types use them.
    for (const r of [at.spec.runbooks.provision, at.spec.runbooks.modify, at.spec.runbooks.deprovision])
      if (r) queue.add(`runbook/${r}`);
  });
  const runbooks = inform<Runbook & k8s.KubernetesObject>(crd("runbooks"), (rb) => {
    queue.add(`runbook/${nameOf(rb)}`);
    // The asset types that name it: their Ready follows whether it exists.
    const rbName = nameOf(rb);
    for (const at of assetTypes.list()) {
      const r = at.spec.runbooks;
      if ([r.provision, r.modify, r.deprovision].includes(rbName)) queue.add(`assettype/${nameOf(at)}`);
    }
    nudgeLive(() => true);
  });
  const byOrderLabel = (o: Named) => {
    const order = o.metadata?.labels?.[LABEL_ORDER];
    if (order) enqueueOrder(order);
    // A scheduled runbook's Job (made by its CronJob) goes to the record once it finished.
    else if (config.IPSOLIS_DATABASE_URL && isScheduledRunJob(o)) {
      const job = o.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? o.metadata?.labels?.["job-name"];
      queue.add(`run/${job ?? nameOf(o)}`);
    }
  };
  const jobs = inform<k8s.V1Job>(`/apis/batch/v1/namespaces/${ns}/jobs`, byOrderLabel, managed);
  const pods = inform<k8s.V1Pod>(`/api/v1/namespaces/${ns}/pods`, byOrderLabel, "ipsolis.io/runner=true");
  const leases = inform<k8s.V1Lease>(
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    (l, kind) => {
      const holder = l.spec?.holderIdentity;
      if (holder) enqueueOrder(holder);
      if (kind === "delete") nudgeWaiting();
    },
    "ipsolis.io/lock=asset",
  );
  const assets = inform<AssetObject & k8s.KubernetesObject>(crd("assets"), (a, kind) => {
    if (a.spec?.order) enqueueOrder(a.spec.order);
    if (kind === "delete") nudgeWaiting();
  });
  const cronJobs = inform<k8s.V1CronJob>(
    `/apis/batch/v1/namespaces/${ns}/cronjobs`,
    (c) => {
      const rb = c.metadata?.ownerReferences?.find((r) => r.kind === "Runbook")?.name;
      if (rb) queue.add(`runbook/${rb}`);
    },
    managed,
  );

  // Without leader election this replica leads from the start.
  let leading = !config.IPSOLIS_LEADER_ELECTION;
  const metrics = makeMetrics(
    () => {
      const counts = new Map<string, number>();
      for (const o of orders.list()) {
        const p = o.status?.phase ?? "New";
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      return counts;
    },
    { defaults: true, queueDepth: () => queue.length, isLeader: () => leading },
  );
  const caches: Caches = { orders, assetTypes, runbooks, jobs, pods, leases, assets };
  const orderDeps: OrderDeps = {
    namespace: ns,
    identity,
    rest,
    caches,
    expect: makeExpectations(),
    enqueue: enqueueOrder,
    enqueueAfter: (name, ms) => queue.addAfter(`order/${name}`, ms),
    clock,
    log,
    jobConfig: {
      namespace: ns,
      ...(config.IPSOLIS_INGEST_URL ? { ingestUrl: config.IPSOLIS_INGEST_URL } : {}),
      ...(config.IPSOLIS_RUNNER_SERVICE_ACCOUNT
        ? { serviceAccountName: config.IPSOLIS_RUNNER_SERVICE_ACCOUNT }
        : {}),
    },
    ...(config.IPSOLIS_INGEST_SECRET ? { ingestSecret: config.IPSOLIS_INGEST_SECRET } : {}),
    metrics,
  };
  const runbookDeps: RunbookDeps = {
    namespace: ns,
    rest,
    runbooks,
    cronJobs,
    clock,
    log,
    serviceAccountName: config.IPSOLIS_RUNNER_SERVICE_ACCOUNT,
    events: orderDeps,
    requeue: (name, ms) => queue.addAfter(`runbook/${name}`, ms),
    assetTypes,
  };
  const assetTypeDeps: AssetTypeDeps = {
    namespace: ns,
    rest,
    assetTypes: assetTypes,
    runbooks,
    clock,
    log,
  };
  async function handle(key: string): Promise<void> {
    const slash = key.indexOf("/");
    const kind = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (kind === "order") return reconcileOrder(name, orderDeps);
    if (kind === "runbook") return reconcileRunbook(name, runbookDeps);
    if (kind === "assettype") return reconcileAssetType(name, assetTypeDeps);
    if (kind === "run") return recordRun(name);
  }
  // Records a finished scheduled run once (the record's key makes retries and replicas safe).
  let record: OperatorRecord | undefined = undefined;
  async function recordRun(jobName: string): Promise<void> {
    const job = jobs.get(jobName);
    if (!job) return;
    const seen = scheduledRunOf(job, pods.list(), ns, clock());
    if (seen.kind === "WaitForSummary") return queue.addAfter(`run/${jobName}`, seen.retryInMs);
    if (seen.kind !== "Finished") return;
    // Never hold a worker while Postgres is away or the schema is being migrated: look later.
    if (!record || !schemaReady) return queue.addAfter(`run/${jobName}`, 2000);
    if (recordedRuns.has(jobName)) return;
    if (await recordScheduledRun(record.db, seen.run))
      log.info({ job: jobName, runbook: seen.run.runbook, state: seen.run.state }, "scheduled run recorded");
    recordedRuns.add(jobName);
    if (recordedRuns.size > 10_000) recordedRuns.clear();
  }
  let schemaReady = false;
  const recordedRuns = new Set<string>();

  // Health: live while the process runs; ready once every cache has synced (leader or standby).
  const server: Server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/healthz") return void res.writeHead(200).end("ok");
    if (url === "/readyz") {
      const ready = informers.every((i) => i.synced);
      return void res.writeHead(ready ? 200 : 503).end(ready ? "ok" : "caches not synced");
    }
    if (url === "/metrics") {
      void metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        (err: unknown) => {
          log.error({ err }, "metrics failed");
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) =>
    server.listen(config.IPSOLIS_OPERATOR_PORT, config.IPSOLIS_OPERATOR_HOST, r),
  );
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  await Promise.all(informers.map((i) => i.start()));
  log.info({ namespace: ns, port }, "caches synced");

  const lead = () => {
    queue.start();
    for (const o of orders.list()) enqueueOrder(o.metadata.name);
    for (const rb of runbooks.list()) queue.add(`runbook/${nameOf(rb)}`);
    if (config.IPSOLIS_DATABASE_URL)
      for (const j of jobs.list()) if (isScheduledRunJob(j)) queue.add(`run/${nameOf(j)}`);
  };
  let election: LeaderElection | undefined;
  if (config.IPSOLIS_LEADER_ELECTION) {
    election = startLeaderElection({
      rest,
      namespace: ns,
      name: "ipsolis-operator-leader",
      identity,
      leaseSeconds: config.IPSOLIS_LEADER_LEASE_SECONDS,
      renewMs: config.IPSOLIS_LEADER_RENEW_MS,
      log,
      onStartedLeading: () => {
        leading = true;
        lead();
      },
      onStoppedLeading: () => {
        leading = false;
        void queue.pause();
      },
    });
  } else {
    lead();
  }

  record = config.IPSOLIS_DATABASE_URL
    ? await startRecord({
        config: { ...config, IPSOLIS_DATABASE_URL: config.IPSOLIS_DATABASE_URL },
        kc,
        namespace: ns,
        log,
        isLeader: () => leading,
        now: clock,
      })
    : undefined;
  void record?.migrated.then(() => {
    schemaReady = true;
  });
  if (!record) log.warn("no IPSOLIS_DATABASE_URL: order history, cost check and audit anchors are off");

  // A slow resync, as controller-runtime does: a permanent error (e.g. a missing RBAC verb, since
  // fixed) is not retried by the queue, so every Order is looked at again now and then.
  const resync = setInterval(() => {
    if (leading) lead();
  }, config.IPSOLIS_RESYNC_SECONDS * 1000);
  resync.unref();

  let stopped = false;
  return {
    port,
    identity,
    isLeader: () => leading,
    record,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(resync);
      await record?.stop();
      await queue.pause();
      await election?.stop();
      await queue.stop();
      await Promise.all(informers.map((i) => i.stop()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      rest.close();
      log.info("operator stopped");
    },
  };
}

// Run as a program: config from the environment (once), graceful shutdown on SIGTERM/SIGINT.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = loadConfig(OperatorEnv, process.env);
  const log = createLogger({ level: config.LOG_LEVEL, name: "operator" });
  const op = await startOperator(config, { log }).catch((err: unknown) => {
    process.stderr.write(
      `ipsolis operator failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      log.info({ sig }, "shutting down");
      void op.stop().then(() => process.exit(0));
    });
  }
}
