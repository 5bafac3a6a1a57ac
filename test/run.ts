// The one test command (`npm test`): static checks, then the real servers (control plane
// and Postgres) started once for the whole run, then every unit and integration test under
// node's own runner. Ends with "N passed, N failed, N skipped".
//
//   node test/run.ts                 everything (what CI runs)
//   node test/run.ts --no-check f…   only the named test files, without lint/typecheck
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "./cluster/control-plane.ts";
import { startPostgres } from "./support/postgres.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const noCheck = args.includes("--no-check");
const files = args.filter((a) => !a.startsWith("--"));
const t0 = Date.now();
const say = (l: string) => process.stderr.write(`[test] ${l}\n`);

function runCmd(cmd: string, cmdArgs: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: "inherit", env });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };

if (!noCheck) {
  say("static checks: CRD types up to date, typecheck, lint, format");
  for (const [name, cmdArgs] of [
    ["crd types", ["node", "crds/generate.ts", "--check"]],
    ["typecheck", ["tsc", "-p", "tsconfig.json"]],
    ["lint", ["eslint", "--max-warnings", "0", "."]],
    ["format", ["prettier", "--check", "--log-level", "warn", "."]],
  ] as const) {
    const code = await runCmd(cmdArgs[0], [...cmdArgs.slice(1)], env);
    if (code !== 0) {
      say(`${name} failed (exit ${code})`);
      process.stdout.write("\n0 passed, 1 failed, 0 skipped\n");
      process.exit(1);
    }
  }
}

/**
 * The other programs tests start (helm, mailpit), built from the Go module proxy before any
 * test runs: on a cold cache a build inside a test would count against its timeout (and, with
 * tests in parallel, several would wait on one build). Progress goes to stderr; a failure is
 * reported here and again by the tests that need the program.
 */
async function prebuild(): Promise<void> {
  for (const script of ["test/install/build-helm.sh", "test/support/mailpit-build.sh"]) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn("bash", [script], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
      child.on("close", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    if (code !== 0) say(`${script} failed (exit ${code}); the tests that need it will say so`);
  }
}

say("starting the real servers (a cold first run builds the control plane: ~8 min on 2 cores)");
const started = await Promise.allSettled([startControlPlane({ log: say }), startPostgres({ log: say })]);
if (started[0].status === "rejected" || started[1].status === "rejected") {
  // Stop whichever did start, then fail with the reason(s).
  for (const s of started) if (s.status === "fulfilled") await s.value.stop();
  for (const s of started)
    if (s.status === "rejected") say(`could not start the servers: ${String(s.reason)}`);
  process.stdout.write("\n0 passed, 1 failed, 0 skipped\n");
  process.exit(1);
}
const [cp, pgsrv] = [started[0].value, started[1].value];
// After the control plane's build, not beside it: two Go builds at once on 2 cores take as
// long in all and twice the memory. Warm, each returns at once.
await prebuild();
say(
  `control plane ready at ${cp.server} (kubeconfig ${cp.kubeconfig}); postgres on port ${pgsrv.port}; ${Math.round((Date.now() - t0) / 1000)} s`,
);

let stopping = false;
async function stopServers() {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([cp.stop(), pgsrv.stop()]);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void stopServers().then(() => process.exit(130));
  });
}

const patterns =
  files.length > 0
    ? files
    : ["{api,cli,operator,record,crds,portal,runbooks,bench}/**/*.test.ts", "test/**/*.test.ts"];
const code = await runCmd(
  "node",
  [
    "--test",
    "--test-concurrency=2",
    "--test-timeout=300000",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/support/summary-reporter.ts",
    "--test-reporter-destination=stdout",
    ...patterns,
  ],
  {
    ...env,
    IPSOLIS_TEST_KUBECONFIG: cp.kubeconfig,
    IPSOLIS_TEST_CP_DIR: cp.dir,
    IPSOLIS_TEST_BIN_DIR: cp.binDir,
    IPSOLIS_TEST_PG_URL: pgsrv.adminUrl,
  },
);
await stopServers();
say(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
process.exit(code);
