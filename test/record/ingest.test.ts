// Live step output through the real API wiring: the per-Job token, batched idempotent storage,
// audit rows for step start/end, back-pressure without loss, and an order's log followed as
// server-sent events: lines are visible (stream and table) before the step ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request, type IncomingMessage } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newApi, addToken, bearer, type Api } from "../api/support.ts";
import { eventually, testKubeConfig } from "../support/kube.ts";
import { applyCrds } from "../support/crds.ts";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { mintIngestToken } from "../../record/ingest-token.ts";
import type { RunnerLine } from "../../record/step-output.ts";
import { FOLLOW_GAP_MS } from "../../api/routes/audit/index.ts";

const SECRET = "ingest-secret-for-tests-0123456789abcdef";

async function api(t: Parameters<typeof newApi>[0]): Promise<Api> {
  return newApi(t, { config: { IPSOLIS_INGEST_SECRET: SECRET } });
}

function tokenFor(a: Api, job: string, order: string, opts: { ns?: string; expiresAt?: Date } = {}) {
  return mintIngestToken(SECRET, {
    namespace: opts.ns ?? a.namespace,
    job,
    order,
    expiresAt: opts.expiresAt ?? new Date(a.clock.now.getTime() + 3600_000),
  });
}

function line(seq: number, kind: RunnerLine["kind"], extra: Partial<RunnerLine> = {}): RunnerLine {
  return {
    ts: new Date(Date.UTC(2026, 2, 1, 10, 0, 0, seq)).toISOString(),
    seq,
    kind,
    step: "create-mailbox",
    attempt: 1,
    ...extra,
  };
}

async function post(a: Api, token: string, lines: RunnerLine[]) {
  return a.app.inject({
    method: "POST",
    url: "/ingest/v1/lines",
    headers: bearer(token),
    payload: { lines },
  });
}

async function count(a: Api, sql: string, params: unknown[] = []): Promise<number> {
  return (await a.db.query<{ n: number }>(sql, params)).rows[0]?.n ?? -1;
}

test("the ingest token decides: missing, forged, expired, other namespace, unconfigured", async (t) => {
  const a = await api(t);
  const batch = [line(0, "step_start")];
  const none = await a.app.inject({ method: "POST", url: "/ingest/v1/lines", payload: { lines: batch } });
  assert.equal(none.statusCode, 401);
  const forged = await post(
    a,
    mintIngestToken("another-secret-0123456789abcdef", {
      namespace: a.namespace,
      job: "j",
      order: "o",
      expiresAt: new Date(Date.now() + 1e6),
    }),
    batch,
  );
  assert.deepEqual([forged.statusCode, forged.json<{ reason: string }>().reason], [401, "TokenBadSignature"]);
  const expired = await post(
    a,
    tokenFor(a, "j", "o", { expiresAt: new Date(a.clock.now.getTime() - 1000) }),
    batch,
  );
  assert.deepEqual([expired.statusCode, expired.json<{ reason: string }>().reason], [401, "TokenExpired"]);
  const otherNs = await post(a, tokenFor(a, "j", "o", { ns: "elsewhere" }), batch);
  assert.equal(otherNs.statusCode, 403);
  // An API token of a user is not an ingest token.
  const adminToken = await addToken(a, "superadmin", ["admin:*"]);
  const wrongKind = await post(a, adminToken, batch);
  assert.equal(wrongKind.statusCode, 401);
  assert.equal(await count(a, "SELECT count(*)::int AS n FROM step_output_lines"), 0);

  const bare = await newApi(t);
  const off = await post(bare, tokenFor(a, "j", "o"), batch);
  assert.equal(off.statusCode, 503);
  assert.equal(off.headers["retry-after"], "30");
});

