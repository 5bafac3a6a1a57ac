// The runner: the program inside a Job's pod. Reads its plan from the environment (README.md),
// runs kinit when Kerberos is configured, runs the steps in order with their shell, prints
// every step start, output line and result as JSON lines on stdout (secrets masked), posts
// them to the ingest endpoint when configured, writes the termination summary and exits
// 0 (success), 1 (a critical step failed) or 2 (setup failed).
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { z } from "zod";
import { REDACT_PATHS } from "../../record/log.ts";
import {
  afterAttempt,
  continuesAfter,
  exitCodeOf,
  runOutcome,
  terminationSummary,
  type StepSummary,
} from "./decide.ts";
import { createSequencer, type EventInput } from "./events.ts";
import { createIngest, type Ingest } from "./ingest.ts";
import { createMasker } from "./mask.ts";
import { RunnerConfig, isRunnerOnlyEnv, resolveParameters, type ResolvedParameter } from "./plan.ts";
import { runAttempt, type Running } from "./process.ts";
import { scrubRunnerEnv } from "./scrub.ts";

// Diagnostics go to stderr: stdout carries only the event stream.
const log = pino(
  { level: "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { name: "runner" } },
  pino.destination(2),
);

// First of all: the credentials leave the process environment (re-exec), see scrub.ts.
const runnerEnv = scrubRunnerEnv();
const defaultTerminationLog = runnerEnv.IPSOLIS_TERMINATION_LOG ?? "/dev/termination-log";

const parsed = RunnerConfig.safeParse(runnerEnv);
let terminationPath = defaultTerminationLog;
let mask: (t: string) => string = (t) => t;
let ingest: Ingest | undefined;
let flushMs = 0;
const sequence = createSequencer(() => new Date());

function emit(e: EventInput) {
  const ev = sequence({
    ...e,
    ...(e.text !== undefined ? { text: mask(e.text) } : {}),
    ...(e.message !== undefined ? { message: mask(e.message) } : {}),
  });
  process.stdout.write(`${JSON.stringify(ev)}\n`);
  ingest?.push(ev);
}

async function finish(
  steps: StepSummary[],
  outcome: { state: "Succeeded" | "Failed"; exitCode: number; message: string },
): Promise<never> {
  emit({ kind: "run_end", state: outcome.state, exitCode: outcome.exitCode, message: outcome.message });
  try {
    await writeFile(terminationPath, terminationSummary(steps, mask(outcome.message)));
  } catch (err) {
    log.warn(
      { path: terminationPath, error: (err as Error).message },
      "could not write the termination summary",
    );
  }
  if (ingest) {
    const r = await ingest.flush(flushMs);
    if (r.unsent > 0)
      log.warn({ unsent: r.unsent, reason: r.gaveUp }, "events not delivered to the ingest endpoint");
  }
  // Let stdout drain before exiting.
  await new Promise<void>((r) => process.stdout.write("", () => r()));
  process.exit(outcome.exitCode);
}

if (!parsed.success) {
  await finish([], {
    state: "Failed",
    exitCode: 2,
    message: `invalid runner configuration: ${z.prettifyError(parsed.error)}`,
  });
}
const cfg = parsed.data as RunnerConfig;
const plan = cfg.IPSOLIS_PLAN;
terminationPath = cfg.IPSOLIS_TERMINATION_LOG;
flushMs = cfg.IPSOLIS_INGEST_FLUSH_SECONDS * 1000;

const resolved = resolveParameters(plan, runnerEnv);
const params: ResolvedParameter[][] = resolved.ok ? resolved.steps : plan.steps.map(() => []);
const attrs = await readSecretAttributes(cfg.IPSOLIS_ATTRIBUTES_DIR);
const secretAttributes = attrs.ok ? attrs.values : {};
mask = createMasker([
  ...params
    .flat()
    .filter((p) => p.secret)
    .map((p) => p.value),
  ...Object.values(secretAttributes),
  ...(cfg.IPSOLIS_INGEST_TOKEN ? [cfg.IPSOLIS_INGEST_TOKEN] : []),
]);
if (cfg.IPSOLIS_INGEST_URL && cfg.IPSOLIS_INGEST_TOKEN) {
  ingest = createIngest({
    url: cfg.IPSOLIS_INGEST_URL,
    token: cfg.IPSOLIS_INGEST_TOKEN,
    batchLines: cfg.IPSOLIS_INGEST_BATCH_LINES,
    bufferLines: cfg.IPSOLIS_INGEST_BUFFER_LINES,
    maxInFlight: cfg.IPSOLIS_INGEST_MAX_IN_FLIGHT,
    warn: (msg, data) => log.warn(data ?? {}, msg),
  });
}

// The environment every step sees: the pod's, minus what only the runner may read.
const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !isRunnerOnlyEnv(k)),
);
for (const [k, v] of Object.entries(cfg.IPSOLIS_ATTRIBUTES ?? {})) {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) baseEnv[`IPSOLIS_ATTR_${k}`] = v;
}
// Secret attributes come as files (the Order's Secret, mounted read-only), never as pod env:
// a step sees them as IPSOLIS_ATTR_<name> like the others, and they are masked in all output.
for (const [k, v] of Object.entries(secretAttributes)) baseEnv[`IPSOLIS_ATTR_${k}`] = v;
if (cfg.IPSOLIS_KRB5_PRINCIPAL)
  baseEnv.KRB5CCNAME = cfg.KRB5CCNAME ?? `FILE:${join(tmpdir(), `krb5cc_ipsolis_${process.pid}`)}`;

