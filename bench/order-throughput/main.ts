// Order throughput (issue #11): how close the operator gets to the API server's own write
// capacity, what it costs the API server per Order, and the latency from Order to Job.
//
// One control plane without controller-manager (only Jobs must exist), the CRDs, Orders with
// no approval and one trivial step, each for its own requester (no asset lock contention).
//   1. raw: operator stopped, N creates at concurrency C; once before phase 2 and once after
//      phase 3 (operator stopped again) → raw_per_s, their mean
//   2. operator: N fresh Orders at concurrency C until each has its Job → orders_per_s; the API
//      server's apiserver_request_total before/after gives the operator's requests per Order
//   3. latency: a steady RATE Orders/s for SECONDS → p50/p99 of Order created → Job created
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { get } from "node:https";
import { parse } from "yaml";
import { createLogger } from "../../record/log.ts";
import { startControlPlane } from "../../test/cluster/control-plane.ts";
import { makeRest, APPLY_PATCH, type Rest } from "../../operator/kube/rest.ts";
import { makeInformer } from "../../operator/kube/informer.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);

const N = Number(process.env.IPSOLIS_BENCH_N ?? 1000);
const CONCURRENCY = 16;
const RATE = Number(process.env.IPSOLIS_BENCH_RATE ?? 25);
const SECONDS = Number(process.env.IPSOLIS_BENCH_SECONDS ?? 60);