test("a batch is stored once (re-delivery is a no-op) and step start/end become audit rows", async (t) => {
  const a = await api(t);
  const tok = tokenFor(a, "mbx-1-1", "mbx-1");
  const batch = [
    line(0, "step_start"),
    line(1, "line", { stream: "stdout", text: "creating mailbox for anna" }),
    line(2, "line", { stream: "stderr", text: "warning: quota default" }),
  ];
  const r1 = await post(a, tok, batch);
  assert.equal(r1.statusCode, 200, r1.body);
  assert.deepEqual(r1.json(), { accepted: 3 });
  const r2 = await post(a, tok, batch);
  assert.deepEqual([r2.statusCode, r2.json()], [200, { accepted: 3 }]);
  assert.equal(await count(a, "SELECT count(*)::int AS n FROM step_output_lines"), 3);
  const end = await post(a, tok, [
    line(3, "step_end", { state: "Failed", exitCode: 3, message: "quota refused" }),
    // run_end carries no step and no attempt (the runner output contract).
    { ts: "2026-03-01T10:00:01.000Z", seq: 4, kind: "run_end", state: "Failed", exitCode: 1 },
  ]);
  assert.equal(end.statusCode, 200, end.body);
  // Every accepted line is counted, a re-sent batch again (3 + 3 + 2).
  assert.match(await a.app.metrics.registry.metrics(), /^ipsolis_api_ingest_lines_total 8$/m);
  const audit = await a.db.query<{
    actor: string;
    action: string;
    order_name: string;
    source: string;
    data: { step: string };
  }>("SELECT actor, action, order_name, source, data FROM audit_events ORDER BY audit_events.id");
  assert.deepEqual(
    audit.rows.map((r) => [r.actor, r.action, r.order_name, r.source, r.data.step]),
    [
      ["runner:mbx-1-1", "step_started", "mbx-1", "runner", "create-mailbox"],
      ["runner:mbx-1-1", "step_failed", "mbx-1", "runner", "create-mailbox"],
      ["runner:mbx-1-1", "run_finished", "mbx-1", "runner", undefined],
    ],
  );
  // Plain lines re-sent with new ones (the runner lost an answer): the new ones are stored, the
  // old ones once, nothing half-written.
  const plainLines = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) =>
      line(100 + from + i, "line", { stream: "stdout", text: `p${from + i}` }),
    );
  assert.equal((await post(a, tok, plainLines(0, 9))).statusCode, 200);
  const overlap = await post(a, tok, plainLines(5, 14));
  assert.deepEqual([overlap.statusCode, overlap.json()], [200, { accepted: 10 }]);
  assert.equal((await post(a, tok, plainLines(0, 14))).statusCode, 200);
  const stored = await a.db.query<{ text: string }>(
    "SELECT text FROM step_output_lines WHERE job = 'mbx-1-1' AND seq >= 100 ORDER BY seq",
  );
  assert.deepEqual(
    stored.rows.map((r) => r.text),
    plainLines(0, 14).map((l) => l.text),
  );
  const bad = await post(a, tok, [{ ...line(5, "line"), seq: -1 }]);
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json<{ error: string }>().error, /body\.lines\.0\.seq/);
});

test("back-pressure: concurrent floods get 429 + Retry-After, and after retries every line is there once", async (t) => {
  const a = await api(t);
  const tok = tokenFor(a, "flood-1", "flood");
  const batches = Array.from({ length: 40 }, (_, b) =>
    Array.from({ length: 1000 }, (_, i) =>
      line(b * 1000 + i, "line", { stream: "stdout", text: `line ${b}/${i} ${"x".repeat(80)}` }),
    ),
  );
  let refused = 0;
  await Promise.all(
    batches.map(async (batch) => {
      for (;;) {
        const r = await post(a, tok, batch);
        if (r.statusCode === 200) return;
        assert.ok([429, 503].includes(r.statusCode), `${r.statusCode} ${r.body}`);
        assert.ok(Number(r.headers["retry-after"]) >= 1);
        refused++;
        await new Promise((res) => setTimeout(res, 20)); // the runner waits Retry-After; shortened here
      }
    }),
  );
  assert.ok(refused > 0, "some batches were refused instead of queued");
  assert.equal(await count(a, "SELECT count(*)::int AS n FROM step_output_lines"), 40_000);
  assert.equal(await count(a, "SELECT count(DISTINCT seq)::int AS n FROM step_output_lines"), 40_000);
});

