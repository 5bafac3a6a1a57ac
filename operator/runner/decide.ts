// The runner's decisions, pure: what happens after an attempt (retry or done), whether the run
// goes on after a step, the run's outcome and exit code, and the termination summary.
import type { PlanStep } from "./plan.ts";

export type StepState = "Succeeded" | "Failed" | "Skipped";

export type AttemptResult = {
  /** Exit code, or null when killed by a signal / never started. */
  exitCode: number | null;
  signal?: string | null;
  timedOut: boolean;
  /** The process could not be started (e.g. pwsh missing). */
  spawnError?: string;
  /**
   * The last non-blank line the attempt wrote to stderr: what a person reads first when a step
   * fails ("Cannot contact any KDC for realm ..."), so it goes into the step's message.
   */
  lastError?: string;
};

/** The longest stderr line quoted in a failure message (the status keeps the message short). */
export const MAX_ERROR_CHARS = 300;

export type AfterAttempt =
  | { kind: "retry"; delayMs: number; message: string }
  | { kind: "done"; state: "Succeeded" | "Failed"; message?: string };

/** Exit code reported for a step killed on timeout (as `timeout(1)` does). */
export const TIMEOUT_EXIT_CODE = 124;

export function describeFailure(step: PlanStep, r: AttemptResult): string {
  if (r.spawnError) return `could not start ${step.shell}: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${step.timeoutSeconds}s; process tree killed`;
  if (r.exitCode === null) return `killed by ${r.signal ?? "a signal"}`;
  const said = r.lastError?.trim();
  if (!said) return `exited with code ${r.exitCode}`;
  const quoted = said.length > MAX_ERROR_CHARS ? `${said.slice(0, MAX_ERROR_CHARS)}…` : said;
  return `exited with code ${r.exitCode}: ${quoted}`;
}

export function exitCodeOf(r: AttemptResult): number {
  if (r.timedOut) return TIMEOUT_EXIT_CODE;
  if (r.exitCode !== null) return r.exitCode;
  return r.spawnError ? 127 : 128;
}

/** After attempt `attempt` (1-based) of `step`: retry with delay, or the step's final state. */
export function afterAttempt(step: PlanStep, attempt: number, r: AttemptResult): AfterAttempt {
  if (r.exitCode === 0 && !r.timedOut && !r.spawnError) return { kind: "done", state: "Succeeded" };
  const why = describeFailure(step, r);
  // A shell that cannot start will not start on retry either.
  if (attempt <= step.retries && !r.spawnError) {
    return {
      kind: "retry",
      delayMs: step.retryDelaySeconds * 1000,
      message: `attempt ${attempt} of ${step.retries + 1} ${why}; retrying in ${step.retryDelaySeconds}s`,
    };
  }
  const tries = attempt > 1 ? ` (after ${attempt} attempts)` : "";
  return { kind: "done", state: "Failed", message: `${why}${tries}` };
}

/** Whether the run continues after a step ended in `state`. */
export function continuesAfter(step: PlanStep, state: StepState): boolean {
  return state !== "Failed" || !step.critical;
}

export type StepSummary = {
  name: string;
  state: StepState;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  message?: string;
};

export type RunOutcome = { state: "Succeeded" | "Failed"; exitCode: number; message: string };

/** Exit codes: 0 success (non-critical failures allowed), 1 a critical step failed, 2 setup failed. */
export function runOutcome(
  plan: { steps: PlanStep[] },
  steps: StepSummary[],
  setupError?: string,
): RunOutcome {
  if (setupError !== undefined) return { state: "Failed", exitCode: 2, message: setupError };
  const critical = steps.find((s, i) => s.state === "Failed" && plan.steps[i]?.critical !== false);
  if (critical) {
    return {
      state: "Failed",
      exitCode: 1,
      message: `critical step ${critical.name} failed: ${critical.message ?? ""}`.trim(),
    };
  }
  const soft = steps.filter((s) => s.state === "Failed").map((s) => s.name);
  return {
    state: "Succeeded",
    exitCode: 0,
    message:
      soft.length > 0
        ? `succeeded; non-critical step(s) failed: ${soft.join(", ")}`
        : `all ${steps.length} step(s) succeeded`,
  };
}

/** Kubernetes keeps at most 4096 bytes of a termination message. */
export const TERMINATION_LIMIT = 4096;

/**
 * The termination summary `{ steps, message }` as JSON within 4 KiB: when too long, step
 * messages are shortened, then dropped, then the run message is shortened; the step list itself
 * (name, state, attempts, exit code) is kept as long as it fits.
 */
export function terminationSummary(steps: StepSummary[], message: string): string {
  const render = (ss: StepSummary[], m: string) => JSON.stringify({ steps: ss, message: m });
  const fits = (s: string) => Buffer.byteLength(s, "utf8") <= TERMINATION_LIMIT;
  let text = render(steps, message);
  if (fits(text)) return text;
  for (const max of [200, 60]) {
    const short = steps.map((s) =>
      s.message && s.message.length > max ? { ...s, message: `${s.message.slice(0, max)}…` } : s,
    );
    text = render(short, message.slice(0, 500));
    if (fits(text)) return text;
  }
  const bare = steps.map(({ name, state, attempts, exitCode }) => ({ name, state, attempts, exitCode }));
  text = render(bare, message.slice(0, 200));
  if (fits(text)) return text;
  return JSON.stringify({ steps: [], message: `${message.slice(0, 200)} (step list too long for 4 KiB)` });
}
