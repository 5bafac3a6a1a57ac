// Step output through the ingest path vs raw batched INSERT, in one run, into the same
// database of a private Postgres:
//   raw     N rows, 1000 per multi-row INSERT (unnest), one connection, sequential
//   ingest  the same N rows through the real runner ingest client (operator/runner/ingest.ts,
//           its default window of two batches) → real Fastify app on loopback → token check,
//           zod, INSERT + NOTIFY
// `ratio` is ingest / raw, the figure. For a fair reading two more paths run alongside:
// raw INSERTs on two connections at once (the same concurrency the ingest window uses) and the
// ingest client one batch at a time (stop-and-wait), each with its own ratio.
// and the line-printed → row-visible latency of a paced run (lines printed at a steady rate,
// as a chatty step would), measured by a LISTEN client on the commit notifications.
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { pino } from "pino";
import { parseArgs } from "node:util";
import { buildApp } from "../../api/app.ts";
import { createPool, migrate } from "../../record/db.ts";
import { mintIngestToken } from "../../record/ingest-token.ts";
import { STEP_OUTPUT_CHANNEL, type StepOutputNotice } from "../../record/step-output.ts";
import { createIngest } from "../../operator/runner/ingest.ts";
import type { RunnerEvent } from "../../operator/runner/events.ts";
import { startPostgres } from "../../test/support/postgres.ts";

const SECRET = "bench-ingest-secret-0123456789abcdef";
const NS = "bench";

function lineOf(seq: number): RunnerEvent {
  return {
    ts: new Date().toISOString(),
    seq,
    kind: "line",
    step: "bench-step",
    attempt: 1,
    stream: "stdout",
    text: `line ${seq}: ${"lorem ipsum dolor sit amet ".repeat(3)}`,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Raw INSERTs of `lines` in batches; with `connections` > 1, batch i goes to connection i mod n. */
async function rawInsert(
  db: pg.Pool,
  job: string,
  lines: RunnerEvent[],
  batch: number,
  connections = 1,
): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, (_, k) => rawInsertOn(db, job, lines, batch, k, connections)),
  );
  return performance.now() - t0;
}

async function rawInsertOn(
  db: pg.Pool,
  job: string,
  lines: RunnerEvent[],
  batch: number,
  k: number,
  connections: number,
): Promise<void> {
  const c = await db.connect();
  try {
    for (let i = k * batch; i < lines.length; i += batch * connections) {
      const b = lines.slice(i, i + batch);
      await c.query(
        `INSERT INTO step_output_lines (namespace, order_name, job, seq, ts, kind, step, attempt, stream, text)
         SELECT $1, $2, $3, u.seq, u.ts, u.kind, u.step, u.attempt, u.stream, u.text
           FROM unnest($4::bigint[], $5::timestamptz[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])
             AS u(seq, ts, kind, step, attempt, stream, text)`,
        [
          NS,
          "bench-raw",
          job,
          b.map((l) => l.seq),
          b.map((l) => l.ts),
          b.map((l) => l.kind),
          b.map((l) => l.step),
          b.map((l) => l.attempt),
          b.map((l) => l.stream),
          b.map((l) => l.text),
        ],
      );
    }
  } finally {
    c.release();
  }
}

