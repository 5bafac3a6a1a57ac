// A person holding n Provisioned assets leaves: time from the signed HR webhook request until
// all n Deprovision Orders exist and each has its audit row, versus creating n such Deprovision
// Orders directly with the same parallelism (no Postgres, no audit), in one run against one
// real control plane and Postgres. ratio = fanout_ms / direct_ms (target ≤ 1.5).
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { pino } from "pino";
import { startControlPlane } from "../../test/cluster/control-plane.ts";
import { startPostgres } from "../../test/support/postgres.ts";
import { readCrds } from "../../test/support/crds.ts";
import { buildApp } from "../../api/app.ts";
import { createPool, migrate } from "../../record/db.ts";
import { signBody } from "../../api/leaver/signature.ts";
import { drainFanouts } from "../../api/leaver/background.ts";
import { OrderResource } from "../../crds/generated/index.ts";

const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);
const N = 500;
/** The fan-out's own parallelism (api/leaver/fanout.ts), used for the direct baseline too. */
const CONCURRENCY = 16;
const SECRET = "bench-hr-secret-0123456789-0123456789-0123";
const PERSON = { id: "leaver@example.com", email: "leaver@example.com" };

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}

export async function run(): Promise<Record<string, unknown>> {
  const [cp, pgsrv] = await Promise.all([
    startControlPlane({ log, controllerManager: false }),
    startPostgres({ log }),
  ]);
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (const crd of await readCrds()) {
      await objects.patch(
        crd,
        undefined,
        undefined,
        "ipsolis-bench",
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    }
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name: "orders.ipsolis.io" });
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const name of ["bench-leaver", "bench-direct", "bench-direct-2"])
      await core.createNamespace({ body: { metadata: { name } } });
    const ns = "bench-leaver";
    const create = (namespace: string, body: object) =>
      custom.createNamespacedCustomObject({
        group: OrderResource.group,
        version: OrderResource.version,
        namespace,
        plural: OrderResource.plural,
        body,
      });
    const order = (name: string, spec: object) => ({
      apiVersion: OrderResource.apiVersion,
      kind: "Order",
      metadata: { name },
      spec,
    });
    // The API server may still be initialising the new kind's storage: retry the first create.
    for (let i = 0; ; i++) {
      try {
        await create(
          "bench-direct",
          order("warmup-0", { assetType: "a", action: "Provision", requester: PERSON }),
        );
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    log(`setting up ${N} Provisioned Orders`);
    const targets = Array.from({ length: N }, (_, i) => `asset-${String(i).padStart(4, "0")}`);
    const models = ["m365-e3", "shared-mailbox", "dev-vm"];
    await pool(targets, CONCURRENCY, async (name) => {
      const i = Number(name.slice(-4));
      await create(ns, order(name, { assetType: models[i % 3], action: "Provision", requester: PERSON }));
      for (const phase of ["Scheduled", "Processing", "Provisioned"]) {
        await custom.patchNamespacedCustomObjectStatus(
          {
            group: OrderResource.group,
            version: OrderResource.version,
            namespace: ns,
            plural: OrderResource.plural,
            name,
            fieldManager: "ipsolis-operator",
            force: true,
            body: {
              apiVersion: OrderResource.apiVersion,
              kind: "Order",
              metadata: { name },
              status: { phase },
            },
          },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
        );
      }
    });
    // Warm both paths (connections, the CRD's validators) before timing.
    await pool(
      Array.from({ length: 20 }, (_, i) => `warmup-${i + 1}`),
      CONCURRENCY,
      (name) =>
        create("bench-direct", order(name, { assetType: "a", action: "Provision", requester: PERSON })),
    );

    // The direct baseline runs before and after the fan-out (machine load drifts); its mean counts.
    const direct = async (namespace: string) => {
      log(`direct: creating ${N} Deprovision Orders in ${namespace}`);
      const t = performance.now();
      await pool(targets, CONCURRENCY, (target) =>
        create(namespace, {
          // The same object the fan-out creates: labels, reason and all.
          ...order(`${target}-deprovision`, {
            assetType: "dev-vm",
            action: "Deprovision",
            target,
            requester: PERSON,
            reason: "Leaver (reported by hr-webhook, event 00000000-0000-4000-8000-000000000000)",
          }),
          metadata: {
            name: `${target}-deprovision`,
            labels: {
              "ipsolis.io/leaver-event": "00000000-0000-4000-8000-000000000000",
              "ipsolis.io/reason": "leaver",
            },
          },
        }),
      );
      return performance.now() - t;
    };
    const directBefore = await direct("bench-direct");

    const dbName = "bench";
    const admin = new pg.Client({ connectionString: pgsrv.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    await migrate(pgsrv.urlFor(dbName));
    const db = createPool(pgsrv.urlFor(dbName), { max: 20 });
    const app = await buildApp({
      log: pino({ level: "silent" }),
      db,
      kc,
      namespace: ns,
      now: () => new Date(),
      config: { IPSOLIS_HR_WEBHOOK_SECRET: SECRET },
    });
    try {
      log(`fan-out: the leaver webhook for a person holding ${N} assets`);
      const body = JSON.stringify({ email: PERSON.email });
      const wall0 = Date.now();
      const t0 = performance.now();
      const res = await app.inject({
        method: "POST",
        url: "/hr/leaver",
        headers: { "content-type": "application/json", "x-hub-signature-256": signBody(SECRET, body) },
        payload: body,
      });
      if (res.statusCode !== 202) throw new Error(`leaver webhook answered ${res.statusCode}: ${res.body}`);
      await drainFanouts(app.deps);
      const fanoutMs = performance.now() - t0;

      const list = (await custom.listNamespacedCustomObject({
        group: OrderResource.group,
        version: OrderResource.version,
        namespace: ns,
        plural: OrderResource.plural,
      })) as { items: { spec: { action?: string } }[] };
      const deprovisions = list.items.filter((o) => o.spec.action === "Deprovision").length;
      const audited = (
        await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM audit_events WHERE action = 'deprovision_queued'",
        )
      ).rows[0]!.n;
      if (deprovisions !== N || audited !== N) {
        throw new Error(
          `expected ${N} Deprovision Orders and audit rows, found ${deprovisions} and ${audited}`,
        );
      }
      // Where the fan-out's time went, from the audit rows' own timestamps.
      const at = await db.query<{ action: string; ms: number }>(
        `SELECT action, (extract(epoch FROM max(at)) * 1000 - $1)::int AS ms FROM audit_events
          WHERE action IN ('leaver_recorded', 'leaver_fanout_started', 'deprovision_queued', 'leaver_fanout_finished')
          GROUP BY action`,
        [wall0],
      );
      const phase = (a: string) => at.rows.find((r) => r.action === a)?.ms ?? null;
      const directAfter = await direct("bench-direct-2");
      const directMs = (directBefore + directAfter) / 2;
      const ratio = fanoutMs / directMs;
      log(`fan-out ${Math.round(fanoutMs)} ms, direct ${Math.round(directMs)} ms, ratio ${ratio.toFixed(2)}`);
      return {
        bench: "leaver-fanout",
        n: N,
        fanout_ms: Math.round(fanoutMs),
        direct_ms: Math.round(directMs),
        ratio: Number(ratio.toFixed(3)),
        direct_runs_ms: [Math.round(directBefore), Math.round(directAfter)],
        fanout_phases_ms: {
          recorded: phase("leaver_recorded"),
          orders_listed: phase("leaver_fanout_started"),
          last_audited: phase("deprovision_queued"),
          finished: phase("leaver_fanout_finished"),
        },
        concurrency: CONCURRENCY,
      };
    } finally {
      await app.close();
      await db.end();
    }
  } finally {
    await Promise.allSettled([cp.stop(), pgsrv.stop()]);
  }
}
