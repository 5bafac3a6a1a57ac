import { test } from "node:test";
import assert from "node:assert/strict";
import {
  afterAttempt,
  continuesAfter,
  runOutcome,
  terminationSummary,
  MAX_ERROR_CHARS,
  type AttemptResult,
} from "./decide.ts";
import { createLineSplitter, MAX_LINE_CHARS } from "./events.ts";
import { ingestEndpoint, ingestRetry, nextBatchSize } from "./ingest.ts";
import type { RunnerEvent } from "./events.ts";
import { createMasker } from "./mask.ts";
import { PlanStep, RunnerConfig, resolveParameters, RunPlan } from "./plan.ts";

const step = (over: Partial<PlanStep> = {}): PlanStep =>
  PlanStep.parse({ name: "s", shell: "bash", script: "true", ...over });
const ok: AttemptResult = { exitCode: 0, timedOut: false };
const fail: AttemptResult = { exitCode: 3, timedOut: false };
const timeout: AttemptResult = { exitCode: null, signal: "SIGTERM", timedOut: true };

const attemptCases: { name: string; step: PlanStep; attempt: number; r: AttemptResult; want: string }[] = [
  { name: "success", step: step(), attempt: 1, r: ok, want: "done:Succeeded" },
  { name: "failure, no retries", step: step(), attempt: 1, r: fail, want: "done:Failed" },
  { name: "failure, retries left", step: step({ retries: 2 }), attempt: 2, r: fail, want: "retry:5000" },
  { name: "failure, retries used up", step: step({ retries: 2 }), attempt: 3, r: fail, want: "done:Failed" },
  {
    name: "timeout is retried",
    step: step({ retries: 1, retryDelaySeconds: 0 }),
    attempt: 1,
    r: timeout,
    want: "retry:0",
  },
  {
    name: "a shell that cannot start is not retried",
    step: step({ retries: 3 }),
    attempt: 1,
    r: { exitCode: null, timedOut: false, spawnError: "ENOENT" },
    want: "done:Failed",
  },
];
for (const c of attemptCases) {
  test(`afterAttempt: ${c.name}`, () => {
    const d = afterAttempt(c.step, c.attempt, c.r);
    assert.equal(d.kind === "retry" ? `retry:${d.delayMs}` : `done:${d.state}`, c.want);
  });
}

const messageCases: { name: string; r: AttemptResult; want: string }[] = [
  { name: "no stderr: the exit code", r: fail, want: "exited with code 3" },
  {
    name: "the last stderr line is quoted",
    r: { ...fail, lastError: "kinit: Cannot contact any KDC for realm 'X' " },
    want: "exited with code 3: kinit: Cannot contact any KDC for realm 'X'",
  },
  { name: "a blank stderr line is not", r: { ...fail, lastError: "  " }, want: "exited with code 3" },
  {
    name: "a long stderr line is cut",
    r: { ...fail, lastError: "e".repeat(MAX_ERROR_CHARS + 10) },
    want: `exited with code 3: ${"e".repeat(MAX_ERROR_CHARS)}…`,
  },
  {
    name: "a timeout says so, whatever stderr said",
    r: { ...timeout, lastError: "late" },
    want: "timed out after 300s; process tree killed",
  },
];
for (const c of messageCases) {
  test(`afterAttempt message: ${c.name}`, () => {
    const d = afterAttempt(step(), 1, c.r);
    assert.equal(d.kind === "done" ? d.message : undefined, c.want);
  });
}

test("continuesAfter: only a failed critical step stops the run", () => {
  assert.equal(continuesAfter(step(), "Succeeded"), true);
  assert.equal(continuesAfter(step(), "Failed"), false);
  assert.equal(continuesAfter(step({ critical: false }), "Failed"), true);
});

test("runOutcome: exit codes 0 / 1 / 2", () => {
  const plan = { steps: [step({ name: "a" }), step({ name: "b", critical: false })] };
  assert.equal(runOutcome(plan, [{ name: "a", state: "Succeeded", attempts: 1 }]).exitCode, 0);
  assert.equal(
    runOutcome(plan, [
      { name: "a", state: "Succeeded", attempts: 1 },
      { name: "b", state: "Failed", attempts: 1 },
    ]).exitCode,
    0,
  );
  assert.equal(runOutcome(plan, [{ name: "a", state: "Failed", attempts: 1 }]).exitCode, 1);
  assert.equal(runOutcome(plan, [], "kinit failed").exitCode, 2);
});

test("terminationSummary fits 4 KiB and keeps the step list", () => {
  const steps = Array.from({ length: 50 }, (_, i) => ({
    name: `step-number-${i}`,
    state: "Failed" as const,
    attempts: 11,
    exitCode: 1,
    message: "x".repeat(1000),
  }));
  const s = terminationSummary(steps, "m".repeat(5000));
  assert.ok(Buffer.byteLength(s) <= 4096);
  assert.equal((JSON.parse(s) as { steps: unknown[] }).steps.length, 50);
});