export async function run(args: string[] = []): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      n: { type: "string" },
      batch: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
    },
  });
  const n = Number(values.n ?? 100_000);
  const batch = Number(values.batch ?? 1000);
  const rate = Number(values.rate ?? 2000);
  const seconds = Number(values.seconds ?? 5);

  const pgsrv = await startPostgres({ log: () => undefined });
  const admin = new pg.Client({ connectionString: pgsrv.adminUrl });
  await admin.connect();
  await admin.query("CREATE DATABASE bench");
  await admin.end();
  const url = pgsrv.urlFor("bench");
  await migrate(url);
  const db = createPool(url, { max: 10 });
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "none", server: "https://127.0.0.1:9" }],
    users: [{ name: "none" }],
    contexts: [{ name: "none", cluster: "none", user: "none" }],
    currentContext: "none",
  });
  const app = await buildApp({
    log: pino({ level: "silent" }),
    db,
    kc,
    namespace: NS,
    now: () => new Date(),
    config: { IPSOLIS_INGEST_SECRET: SECRET },
  });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  await listener.query(`LISTEN ${STEP_OUTPUT_CHANNEL}`);

  try {
    const token = (job: string, order: string) =>
      mintIngestToken(SECRET, { namespace: NS, job, order, expiresAt: new Date(Date.now() + 3600_000) });
    const warn = () => undefined;

    // Warm-up (JIT, plans, connections) on both paths.
    await rawInsert(
      db,
      "warm-raw",
      Array.from({ length: 2000 }, (_, i) => lineOf(i + 1)),
      batch,
    );
    const warm = createIngest({
      url: base,
      token: token("warm-ingest", "warm"),
      batchLines: batch,
      bufferLines: 20_000,
      warn,
    });
    for (let i = 1; i <= 2000; i++) warm.push(lineOf(i));
    await warm.flush(60_000);

    // ---- throughput: the two paths interleaved in rounds, so load drift on a shared machine
    // hits both alike ----
    const rounds = 10;
    const perRound = Math.ceil(n / rounds);
    const lines = Array.from({ length: n }, (_, i) => lineOf(i + 1));
    const client = (job: string, maxInFlight: number) =>
      createIngest({
        url: base,
        token: token(job, `bench-${job}`),
        batchLines: batch,
        bufferLines: 20_000,
        maxInFlight,
        warn,
      });
    const ingest = client("ingest-1", 2);
    const serial = client("serial-1", 1);
    const through = async (c: ReturnType<typeof createIngest>, chunk: RunnerEvent[]) => {
      const t0 = performance.now();
      for (const l of chunk) {
        if (!c.hasRoom()) await c.waitForRoom();
        c.push(l);
      }
      const left = await c.flush(300_000);
      if (left.unsent > 0) throw new Error(`ingest left ${left.unsent} lines unsent: ${left.gaveUp ?? ""}`);
      return performance.now() - t0;
    };
    let rawMs = 0;
    let raw2Ms = 0;
    let ingestMs = 0;
    let serialMs = 0;
    for (let r = 0; r < rounds; r++) {
      const chunk = lines.slice(r * perRound, (r + 1) * perRound);
      rawMs += await rawInsert(db, "raw-1", chunk, batch);
      ingestMs += await through(ingest, chunk);
      raw2Ms += await rawInsert(db, "raw-2", chunk, batch, 2);
      serialMs += await through(serial, chunk);
    }
    for (const job of ["ingest-1", "serial-1"]) {
      const stored = await db.query<{ n: number }>(
        "SELECT count(DISTINCT seq)::int AS n FROM step_output_lines WHERE job = $1",
        [job],
      );
      if (stored.rows[0]?.n !== n) throw new Error(`${job} stored ${stored.rows[0]?.n} of ${n} lines`);
    }

    // ---- latency: a paced step printing `rate` lines/s for `seconds` s ----
    const printedAt = new Map<number, number>();
    const latencies: number[] = [];
    listener.on("notification", (m) => {
      const seen = performance.now();
      const notice = JSON.parse(m.payload ?? "{}") as StepOutputNotice;
      if (notice.job !== "paced-1") return;
      for (let s = notice.minSeq; s <= notice.maxSeq; s++) {
        const p = printedAt.get(s);
        if (p !== undefined) latencies.push(seen - p);
      }
    });
    const paced = createIngest({
      url: base,
      token: token("paced-1", "bench-paced"),
      batchLines: batch,
      bufferLines: 20_000,
      warn,
    });
    const total = rate * seconds;
    const start = performance.now();
    for (let s = 1; s <= total; s++) {
      const due = start + ((s - 1) * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      printedAt.set(s, performance.now());
      paced.push(lineOf(s));
    }
    await paced.flush(60_000);
    const deadline = Date.now() + 10_000;
    while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    latencies.sort((a, b) => a - b);

    const perSecond = (ms: number) => n / (ms / 1000);
    const ratio = (a: number, b: number) => Number((perSecond(a) / perSecond(b)).toFixed(3));
    return {
      bench: "audit-ingest",
      n,
      batch,
      ingest_lines_per_s: Math.round(perSecond(ingestMs)),
      raw_lines_per_s: Math.round(perSecond(rawMs)),
      ratio: ratio(ingestMs, rawMs),
      raw_2conn_lines_per_s: Math.round(perSecond(raw2Ms)),
      ratio_vs_raw_2conn: ratio(ingestMs, raw2Ms),
      ingest_serial_lines_per_s: Math.round(perSecond(serialMs)),
      ratio_serial: ratio(serialMs, rawMs),
      p50_ms: Number(percentile(latencies, 50).toFixed(1)),
      p99_ms: Number(percentile(latencies, 99).toFixed(1)),
      latency_samples: latencies.length,
      paced_lines_per_s: rate,
      targets: { ratio: ">= 0.5", p99_ms: "< 250" },
    };
  } finally {
    await listener.end().catch(() => undefined);
    await app.close();
    await db.end();
    await pgsrv.stop();
  }
}