async function applyCrds(rest: Rest): Promise<void> {
  const files = (await readdir(join(root, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
  for (const f of files) {
    const crd = parse(await readFile(join(root, "crds", f), "utf8")) as { metadata: { name: string } };
    await rest.call({
      method: "PATCH",
      path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      query: { fieldManager: "ipsolis-bench", force: "true" },
      contentType: APPLY_PATCH,
      body: crd,
    });
    for (const deadline = Date.now() + 30_000; ;) {
      const got = await rest.call<{ status?: { conditions?: { type: string; status: string }[] } }>({
        method: "GET",
        path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      });
      if (got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function catalog(rest: Rest, ns: string) {
  await rest.call({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: ns } } });
  const base = `/apis/ipsolis.io/v1alpha1/namespaces/${ns}`;
  await rest.call({
    method: "POST",
    path: `${base}/runbooks`,
    body: {
      apiVersion: "ipsolis.io/v1alpha1",
      kind: "Runbook",
      metadata: { name: "seat-grant" },
      spec: { image: "ipsolis/runner:bench", steps: [{ name: "grant", shell: "bash", script: "true" }] },
    },
  });
  await rest.call({
    method: "POST",
    path: `${base}/assettypes`,
    body: {
      apiVersion: "ipsolis.io/v1alpha1",
      kind: "AssetType",
      metadata: { name: "seat" },
      spec: {
        displayName: "Seat",
        category: "SaaS",
        assignment: { model: "AssignedPersonal" },
        approval: { policy: "None" },
        cost: { amountPerMonth: "1.00", currency: "EUR", costCenter: "BENCH" },
        runbooks: { provision: "seat-grant" },
      },
    },
  });
}

function orderBody(name: string) {
  return {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name },
    spec: { assetType: "seat", requester: { id: name, email: `${name}@example.com` } },
  };
}

const createOrder = (rest: Rest, ns: string, name: string) =>
  rest.call({
    method: "POST",
    path: `/apis/ipsolis.io/v1alpha1/namespaces/${ns}/orders`,
    body: orderBody(name),
  });

/** Creates `names` with `c` workers; resolves with the seconds it took. */
async function createAll(
  rest: Rest,
  ns: string,
  names: string[],
  c: number,
  onCreated?: (n: string) => void,
) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < names.length) {
        const name = names[next++]!;
        await createOrder(rest, ns, name);
        onCreated?.(name);
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

type Counts = Map<string, number>;

/** The API server's own /metrics text (not JSON, so not through the REST client). */
async function metricsText(server: string, caFile: string, token: string): Promise<string> {
  const ca = await readFile(caFile);
  return new Promise<string>((resolve, reject) => {
    get(`${server}/metrics`, { ca, headers: { authorization: `Bearer ${token}` } }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => (body += c.toString()));
      r.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

/** apiserver_request_total by "VERB resource[/subresource]" (WATCH excluded: it is the cache). */
function requestCounts(text: string): Counts {
  const counts: Counts = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as [string, string]),
    );
    if (labels.verb === "WATCH") continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

function diff(a: Counts, b: Counts): Counts {
  const d: Counts = new Map();
  for (const [k, v] of b) {
    const x = v - (a.get(k) ?? 0);
    if (x > 0) d.set(k, x);
  }
  return d;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"]);
const READS = new Set(["GET", "LIST"]);

/** User + system CPU seconds of a process (Linux /proc, clock ticks of 1/100 s). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return NaN;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

export async function run(): Promise<Record<string, unknown>> {
  log(`starting the control plane without controller-manager (N=${N}, concurrency ${CONCURRENCY})`);
  const cp = await startControlPlane({ controllerManager: false, log });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const rest = await makeRest(kc, "ipsolis-bench");
  const scrape = async () => requestCounts(await metricsText(cp.server, cp.caFile, cp.adminToken));
  const op: { stop(): Promise<void>; operator?: true }[] = [];
  try {
    await applyCrds(rest);

    // 1. raw
    await catalog(rest, "bench-raw");
    const rawSecs = await createAll(
      rest,
      "bench-raw",
      Array.from({ length: N }, (_, i) => `r-${i}`),
      CONCURRENCY,
    );
    const rawPerS = N / rawSecs;
    log(`raw: ${N} creates in ${rawSecs.toFixed(2)} s → ${rawPerS.toFixed(0)}/s`);

    // 2. operator
    const ns = "bench-op";
    await catalog(rest, ns);
    const jobSeenAt = new Map<string, number>();
    const silent = createLogger({ level: "silent" });
    const jobs = makeInformer<k8s.V1Job>({
      kc,
      rest,
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
      namespace: ns,
      log: silent,
      onChange: (j, kind) => {
        const o = j.metadata?.labels?.["ipsolis.io/order"];
        if (o && kind === "add" && !jobSeenAt.has(o)) jobSeenAt.set(o, performance.now());
      },
    });
    await jobs.start();
    op.push({ stop: () => jobs.stop() });
    // The operator runs as its own process, as in a cluster (not sharing the bench's event loop).
    const operator = spawn(process.execPath, [join(root, "operator/main.ts")], {
      env: {
        ...process.env,
        KUBECONFIG: cp.kubeconfig,
        IPSOLIS_NAMESPACE: ns,
        IPSOLIS_OPERATOR_PORT: "0",
        IPSOLIS_OPERATOR_HOST: "127.0.0.1",
        IPSOLIS_OPERATOR_CONCURRENCY: "32",
        IPSOLIS_OPERATOR_ID: "bench-operator",
        IPSOLIS_INGEST_URL: "http://ipsolis-api:8080",
        IPSOLIS_INGEST_SECRET: "bench-ingest-secret-0123456789abcdef",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    op.push({
      operator: true,
      stop: async () => {
        if (operator.exitCode !== null) return;
        const exited = new Promise((r) => operator.once("exit", r));
        operator.kill("SIGTERM");
        await exited;
      },
    });
    for (const deadline = Date.now() + 30_000; ;) {
      const lease = await rest
        .call<k8s.V1Lease>({
          method: "GET",
          path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/ipsolis-operator-leader`,
        })
        .catch(() => undefined);
      if (lease?.spec?.holderIdentity === "bench-operator") break;
      if (operator.exitCode !== null || Date.now() > deadline)
        throw new Error("operator did not become leader");
      await new Promise((r) => setTimeout(r, 50));
    }
    const names = Array.from({ length: N }, (_, i) => `o-${i}`);
    const before = await scrape();
    const cpu0 = await cpuSeconds(operator.pid);
    const t0 = performance.now();
    await createAll(rest, ns, names, CONCURRENCY);
    for (const deadline = Date.now() + 300_000; names.some((n) => !jobSeenAt.has(n));) {
      if (Date.now() > deadline) throw new Error(`only ${jobSeenAt.size} of ${N} Jobs after 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const opSecs = (Math.max(...names.map((n) => jobSeenAt.get(n)!)) - t0) / 1000;
    const after = await scrape();
    const operatorCpuMsPerOrder = (((await cpuSeconds(operator.pid)) - cpu0) * 1000) / N;
    const delta = diff(before, after);
    // The bench's own requests in this window: N Order creates and the two scrapes (GET /metrics
    // is not counted by apiserver_request_total's resource labels).
    delta.set("POST orders", (delta.get("POST orders") ?? 0) - N);
    const writes: Record<string, number> = {};
    const reads: Record<string, number> = {};
    let mutating = N;
    for (const [k, v] of [...delta].sort()) {
      const verb = k.split(" ")[0]!;
      if (v <= 0) continue;
      if (MUTATING.has(verb)) {
        writes[k] = Math.round((v / N) * 1000) / 1000;
        mutating += v;
      } else if (READS.has(verb)) reads[k] = Math.round((v / N) * 1000) / 1000;
    }
    const ordersPerS = N / opSecs;
    const mutatingPerS = mutating / opSecs;
    log(`operator: ${N} Orders to Jobs in ${opSecs.toFixed(2)} s → ${ordersPerS.toFixed(0)}/s`);

    // 3. latency at a steady rate
    const createdAt = new Map<string, number>();
    const total = RATE * SECONDS;
    const start = performance.now();
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const name = `l-${i}`;
      inflight.push(
        createOrder(rest, ns, name).then(() => {
          createdAt.set(name, performance.now());
        }),
      );
    }
    await Promise.all(inflight);
    const lat = Array.from({ length: total }, (_, i) => `l-${i}`);
    for (const deadline = Date.now() + 120_000; lat.some((n) => !jobSeenAt.has(n));) {
      if (Date.now() > deadline) throw new Error("latency phase: Jobs missing after 120 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = lat.map((n) => Math.max(0, jobSeenAt.get(n)! - createdAt.get(n)!));
    const p50 = percentile(ms, 50);
    const p99 = percentile(ms, 99);
    log(`latency at ${RATE}/s for ${SECONDS} s: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);

    // 1b. raw again, operator stopped, now that the store holds what phases 2 and 3 made: the
    // API server's capacity drifts over a run (a fresh store, a busy machine), so the ratio
    // uses the mean of the raw phase before and after the operator's.
    await op.find((o) => o.operator)?.stop();
    await catalog(rest, "bench-raw-after");
    const rawAfterSecs = await createAll(
      rest,
      "bench-raw-after",
      Array.from({ length: N }, (_, i) => `r-${i}`),
      CONCURRENCY,
    );
    const rawAfterPerS = N / rawAfterSecs;
    const rawMeanPerS = (rawPerS + rawAfterPerS) / 2;
    const ratio = mutatingPerS / rawMeanPerS;
    log(`raw after: ${N} creates in ${rawAfterSecs.toFixed(2)} s → ${rawAfterPerS.toFixed(0)}/s`);

    const perOrder = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    return {
      n: N,
      concurrency: CONCURRENCY,
      raw_per_s: Math.round(rawMeanPerS * 10) / 10,
      raw_before_per_s: Math.round(rawPerS * 10) / 10,
      raw_after_per_s: Math.round(rawAfterPerS * 10) / 10,
      mutating_per_s: Math.round(mutatingPerS * 10) / 10,
      orders_per_s: Math.round(ordersPerS * 10) / 10,
      ratio: Math.round(ratio * 100) / 100,
      writes_per_order: Math.round(perOrder(writes) * 1000) / 1000,
      reads_per_order: Math.round(perOrder(reads) * 1000) / 1000,
      writes_by_request: writes,
      reads_by_request: reads,
      operator_cpu_ms_per_order: Math.round(operatorCpuMsPerOrder * 100) / 100,
      p50_ms: Math.round(p50),
      p99_ms: Math.round(p99),
      latency_rate_per_s: RATE,
      latency_seconds: SECONDS,
    };
  } finally {
    for (const o of op.reverse()) await o.stop().catch(() => undefined);
    rest.close();
    await cp.stop();
  }
}