test("follow: lines arrive as server-sent events (and are in the table) before the step ends", async (t) => {
  const a = await api(t);
  const reader = await addToken(a, "helpdesk", ["orders:read"]);
  const auditor = await addToken(a, "auditor", ["audit:read"]);
  const tok = tokenFor(a, "vm-7-1", "vm-7");
  assert.equal(
    (await post(a, tok, [line(0, "step_start"), line(1, "line", { text: "backlog line" })])).statusCode,
    200,
  );

  const forbidden = await a.app.inject({
    method: "GET",
    url: `/orders/vm-7/log`,
    headers: bearer(auditor),
  });
  assert.equal(forbidden.statusCode, 403);
  // Auditors read an order's step output as part of the record, under /audit.
  const asAuditor = await a.app.inject({
    method: "GET",
    url: `/audit/orders/vm-7/log`,
    headers: bearer(auditor),
  });
  assert.equal(asAuditor.statusCode, 200, asAuditor.body);
  assert.deepEqual(
    asAuditor.json<{ lines: { seq: number; text?: string }[] }>().lines.map((l) => [l.seq, l.text]),
    [
      [0, undefined],
      [1, "backlog line"],
    ],
  );
  const notAuditor = await a.app.inject({
    method: "GET",
    url: `/audit/orders/vm-7/log`,
    headers: bearer(reader),
  });
  assert.equal(notAuditor.statusCode, 403);
  const plain = await a.app.inject({
    method: "GET",
    url: `/orders/vm-7/log`,
    headers: bearer(reader),
  });
  assert.deepEqual(
    plain.json<{ lines: { seq: number }[] }>().lines.map((l) => l.seq),
    [0, 1],
  );

  const base = await a.app.listen({ host: "127.0.0.1", port: 0 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${base}/orders/vm-7/log?follow=true`, {
    headers: bearer(reader),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const events = collectEvents(res);

  await eventually("backlog via SSE", async () => (events.length >= 2 ? true : undefined), 10_000, 20);
  // The step is still running: live lines, no step_end yet.
  for (let s = 2; s < 6; s++) {
    assert.equal(
      (await post(a, tok, [line(s, "line", { stream: "stdout", text: `live ${s}` })])).statusCode,
      200,
    );
  }
  await eventually("live lines via SSE", async () => (events.length >= 6 ? true : undefined), 10_000, 20);
  assert.deepEqual(
    events.map((e) => e.seq),
    [0, 1, 2, 3, 4, 5],
  );
  assert.ok(!events.some((e) => e.kind === "step_end"), "seen before the step ended");
  assert.equal(
    await count(a, "SELECT count(*)::int AS n FROM step_output_lines WHERE job = 'vm-7-1' AND kind = 'line'"),
    5,
  );
  assert.equal(await count(a, "SELECT count(*)::int AS n FROM step_output_lines WHERE kind = 'step_end'"), 0);
  await post(a, tok, [line(6, "step_end", { state: "Succeeded", exitCode: 0 })]);
  await eventually(
    "step_end via SSE",
    async () => (events.some((e) => e.kind === "step_end") ? true : undefined),
    10_000,
    20,
  );
  ac.abort();
});

test("the real runner: its lines are in the table and on the follow stream while the step still runs; the secret never is", async (t) => {
  const a = await api(t);
  const reader = await addToken(a, "helpdesk", ["orders:read"]);
  const base = await a.app.listen({ host: "127.0.0.1", port: 0 });
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-runner-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gate = join(dir, "gate");
  const secret = "s3cr3t-Pa55word";
  const plan = {
    runbook: "mailbox",
    steps: [
      {
        name: "create-mailbox",
        shell: "bash",
        // Prints, then waits until the test has seen the lines: the step is provably still running.
        script: `for i in 1 2 3; do echo "line $i"; done; echo "using key $API_KEY"; while [ ! -f "${gate}" ]; do sleep 0.05; done; echo finished`,
        parameters: [{ name: "API_KEY", env: "IPSOLIS_SECRET_0_0", secret: true }],
        timeoutSeconds: 60,
      },
    ],
  };

  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${base}/orders/mbx-9/log?follow=true`, {
    headers: bearer(reader),
    signal: ac.signal,
  });
  const events = collectEvents(res);

  const runner = spawn(process.execPath, ["operator/runner/main.ts"], {
    env: {
      PATH: process.env.PATH,
      IPSOLIS_PLAN: JSON.stringify(plan),
      IPSOLIS_SECRET_0_0: secret,
      IPSOLIS_INGEST_URL: base,
      IPSOLIS_INGEST_TOKEN: tokenFor(a, "mbx-9-1", "mbx-9"),
      IPSOLIS_TERMINATION_LOG: join(dir, "termination-log"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  runner.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => runner.once("exit", (code) => r(code)));
  t.after(() => {
    if (runner.exitCode === null) runner.kill("SIGKILL");
  });

  await eventually(
    "the runner's lines in the table",
    async () => {
      const r = await a.db.query<{ text: string }>(
        "SELECT text FROM step_output_lines WHERE job = 'mbx-9-1' AND kind = 'line' ORDER BY seq",
      );
      return r.rows.length >= 4 ? r.rows.map((x) => x.text) : undefined;
    },
    20_000,
    20,
  );
  await eventually(
    "the runner's lines on the stream",
    async () => (events.filter((e) => e.kind === "line").length >= 4 ? true : undefined),
    20_000,
    20,
  );
  assert.equal(runner.exitCode, null, "the runner is still running the step");
  assert.ok(!events.some((e) => e.kind === "step_end"), "no step_end yet");
  assert.equal(await count(a, "SELECT count(*)::int AS n FROM step_output_lines WHERE kind = 'step_end'"), 0);

  await writeFile(gate, "");
  assert.equal(await exited, 0, stdout);
  await eventually("run_end stored", async () =>
    (await count(
      a,
      "SELECT count(*)::int AS n FROM step_output_lines WHERE job = 'mbx-9-1' AND kind = 'run_end'",
    )) === 1
      ? true
      : undefined,
  );
  const texts = (
    await a.db.query<{ text: string | null }>(
      "SELECT text FROM step_output_lines WHERE job = 'mbx-9-1' ORDER BY seq",
    )
  ).rows.map((r) => r.text);
  assert.deepEqual(
    texts.filter((x) => x !== null),
    ["line 1", "line 2", "line 3", "using key ***", "finished"],
  );
  const everything = await a.db.query<{ t: string }>(
    "SELECT (SELECT string_agg(coalesce(text, '') || coalesce(message, ''), ' ') FROM step_output_lines) || (SELECT string_agg(data::text, ' ') FROM audit_events) AS t",
  );
  assert.ok(!everything.rows[0]!.t.includes(secret), "the secret is in no stored row");
  const audit = await a.db.query<{ actor: string; action: string }>(
    "SELECT actor, action FROM audit_events WHERE order_name = 'mbx-9' ORDER BY audit_events.id",
  );
  assert.deepEqual(
    audit.rows.map((r) => `${r.actor} ${r.action}`),
    ["runner:mbx-9-1 step_started", "runner:mbx-9-1 step_succeeded", "runner:mbx-9-1 run_finished"],
  );
  ac.abort();
});

function collectEvents(res: Response): { seq: number; text?: string; kind: string }[] {
  const events: { seq: number; text?: string; kind: string }[] = [];
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = ev.split("\n").find((l) => l.startsWith("data: "));
        if (data) events.push(JSON.parse(data.slice(6)) as { seq: number; text?: string; kind: string });
      }
    }
  })().catch((err: unknown) => {
    if ((err as Error).name !== "AbortError") throw err;
  });
  return events;
}

