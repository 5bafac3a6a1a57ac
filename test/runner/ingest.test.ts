// The runner posting its events to a real local HTTP server standing in for the API's ingest
// endpoint: push-back (429/503 + Retry-After) is retried without losing or reordering a line,
// batches respect the size, the bounded buffer applies back-pressure, and a permanent refusal
// does not fail the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { RunnerEvent } from "../../operator/runner/events.ts";
import { bash, runRunner } from "./run.ts";

type Received = { auth: string | undefined; lines: RunnerEvent[]; status: number };

async function ingestServer(
  t: Pick<TestContext, "after">,
  answer: (n: number, res: ServerResponse) => number,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  let n = 0;
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      assert.equal(req.method, "POST");
      assert.equal(req.url, "/ingest/v1/lines");
      const lines = (JSON.parse(body) as { lines: RunnerEvent[] }).lines;
      const status = answer(++n, res);
      received.push({ auth: req.headers.authorization, lines, status });
      res.statusCode = status;
      res.setHeader("content-type", "application/json");
      res.end(
        status === 200 ? JSON.stringify({ accepted: lines.length }) : JSON.stringify({ error: "busy" }),
      );
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, received };
}

const accepted = (received: Received[]) => received.filter((r) => r.status === 200).flatMap((r) => r.lines);

test("429 and 503 are retried (Retry-After honoured); every event arrives once, in order", async (t) => {
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
  assert.deepEqual(got, r.events, "the server accepted exactly what the runner printed, in order");
  assert.ok(received.every((x) => x.auth === "Bearer tok-123"));
  assert.ok(
    received.every((x) => x.lines.length <= 7),
    "batches hold at most IPSOLIS_INGEST_BATCH_LINES",
  );
  assert.equal(received[0]?.status, 429);
  assert.deepEqual(
    received[1]?.lines.slice(0, received[0]?.lines.length),
    received[0]?.lines,
    "the next request starts with the refused batch",
  );
  assert.ok(r.ms >= 1000, "waited for Retry-After");
  assert.match(r.stderr, /ingest pushed back; retrying/);
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
