// Keeps the runner's own credentials (the ingest token, every step's secret parameters) out of
// the steps' reach. A step runs as the runner's user, so it can read the runner's *initial*
// environment through /proc/$PPID/environ, whatever the runner later deletes from process.env
// (issue #15 item 9). So the runner, when it starts with such variables, moves them into a
// private file (mode 0600, in IPSOLIS_RUNNER_DIR: a memory emptyDir in the pod) and re-executes
// itself (execve: same pid, new image) with an environment without them; the new image reads the
// file and deletes it before any step starts. What this cannot promise is in
// docs/security/masking.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ENV, isRunnerSecretEnv } from "./plan.ts";

export const STASH_ENV = "IPSOLIS_RUNNER_STASH";

/**
 * Returns the runner's environment with its secrets, which `process.env` (and the process's
 * /proc environ) no longer holds. On the first start with secrets in the environment this
 * call does not return: the process re-executes itself.
 */
export function scrubRunnerEnv(): Record<string, string | undefined> {
  const stash = process.env[STASH_ENV];
  if (stash !== undefined) {
    const saved = JSON.parse(readFileSync(stash, "utf8")) as Record<string, string>;
    rmSync(dirname(stash), { recursive: true, force: true });
    delete process.env[STASH_ENV];
    return { ...process.env, ...saved };
  }
  const secrets = Object.entries(process.env).filter(
    (e): e is [string, string] => isRunnerSecretEnv(e[0]) && e[1] !== undefined,
  );
  if (secrets.length === 0) return { ...process.env };
  const dir = mkdtempSync(join(process.env[ENV.runnerDir] ?? tmpdir(), "runner-"));
  const file = join(dir, "stash.json");
  writeFileSync(file, JSON.stringify(Object.fromEntries(secrets)), { mode: 0o600 });
  const env: Record<string, string> = { [STASH_ENV]: file };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !isRunnerSecretEnv(k)) env[k] = v;
  // Node 24 has execve on POSIX; without it the credentials would stay readable: refuse to run.
  if (!process.execve) throw new Error("process.execve is unavailable: cannot hide the runner's credentials");
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  throw new Error("unreachable: execve returned");
}