let current: Running | undefined;
let terminating = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    // The pod is going away (deleted, deadline): take the running step's tree with us.
    terminating = true;
    log.warn({ signal: sig }, "runner terminating; killing the running step");
    current?.kill();
  });
}

/** The secret attribute files (the Secret volume's keys; Kubernetes' `..data` links skipped). */
async function readSecretAttributes(
  dir: string | undefined,
): Promise<{ ok: true; values: Record<string, string> } | { ok: false; message: string }> {
  if (!dir) return { ok: true, values: {} };
  try {
    const values: Record<string, string> = {};
    for (const name of await readdir(dir)) {
      if (name.startsWith(".") || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      values[name] = await readFile(join(dir, name), "utf8");
    }
    return { ok: true, values };
  } catch (err) {
    return {
      ok: false,
      message: `the order's secret attributes could not be read from ${dir}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    };
  }
}

async function kinit(): Promise<string | undefined> {
  const principal = cfg.IPSOLIS_KRB5_PRINCIPAL;
  const keytab = cfg.IPSOLIS_KRB5_KEYTAB;
  if (!principal || !keytab) return undefined;
  return new Promise((resolve) => {
    execFile(
      "kinit",
      ["-kt", keytab, principal],
      { env: { ...baseEnv, ...(cfg.KRB5_CONFIG ? { KRB5_CONFIG: cfg.KRB5_CONFIG } : {}) }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        if (!err) return resolve(undefined);
        const why = stderr.trim() || err.message;
        resolve(`kerberos: kinit -kt ${keytab} ${principal} failed: ${why}`);
      },
    );
  });
}

async function scriptOf(i: number): Promise<string | undefined> {
  const s = plan.steps[i];
  if (!s || s.script !== undefined) return s?.script;
  // bash runs a mounted script file directly; pwsh gets its text on stdin.
  return s.shell === "pwsh" && s.scriptFile ? readFile(s.scriptFile, "utf8") : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const summaries: StepSummary[] = [];
let setupError = resolved.ok ? undefined : resolved.message;
if (!attrs.ok) setupError ??= attrs.message;
setupError ??= await kinit();
let stopReason = setupError !== undefined ? `skipped: ${setupError}` : undefined;

for (const [i, step] of plan.steps.entries()) {
  if (stopReason !== undefined || terminating) {
    const message = terminating ? "skipped: the runner was terminated" : (stopReason ?? "skipped");
    emit({ kind: "step_end", step: step.name, attempt: 0, state: "Skipped", message });
    summaries.push({ name: step.name, state: "Skipped", attempts: 0, message });
    continue;
  }
  const startedAt = new Date().toISOString();
  const stepEnv: NodeJS.ProcessEnv = { ...baseEnv, IPSOLIS_STEP: step.name };
  for (const p of params[i] ?? []) stepEnv[p.name] = p.value;
  let summary: StepSummary | undefined;
  for (let attempt = 1; !summary; attempt++) {
    emit({ kind: "step_start", step: step.name, attempt });
    let result;
    let lastError: string | undefined;
    try {
      const script = await scriptOf(i);
      const running = runAttempt({
        step,
        script,
        env: { ...stepEnv, IPSOLIS_STEP_ATTEMPT: String(attempt) },
        graceMs: cfg.IPSOLIS_KILL_GRACE_SECONDS * 1000,
        onLine: (stream, text) => {
          // Masked here, before describeFailure shortens it: a secret cut in half by the
          // shortening would no longer match the masker and its first characters would show.
          if (stream === "stderr" && text.trim() !== "") lastError = mask(text);
          emit({ kind: "line", step: step.name, attempt, stream, text });
          // Back-pressure: stop reading step output while the ingest buffer is full.
          if (ingest && !ingest.hasRoom()) {
            running.pause();
            void ingest.waitForRoom().then(() => running.resume());
          }
        },
      });
      current = running;
      if (terminating) running.kill();
      result = { ...(await running.result), ...(lastError !== undefined ? { lastError } : {}) };
    } catch (err) {
      result = { exitCode: null, timedOut: false, spawnError: (err as Error).message };
    }
    current = undefined;
    const exitCode = exitCodeOf(result);
    const next = terminating
      ? ({
          kind: "done",
          state: "Failed",
          message: "the runner was terminated (pod deleted or deadline exceeded)",
        } as const)
      : afterAttempt(step, attempt, result);
    if (next.kind === "retry") {
      emit({ kind: "step_end", step: step.name, attempt, state: "Failed", exitCode, message: next.message });
      await sleep(next.delayMs);
      continue;
    }
    emit({
      kind: "step_end",
      step: step.name,
      attempt,
      state: next.state,
      exitCode,
      ...(next.message ? { message: next.message } : {}),
    });
    summary = {
      name: step.name,
      state: next.state,
      attempts: attempt,
      startedAt,
      finishedAt: new Date().toISOString(),
      exitCode,
      ...(next.message ? { message: mask(next.message) } : {}),
    };
  }
  summaries.push(summary);
  if (!continuesAfter(step, summary.state)) stopReason = `skipped: critical step ${step.name} failed`;
}

const outcome = runOutcome(plan, summaries, setupError);
await finish(
  summaries,
  terminating
    ? { ...outcome, state: "Failed", exitCode: 143, message: `terminated: ${outcome.message}` }
    : outcome,
);
