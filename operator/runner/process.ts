// Runs one attempt of one step as its own process group, so a timeout (or the pod going away)
// kills the whole tree, including background children the script started. Output arrives
// line by line; the caller may pause reading (back-pressure) through the returned handle.
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { AttemptResult } from "./decide.ts";
import { createLineSplitter } from "./events.ts";
import type { PlanStep } from "./plan.ts";

/**
 * pwsh reads the whole script from stdin and runs it as one script block: `-Command -` would
 * read it line by line like an interactive prompt (multi-line blocks need blank lines), and
 * `-File` insists on a .ps1 name, which mounted ConfigMap keys do not have.
 */
export const PWSH_BOOTSTRAP =
  "$ErrorActionPreference = 'Stop'; & ([scriptblock]::Create([Console]::In.ReadToEnd()))";

export function commandFor(
  step: PlanStep,
  script: string | undefined,
): { cmd: string; args: string[]; stdin?: string } {
  if (step.shell === "bash") {
    return step.scriptFile !== undefined
      ? { cmd: "bash", args: ["-euo", "pipefail", step.scriptFile] }
      : { cmd: "bash", args: ["-euo", "pipefail", "-c", script ?? "", step.name] };
  }
  return {
    cmd: "pwsh",
    args: ["-NoProfile", "-NonInteractive", "-Command", PWSH_BOOTSTRAP],
    stdin: script ?? "",
  };
}

export type Running = {
  result: Promise<AttemptResult>;
  /** Kills the process group now (SIGTERM, then SIGKILL after the grace). */
  kill(): void;
  pause(): void;
  resume(): void;
};

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    // ESRCH: the group is already gone, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

export function runAttempt(opts: {
  step: PlanStep;
  script: string | undefined;
  env: NodeJS.ProcessEnv;
  graceMs: number;
  onLine: (stream: "stdout" | "stderr", text: string) => void;
}): Running {
  const { cmd, args, stdin } = commandFor(opts.step, opts.script);
  const child = spawn(cmd, args, {
    detached: true,
    env: opts.env,
    stdio: [stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
  });
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.pid === undefined || killTimer) return;
    killGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), opts.graceMs);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.step.timeoutSeconds * 1000);

  const streams: [Readable, "stdout" | "stderr"][] = [
    [child.stdout as Readable, "stdout"],
    [child.stderr as Readable, "stderr"],
  ];
  const closed = streams.map(
    ([s, name]) =>
      new Promise<void>((resolve) => {
        const split = createLineSplitter();
        s.setEncoding("utf8");
        s.on("data", (chunk: string) => {
          for (const l of split.push(chunk)) opts.onLine(name, l);
        });
        s.on("close", () => {
          for (const l of split.end()) opts.onLine(name, l);
          resolve();
        });
      }),
  );
  if (stdin !== undefined && child.stdin) {
    child.stdin.on("error", () => {
      // EPIPE when the shell exits without reading its script: the exit code tells the story.
    });
    child.stdin.end(stdin);
  }

  const result = new Promise<AttemptResult>((resolve) => {
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ exitCode: null, timedOut: false, spawnError: err.message });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // The step is over: whatever it left running in the background goes with it (and
      // releases the output pipes, which it may still hold open).
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      if (killTimer) clearTimeout(killTimer);
      void Promise.all(closed).then(() => resolve({ exitCode: code, signal, timedOut }));
    });
  });
  return {
    result,
    kill,
    pause: () => streams.forEach(([s]) => s.pause()),
    resume: () => streams.forEach(([s]) => s.resume()),
  };
}
