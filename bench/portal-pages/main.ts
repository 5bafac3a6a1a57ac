// One employee's pages (My IT, the order list, the approvals inbox) with 20,000 Orders of other
// people in the namespace versus 100: p99 of each page over repeated requests through the real
// app (Fastify inject, real kube-apiserver and Postgres). The pages read from the index labels
// (docs/decisions/0010-portal-read-model.md), so the ratio should stay near 1 (target ≤ 1.5).
// The 20,000 Orders are created in parallel through the API server; that time is reported too.
import * as k8s from "@kubernetes/client-node";
import { pino } from "pino";
import { startControlPlane } from "../../test/cluster/control-plane.ts";
import { startPostgres } from "../../test/support/postgres.ts";
import { readCrds } from "../../test/support/crds.ts";
import { buildApp } from "../../api/app.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { createSession } from "../../record/identity/sessions.ts";
import { OrderResource } from "../../crds/generated/index.ts";
import { orderIndexLabels } from "../../api/policy/order-index.ts";

const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);
const SMALL = 100;
const LARGE = Number(process.env.IPSOLIS_BENCH_ORDERS ?? 20_000);
const REQUESTS = 60;
const CONCURRENCY = 32;
const ME = "ann@corp.example";
const PAGES = ["/portal", "/portal/orders", "/portal/approvals"];

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
};

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
    for (const crd of await readCrds())
      await objects.patch(
        crd,
        undefined,
        undefined,
        "ipsolis-bench",
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name: "orders.ipsolis.io" });
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const db = createPool(pgsrv.adminUrl, { max: 8 });
    await migrate(pgsrv.adminUrl);
    await createEmployee(
      db,
      {
        userName: ME,
        externalId: null,
        employeeNumber: null,
        displayName: "Ann Example",
        emails: [ME],
        active: true,
        department: "Finance",
        costCenter: "CC-1",
        manager: null,
      },
      { userName: ME },
      new Date(),
    );
    const sid = await createSession(
      db,
      { employeeEmail: ME, employeeId: ME, displayName: "Ann Example" },
      new Date(Date.now() + 3600_000),
    );

    const order = (name: string, requester: { id: string; email: string; manager?: string }) => ({
      apiVersion: OrderResource.apiVersion,
      kind: "Order",
      metadata: { name, labels: { "ipsolis.io/asset-type": "vpn", ...orderIndexLabels(requester) } },
      spec: { assetType: "vpn", action: "Provision", requester },
    });
    const create = (namespace: string, body: object) =>
      custom.createNamespacedCustomObject({
        group: OrderResource.group,
        version: OrderResource.version,
        namespace,
        plural: OrderResource.plural,
        body,
      });

    /** A namespace with `others` Orders of other people, 10 of mine and 5 waiting for me. */
    async function fill(ns: string, others: number): Promise<number> {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await custom.createNamespacedCustomObject({
        group: "ipsolis.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "assettypes",
        body: {
          apiVersion: "ipsolis.io/v1alpha1",
          kind: "AssetType",
          metadata: { name: "vpn" },
          spec: {
            displayName: "VPN",
            category: "Network",
            assignment: { model: "DedicatedShared" },
            approval: { policy: "Manager" },
            cost: { amountPerMonth: "1.00", currency: "EUR", costCenter: "IT" },
            runbooks: { provision: "vpn-grant", deprovision: "vpn-revoke" },
            entitlement: { everyone: true },
          },
        },
      });
      const items = [
        ...Array.from({ length: others }, (_, i) =>
          order(`o-${i}`, { id: `u${i}`, email: `u${i}@corp.example`, manager: `m${i % 500}@corp.example` }),
        ),
        ...Array.from({ length: 10 }, (_, i) => order(`mine-${i}`, { id: ME, email: ME })),
        ...Array.from({ length: 5 }, (_, i) =>
          order(`report-${i}`, { id: `r${i}`, email: `r${i}@corp.example`, manager: ME }),
        ),
      ];
      const t0 = performance.now();
      let done = 0;
      await pool(items, CONCURRENCY, async (b) => {
        for (let attempt = 0; ; attempt++) {
          try {
            await create(ns, b);
            break;
          } catch (err) {
            // A just-created kind answers 429 for a moment; retry briefly.
            if (attempt > 50) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        if (++done % 2000 === 0) log(`${ns}: ${done}/${items.length} Orders`);
      });
      return performance.now() - t0;
    }

    async function measure(ns: string): Promise<Record<string, number>> {
      const app = await buildApp({
        log: pino({ level: "silent" }),
        db,
        kc,
        namespace: ns,
        now: () => new Date(),
      });
      try {
        const out: Record<string, number> = {};
        const all: number[] = [];
        for (const url of PAGES) {
          const times: number[] = [];
          for (let i = 0; i < REQUESTS + 5; i++) {
            const t0 = performance.now();
            const r = await app.inject({ method: "GET", url, cookies: { ipsolis_session: sid } });
            const ms = performance.now() - t0;
            if (r.statusCode !== 200)
              throw new Error(`${url} answered ${r.statusCode}: ${r.body.slice(0, 200)}`);
            if (i >= 5) times.push(ms); // the first few warm caches and connections
          }
          out[url] = p99(times);
          all.push(...times);
        }
        out.all = p99(all);
        return out;
      } finally {
        await app.close();
      }
    }

    const createSmallMs = await fill("bench-small", SMALL);
    const small = await measure("bench-small");
    log(`${SMALL} Orders: p99 ${small.all!.toFixed(1)} ms`);
    const createLargeMs = await fill("bench-large", LARGE);
    log(`created ${LARGE} Orders in ${(createLargeMs / 1000).toFixed(1)} s`);
    const large = await measure("bench-large");
    log(`${LARGE} Orders: p99 ${large.all!.toFixed(1)} ms`);
    await db.end();
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      n: LARGE,
      small_n: SMALL,
      requests_per_page: REQUESTS,
      p99_small_ms: r(small.all!),
      p99_large_ms: r(large.all!),
      pages_small_ms: Object.fromEntries(PAGES.map((p) => [p, r(small[p]!)])),
      pages_large_ms: Object.fromEntries(PAGES.map((p) => [p, r(large[p]!)])),
      create_large_s: r(createLargeMs / 1000),
      create_small_s: r(createSmallMs / 1000),
      ratio: Math.round((large.all! / small.all!) * 100) / 100,
    };
  } finally {
    await Promise.allSettled([cp.stop(), pgsrv.stop()]);
  }
}