test("hostile but valid runner output is stored, never a 5xx the runner would retry forever", async (t) => {
  const a = await api(t);
  const tok = tokenFor(a, "nul-1", "nul");
  // A script printing binary: NUL is valid JSON and UTF-16 but Postgres text/jsonb refuse it.
  const r = await post(a, tok, [
    line(0, "step_start", { step: "bin\u0000step" }),
    line(1, "line", { stream: "stdout", text: "before\u0000after" }),
    line(2, "step_end", { step: "bin\u0000step", state: "Failed", exitCode: 1, message: "died \u0000 here" }),
  ]);
  assert.equal(r.statusCode, 200, r.body);
  const stored = await a.db.query<{ text: string | null; step: string }>(
    "SELECT text, step FROM step_output_lines WHERE job = 'nul-1' ORDER BY seq",
  );
  assert.equal(stored.rows[1]?.text, "before\uFFFDafter");
  assert.equal(stored.rows[0]?.step, "bin\uFFFDstep");
  const audit = await a.db.query<{ data: { message: string } }>(
    "SELECT data FROM audit_events WHERE action = 'step_failed' AND order_name = 'nul'",
  );
  assert.equal(audit.rows[0]?.data.message, "died \uFFFD here");
  // An exit code beyond a 32-bit integer is the runner's bug: a 400 (it gives up), not a 500.
  const huge = await post(a, tok, [line(3, "step_end", { state: "Failed", exitCode: 2 ** 40 })]);
  assert.equal(huge.statusCode, 400, huge.body);
  const year0 = await post(a, tok, [{ ...line(4, "line"), ts: "0000-01-01T00:00:00Z" }]);
  assert.ok(year0.statusCode < 500, `${year0.statusCode} ${year0.body}`);
  const farOffset = await post(a, tok, [{ ...line(5, "line"), ts: "2026-03-01T10:00:00+20:00" }]);
  assert.equal(farOffset.statusCode, 200, farOffset.body);
  const ts = await a.db.query<{ ts: Date }>(
    "SELECT ts FROM step_output_lines WHERE job = 'nul-1' AND seq = 5",
  );
  assert.equal(ts.rows[0]?.ts.toISOString(), "2026-02-28T14:00:00.000Z");
  // Not JSON, or not a time: a 400 saying so, nothing stored.
  const notJson = await a.app.inject({
    method: "POST",
    url: "/ingest/v1/lines",
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    payload: '{"lines": [',
  });
  assert.equal(notJson.statusCode, 400, notJson.body);
  assert.match(notJson.body, /invalid JSON body/);
  const notTime = await post(a, tok, [{ ...line(6, "line"), ts: "yesterday" }]);
  assert.equal(notTime.statusCode, 400, notTime.body);
  assert.match(notTime.body, /RFC 3339/);
  const none = await a.db.query("SELECT 1 FROM step_output_lines WHERE job = 'nul-1' AND seq = 6");
  assert.equal(none.rowCount, 0);
});