test("masker: plain, base64, base64url, multi-line, longest first", () => {
  const m = createMasker(["abc?>def", "line-one\nline-two", ""]);
  assert.equal(m("x abc?>def y"), "x *** y");
  assert.equal(m(Buffer.from("abc?>def").toString("base64")), "***");
  assert.equal(m(Buffer.from("abc?>def").toString("base64url")), "***");
  assert.equal(m("got line-two here"), "got *** here");
  assert.equal(m("nothing secret"), "nothing secret");
  assert.equal(createMasker([])("a"), "a");
});

test("line splitter: partial lines, CRLF, very long lines", () => {
  const s = createLineSplitter();
  assert.deepEqual(s.push("a\r\nb"), ["a"]);
  assert.deepEqual(s.push("c\n"), ["bc"]);
  assert.deepEqual(s.push("x".repeat(MAX_LINE_CHARS + 5)), ["x".repeat(MAX_LINE_CHARS)]);
  assert.deepEqual(s.end(), ["xxxxx"]);
  assert.deepEqual(s.end(), []);
});

test("ingest retry policy and endpoint", () => {
  assert.deepEqual(ingestRetry(429, "2", 0), { kind: "retry", delayMs: 2000 });
  assert.deepEqual(ingestRetry(503, null, 0), { kind: "retry", delayMs: 250 });
  assert.deepEqual(ingestRetry(undefined, null, 3), { kind: "retry", delayMs: 2000 });
  assert.deepEqual(ingestRetry(503, "999", 0), { kind: "retry", delayMs: 30_000 });
  assert.equal(ingestRetry(401, null, 0).kind, "give-up");
  assert.equal(ingestEndpoint("http://api:8080/"), "http://api:8080/ingest/v1/lines");
  assert.equal(ingestEndpoint("http://api/ingest/v1/lines"), "http://api/ingest/v1/lines");
});

test("ingest window: plain lines two at a time, a control event alone and after what came before", () => {
  const ev = (seq: number, kind: RunnerEvent["kind"] = "line"): RunnerEvent => ({ ts: "t", seq, kind });
  const o = { batchLines: 3, maxInFlight: 2 };
  const plain = { control: false };
  const control = { control: true };
  // Nothing sent yet: a batch of up to batchLines, control events included.
  assert.equal(nextBatchSize([], [ev(1, "step_start"), ev(2), ev(3), ev(4)], o), 3);
  assert.equal(nextBatchSize([], [], o), 0);
  // Beside a plain batch: plain lines only, cut before the next control event.
  assert.equal(nextBatchSize([plain], [ev(5), ev(6), ev(7), ev(8)], o), 3);
  assert.equal(nextBatchSize([plain], [ev(5), ev(6, "step_end"), ev(7)], o), 1);
  assert.equal(nextBatchSize([plain], [ev(6, "step_end"), ev(7)], o), 0);
  // The window is full (the oldest not yet accepted), or a control batch travels.
  assert.equal(nextBatchSize([plain, plain], [ev(9)], o), 0);
  assert.equal(nextBatchSize([control], [ev(9)], o), 0);
  // Stop-and-wait when asked for.
  assert.equal(nextBatchSize([plain], [ev(9)], { batchLines: 3, maxInFlight: 1 }), 0);
});

test("config: the plan is validated and paired variables are required together", () => {
  const plan = JSON.stringify({ runbook: "r", steps: [{ name: "a", script: "x" }] });
  const c = RunnerConfig.parse({ IPSOLIS_PLAN: plan });
  assert.equal(c.IPSOLIS_PLAN.steps[0]?.shell, "pwsh");
  assert.equal(c.IPSOLIS_PLAN.steps[0]?.timeoutSeconds, 300);
  assert.equal(RunnerConfig.safeParse({ IPSOLIS_PLAN: plan, IPSOLIS_INGEST_URL: "http://x" }).success, false);
  assert.equal(RunnerConfig.safeParse({ IPSOLIS_PLAN: plan, IPSOLIS_KRB5_PRINCIPAL: "a@B" }).success, false);
  assert.equal(RunnerConfig.safeParse({ IPSOLIS_PLAN: "{" }).success, false);
  assert.equal(
    RunPlan.safeParse({ runbook: "r", steps: [{ name: "a", script: "x", scriptFile: "/y" }] }).success,
    false,
  );
  const p = RunPlan.parse({
    runbook: "r",
    steps: [{ name: "a", script: "x", parameters: [{ name: "K", env: "IPSOLIS_SECRET_0_0", secret: true }] }],
  });
  assert.deepEqual(resolveParameters(p, { IPSOLIS_SECRET_0_0: "v" }), {
    ok: true,
    steps: [[{ name: "K", value: "v", secret: true }]],
  });
  assert.equal(resolveParameters(p, {}).ok, false);
});
