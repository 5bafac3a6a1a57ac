// Runs the real runner as a process (as the pod would) and collects what it reports.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import type { RunnerEvent } from "../../operator/runner/events.ts";
import type { RunPlanInput } from "../../operator/runner/plan.ts";

export const runnerMain = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "operator",
  "runner",
  "main.ts",
);

export type RunResult = {
  code: number | null;
  events: RunnerEvent[];
  stdout: string;
  stderr: string;
  summary: { steps: Record<string, unknown>[]; message: string } | undefined;
  ms: number;
  dir: string;
};

export async function tempDir(t: Pick<TestContext, "after">): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "runner-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function runRunner(
  t: Pick<TestContext, "after">,
  plan: RunPlanInput | string,
  env: Record<string, string> = {},
  hooks: { onEvent?: (e: RunnerEvent, child: ChildProcess) => void } = {},
): Promise<RunResult> {
  const dir = await tempDir(t);
  const terminationLog = join(dir, "termination-log");
  const t0 = Date.now();
  const child = spawn(process.execPath, [runnerMain], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      TMPDIR: dir,
      IPSOLIS_PLAN: typeof plan === "string" ? plan : JSON.stringify(plan),
      IPSOLIS_TERMINATION_LOG: terminationLog,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let pending = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    pending += d.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) if (l.trim()) hooks.onEvent?.(JSON.parse(l) as RunnerEvent, child);
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  const events = stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as RunnerEvent);
  const summaryText = await readFile(terminationLog, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  const summary = summaryText ? (JSON.parse(summaryText) as RunResult["summary"]) : undefined;
  return { code, events, stdout, stderr, summary, ms: Date.now() - t0, dir };
}

export const bash = (name: string, script: string, extra: Record<string, unknown> = {}) => ({
  name,
  shell: "bash" as const,
  script,
  ...extra,
});

/** The lines a step printed, in order. */
export function linesOf(r: RunResult, step: string, stream?: "stdout" | "stderr"): string[] {
  return r.events
    .filter((e) => e.kind === "line" && e.step === step && (!stream || e.stream === stream))
    .map((e) => e.text ?? "");
}