test("follow: a client that stops reading is cut off at a bound, not buffered without limit", async (t) => {
  const a = await api(t);
  const reader = await addToken(a, "helpdesk", ["orders:read"]);
  const tok = tokenFor(a, "chatty-1", "chatty");
  const base = await a.app.listen({ host: "127.0.0.1", port: 0 });
  const req = request(`${base}/orders/chatty/log?follow=true`, {
    headers: bearer(reader),
  });
  // Destroyed in the test body: the app's close (registered first) waits for open connections.
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.on("response", resolve);
      req.on("error", reject);
      req.end();
    });
    assert.equal(res.statusCode, 200);
    res.pause(); // a browser tab in the background, a stuck proxy
    let ended = false;
    let received = 0;
    let tail = "";
    res.on("end", () => (ended = true));
    // ~40 MB of output while the client reads nothing.
    const text = "x".repeat(1000);
    for (let b = 0; b < 8; b++) {
      const batch = Array.from({ length: 5000 }, (_, i) =>
        line(b * 5000 + i, "line", { stream: "stdout", text }),
      );
      assert.equal((await post(a, tok, batch)).statusCode, 200);
    }
    res.on("data", (d: Buffer) => {
      received += d.length;
      tail = (tail + d.toString()).slice(-500);
    });
    res.resume();
    await eventually(
      "the server to end the follow stream",
      async () => (ended ? true : undefined),
      20_000,
      50,
    );
    assert.ok(received < 20 << 20, `received ${received} bytes: the server buffered them all`);
    assert.match(
      tail,
      /event: reset\ndata: \{"reason":"SlowClient"/,
      "the client is told why (and reconnects)",
    );
  } finally {
    req.destroy();
  }
});

