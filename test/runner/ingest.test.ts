// The runner posting its events to a real local HTTP server standing in for the API's ingest
// endpoint: push-back (429/503 + Retry-After) is retried without losing a line, batches respect
// the size, at most two travel at once and a step start/end travels alone, the bounded buffer
// applies back-pressure, and a permanent refusal does not fail the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { RunnerEvent } from "../../operator/runner/events.ts";
import { bash, runRunner } from "./run.ts";

type Received = {
  auth: string | undefined;
  lines: RunnerEvent[];
  status: number;
  /** Other requests being answered while this one was (none = it travelled alone). */
  concurrent: number;
};

async function ingestServer(
  t: Pick<TestContext, "after">,
  answer: (n: number, res: ServerResponse) => number,
  opts: { delayMs?: number } = {},
): Promise<{ url: string; received: Received[]; maxConcurrent: () => number }> {
  const received: Received[] = [];
  let n = 0;
  let open = 0;
  let maxOpen = 0;
  const live = new Set<Received>();
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    open++;
    maxOpen = Math.max(maxOpen, open);
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      assert.equal(req.method, "POST");
      assert.equal(req.url, "/ingest/v1/lines");
      const lines = (JSON.parse(body) as { lines: RunnerEvent[] }).lines;
      const status = answer(++n, res);
      const r: Received = { auth: req.headers.authorization, lines, status, concurrent: live.size };
      for (const other of live) other.concurrent++;
      live.add(r);
      received.push(r);
      setTimeout(() => {
        live.delete(r);
        open--;
        res.statusCode = status;
        res.setHeader("content-type", "application/json");
        res.end(
          status === 200 ? JSON.stringify({ accepted: lines.length }) : JSON.stringify({ error: "busy" }),
        );
      }, opts.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    received,
    maxConcurrent: () => maxOpen,
  };
}

/** What the server accepted, by seq (batches may be accepted out of order). */
const accepted = (received: Received[]) =>
  received
    .filter((r) => r.status === 200)
    .flatMap((r) => r.lines)
    .sort((a, b) => a.seq - b.seq);

test("429 and 503 are retried (Retry-After honoured); every event arrives once", async (t) => {
  const { url, received } = await ingestServer(t, (n, res) => {
    if (n === 1) {
      res.setHeader("retry-after", "1");
      return 429;
    }
    if (n === 3) return 503;
    return 200;
  });
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [bash("many", "for i in $(seq 1 50); do echo line-$i; done"), bash("more", "echo done")],
    },
    { IPSOLIS_INGEST_URL: url, IPSOLIS_INGEST_TOKEN: "tok-123", IPSOLIS_INGEST_BATCH_LINES: "7" },
  );
  assert.equal(r.code, 0, r.stderr);
  const got = accepted(received);
  assert.deepEqual(got, r.events, "the server accepted exactly what the runner printed, each once");
  assert.ok(received.every((x) => x.auth === "Bearer tok-123"));
  assert.ok(
    received.every((x) => x.lines.length <= 7),
    "batches hold at most IPSOLIS_INGEST_BATCH_LINES",
  );
  assert.equal(received[0]?.status, 429);
  for (const refused of received.filter((x) => x.status !== 200)) {
    assert.ok(
      received.some((x) => x.status === 200 && JSON.stringify(x.lines) === JSON.stringify(refused.lines)),
      "a refused batch is sent again, whole",
    );
  }
  assert.ok(r.ms >= 1000, "waited for Retry-After");
  assert.match(r.stderr, /ingest pushed back; retrying/);
});

test("two batches of plain lines travel at once; a step start or end travels alone, after everything before it", async (t) => {
  const { url, received, maxConcurrent } = await ingestServer(t, () => 200, { delayMs: 30 });
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash("chatty", "for i in $(seq 1 300); do echo chatty-$i; done"),
        bash("again", "for i in $(seq 1 300); do echo again-$i; done"),
      ],
    },
    { IPSOLIS_INGEST_URL: url, IPSOLIS_INGEST_TOKEN: "tok", IPSOLIS_INGEST_BATCH_LINES: "10" },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(accepted(received), r.events, "every event once");
  assert.equal(maxConcurrent(), 2, "two batches at once, never more");
  assert.ok(
    received.some((x) => x.concurrent > 0),
    "plain lines did travel side by side",
  );
  const control = received.filter((x) => x.lines.some((e) => e.kind !== "line"));
  assert.equal(
    control.flatMap((x) => x.lines).filter((e) => e.kind !== "line").length,
    r.events.filter((e) => e.kind !== "line").length,
    "step starts and ends, each in a batch of its own kind",
  );
  for (const c of control) {
    assert.equal(
      c.concurrent,
      0,
      `a batch with ${c.lines.find((e) => e.kind !== "line")?.kind} travelled alone`,
    );
    const first = c.lines[0]!.seq;
    const before = received.indexOf(c);
    assert.ok(
      accepted(received.slice(0, before)).filter((e) => e.seq < first).length === first - 1,
      "everything before it was accepted first",
    );
  }
});

test("back-pressure: a small buffer and a slow endpoint lose nothing", async (t) => {
  let slowUntil = Date.now() + 1500;
  const { url, received } = await ingestServer(t, (_n, res) => {
    if (Date.now() < slowUntil) {
      res.setHeader("retry-after", "0.2");
      return 429;
    }
    slowUntil = 0;
    return 200;
  });
  const r = await runRunner(
    t,
    { runbook: "demo", steps: [bash("flood", "for i in $(seq 1 500); do echo flood-$i; done")] },
    {
      IPSOLIS_INGEST_URL: url,
      IPSOLIS_INGEST_TOKEN: "tok",
      IPSOLIS_INGEST_BATCH_LINES: "20",
      IPSOLIS_INGEST_BUFFER_LINES: "10",
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const got = accepted(received);
  assert.equal(got.length, r.events.length);
  assert.deepEqual(
    got.map((e) => e.seq),
    r.events.map((e) => e.seq),
  );
  assert.equal(got.filter((e) => e.kind === "line").length, 500);
});

test("a permanent refusal (401) stops ingest but not the run; events stay on stdout", async (t) => {
  const { url, received } = await ingestServer(t, () => 401);
  const r = await runRunner(
    t,
    { runbook: "demo", steps: [bash("a", "echo hi")] },
    { IPSOLIS_INGEST_URL: url, IPSOLIS_INGEST_TOKEN: "expired" },
  );
  assert.equal(r.code, 0);
  assert.equal(received.length, 1);
  assert.equal(r.events.at(-1)?.kind, "run_end");
  assert.match(r.stderr, /ingest gave up; events remain on stdout only/);
  assert.ok(!r.stderr.includes("expired"), "the token is not logged");
});

test("an unreachable endpoint is retried until the flush deadline, then the runner exits", async (t) => {
  // A port nobody listens on.
  const { url } = await ingestServer(t, () => 200);
  const dead = url.replace(/:\d+$/, ":1");
  const r = await runRunner(
    t,
    { runbook: "demo", steps: [bash("a", "echo hi")] },
    { IPSOLIS_INGEST_URL: dead, IPSOLIS_INGEST_TOKEN: "tok", IPSOLIS_INGEST_FLUSH_SECONDS: "1" },
  );
  assert.equal(r.code, 0);
  assert.ok(r.ms < 8000, `exited after the flush deadline (${r.ms} ms)`);
  assert.match(r.stderr, /events not delivered to the ingest endpoint/);
});