test("follow: batches committed out of order leave in seq order; a gap left open is passed over, then filled late", async (t) => {
  const a = await api(t);
  const reader = await addToken(a, "helpdesk", ["orders:read"]);
  const tok = tokenFor(a, "ooo-1", "ooo");
  const lines = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) =>
      line(from + i, "line", { stream: "stdout", text: `l${from + i}` }),
    );
  // Backlog with a gap: 1–3 committed, 4–6 still "in flight", 7–9 committed.
  assert.equal((await post(a, tok, lines(1, 3))).statusCode, 200);
  assert.equal((await post(a, tok, lines(7, 9))).statusCode, 200);
  const base = await a.app.listen({ host: "127.0.0.1", port: 0 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${base}/orders/ooo/log?follow=true`, {
    headers: bearer(reader),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const events = collectEvents(res);
  await eventually("the contiguous backlog", async () => (events.length >= 3 ? true : undefined), 10_000, 20);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    events.map((e) => e.seq),
    [1, 2, 3],
    "lines past the gap wait for it",
  );
  // The early batch's predecessor commits: everything leaves in order.
  assert.equal((await post(a, tok, lines(4, 6))).statusCode, 200);
  await eventually("the gap filled", async () => (events.length >= 9 ? true : undefined), 10_000, 20);
  assert.deepEqual(
    events.map((e) => e.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  // A later batch overtakes the one before it (both live).
  assert.equal((await post(a, tok, lines(13, 15))).statusCode, 200);
  assert.equal((await post(a, tok, lines(10, 12))).statusCode, 200);
  await eventually("the live batches", async () => (events.length >= 15 ? true : undefined), 10_000, 20);
  assert.deepEqual(
    events.map((e) => e.seq),
    Array.from({ length: 15 }, (_, i) => i + 1),
  );
  // A gap that stays open (a batch retried for long) does not stall the stream for ever: after
  // FOLLOW_GAP_MS the lines behind it go out, and the missing ones follow when they come.
  assert.equal((await post(a, tok, lines(19, 20))).statusCode, 200);
  const t0 = Date.now();
  await eventually("passed over the gap", async () => (events.length >= 17 ? true : undefined), 10_000, 20);
  assert.ok(Date.now() - t0 >= FOLLOW_GAP_MS - 200, `held ${Date.now() - t0} ms`);
  assert.equal((await post(a, tok, lines(16, 18))).statusCode, 200);
  await eventually("filled late", async () => (events.length >= 20 ? true : undefined), 10_000, 20);
  assert.deepEqual(
    events.slice(15).map((e) => e.seq),
    [19, 20, 16, 17, 18],
  );
  ac.abort();
});

test("lines are accepted only while the token's attempt runs: a finished order or another attempt's Job gets 409 and nothing is stored", async (t) => {
  await applyCrds();
  const a = await api(t);
  const objs = testKubeConfig().makeApiClient(CustomObjectsApi);
  const key = { group: "ipsolis.io", version: "v1alpha1", namespace: a.namespace, plural: "orders" };
  await objs.createNamespacedCustomObject({
    ...key,
    body: {
      apiVersion: "ipsolis.io/v1alpha1",
      kind: "Order",
      metadata: { name: "done-order" },
      spec: { assetType: "vpn", action: "Provision", requester: { id: "emp", email: "emp@example.com" } },
    },
  });
  const setStatus = async (status: Record<string, unknown>) => {
    const o = (await objs.getNamespacedCustomObject({ ...key, name: "done-order" })) as {
      status?: Record<string, unknown>;
    };
    await objs.replaceNamespacedCustomObjectStatus({
      ...key,
      name: "done-order",
      body: { ...o, status: { ...(o.status ?? {}), ...status } },
    });
  };
  // Running: attempt 1's Job writes.
  await setStatus({ phase: "Scheduled" });
  await setStatus({ phase: "Processing", jobName: "done-order-1", attempt: 1 });
  const running = await post(a, tokenFor(a, "done-order-1", "done-order"), [line(1, "step_start")]);
  assert.equal(running.statusCode, 200, running.body);
  // Another attempt's Job (a retry started done-order-2): attempt 1's token is refused.
  await setStatus({ jobName: "done-order-2", attempt: 2 });
  const stale = await post(a, tokenFor(a, "done-order-1", "done-order"), [
    line(2, "step_end", { state: "Succeeded", exitCode: 0 }),
  ]);
  assert.deepEqual([stale.statusCode, stale.json<{ reason: string }>().reason], [409, "AttemptNotRunning"]);
  // Finished: even the current Job's token writes nothing more.
  await setStatus({ phase: "Provisioned" });
  const late = await post(a, tokenFor(a, "done-order-2", "done-order"), [
    line(1, "step_end", { state: "Succeeded", exitCode: 0 }),
  ]);
  assert.deepEqual([late.statusCode, late.json<{ reason: string }>().reason], [409, "AttemptNotRunning"]);
  assert.equal(
    await count(
      a,
      "SELECT count(*)::int AS n FROM audit_events WHERE order_name = 'done-order' AND action LIKE 'step%'",
    ),
    1,
    "only the running attempt's step_start became a row",
  );
});
