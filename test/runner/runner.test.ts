// The real runner process with bash steps: order of events, critical and non-critical
// failures, timeouts that kill the whole process tree, retries and their delays, masking,
// and the termination summary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { bash, linesOf, runRunner } from "./run.ts";

/** Alive = exists and is not a zombie waiting for init to reap it. */
function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

test("success path: steps run in order, events are sequenced, the summary says Succeeded", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [
      bash("first", 'echo "one"; echo "two" >&2; echo "param=$GREETING step=$IPSOLIS_STEP"', {
        parameters: [{ name: "GREETING", value: "hello" }],
      }),
      bash("second", "printf 'no newline at end'"),
    ],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.events.map((e) => e.seq),
    r.events.map((_, i) => i + 1),
    "seq increases by one from 1",
  );
  assert.deepEqual(
    r.events.map((e) => `${e.kind}:${e.step ?? ""}`),
    [
      "step_start:first",
      ...r.events.slice(1, 4).map((e) => `line:${e.step ?? ""}`),
      "step_end:first",
      "step_start:second",
      "line:second",
      "step_end:second",
      "run_end:",
    ],
  );
  assert.deepEqual(linesOf(r, "first", "stdout"), ["one", "param=hello step=first"]);
  assert.deepEqual(linesOf(r, "first", "stderr"), ["two"]);
  assert.deepEqual(linesOf(r, "second"), ["no newline at end"]);
  for (const e of r.events) assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const end = r.events.at(-1);
  assert.equal(end?.state, "Succeeded");
  assert.equal(end?.exitCode, 0);
  assert.deepEqual(
    r.summary?.steps.map((s) => [s.name, s.state, s.attempts, s.exitCode]),
    [
      ["first", "Succeeded", 1, 0],
      ["second", "Succeeded", 1, 0],
    ],
  );
  assert.ok(
    typeof r.summary?.steps[0]?.startedAt === "string" && typeof r.summary.steps[0].finishedAt === "string",
  );
});

test("a failing critical step fails the run (exit 1) and skips the rest", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [bash("ok", "echo fine"), bash("boom", "echo about to fail; exit 7"), bash("after", "echo never")],
  });
  assert.equal(r.code, 1);
  assert.deepEqual(linesOf(r, "after"), []);
  assert.equal(r.events.filter((e) => e.kind === "step_start" && e.step === "after").length, 0);
  const skipped = r.events.find((e) => e.kind === "step_end" && e.step === "after");
  assert.equal(skipped?.state, "Skipped");
  assert.equal(skipped?.message, "skipped: critical step boom failed");
  assert.deepEqual(
    r.summary?.steps.map((s) => [s.name, s.state, s.exitCode ?? null]),
    [
      ["ok", "Succeeded", 0],
      ["boom", "Failed", 7],
      ["after", "Skipped", null],
    ],
  );
  assert.equal(r.summary?.message, "critical step boom failed: exited with code 7");
});

test("a failing non-critical step is recorded and the run continues and succeeds", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [bash("soft", "exit 3", { critical: false }), bash("next", "echo still here")],
  });
  assert.equal(r.code, 0);
  assert.deepEqual(linesOf(r, "next"), ["still here"]);
  assert.deepEqual(
    r.summary?.steps.map((s) => [s.name, s.state]),
    [
      ["soft", "Failed"],
      ["next", "Succeeded"],
    ],
  );
  assert.match(r.summary?.message ?? "", /non-critical step\(s\) failed: soft/);
});

test("a timeout kills the whole process tree, background grandchildren included", async (t) => {
  const started = Date.now();
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash("hang", 'sleep 300 & echo "bg=$!"; bash -c "sleep 301" & echo "bg2=$!"; sleep 302', {
          timeoutSeconds: 1,
        }),
      ],
    },
    { IPSOLIS_KILL_GRACE_SECONDS: "1" },
  );
  assert.equal(r.code, 1);
  assert.ok(Date.now() - started < 10_000, "the runner did not wait for the sleeps");
  const pids = linesOf(r, "hang").map((l) => Number(l.split("=")[1]));
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.equal(isAlive(pid), false, `background process ${pid} was killed`);
  const end = r.events.find((e) => e.kind === "step_end" && e.step === "hang");
  assert.equal(end?.exitCode, 124);
  assert.equal(end?.message, "timed out after 1s; process tree killed");
});

test("background children a successful step leaves behind are killed when it ends", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [bash("leave", 'sleep 300 & echo "bg=$!"')],
  });
  assert.equal(r.code, 0);
  const pid = Number(linesOf(r, "leave")[0]?.split("=")[1]);
  assert.ok(pid > 0);
  assert.equal(isAlive(pid), false);
});

test("retries: attempts are counted, delays respected, success on the last attempt", async (t) => {
  const r0 = await runRunner(t, { runbook: "x", steps: [bash("noop", "true")] });
  const counter = join(r0.dir, "count");
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [
      bash(
        "flaky",
        `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "try $n"; [ "$n" -ge 3 ]`,
        { retries: 3, retryDelaySeconds: 1 },
      ),
    ],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(counter, "utf8"), "3\n");
  const ends = r.events.filter((e) => e.kind === "step_end");
  assert.deepEqual(
    ends.map((e) => [e.attempt, e.state]),
    [
      [1, "Failed"],
      [2, "Failed"],
      [3, "Succeeded"],
    ],
  );
  assert.equal(ends[0]?.message, "attempt 1 of 4 exited with code 1; retrying in 1s");
  const starts = r.events.filter((e) => e.kind === "step_start").map((e) => Date.parse(e.ts));
  assert.equal(starts.length, 3);
  for (let i = 1; i < starts.length; i++) {
    const gap = (starts[i] ?? 0) - (starts[i - 1] ?? 0);
    assert.ok(gap >= 1000 && gap < 3000, `retry delay ~1 s (was ${gap} ms)`);
  }
  assert.equal(r.summary?.steps[0]?.attempts, 3);
});

test("retries exhausted: the step fails after retries + 1 attempts", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [bash("never", "echo nope; exit 5", { retries: 2, retryDelaySeconds: 0 })],
  });
  assert.equal(r.code, 1);
  assert.equal(r.events.filter((e) => e.kind === "step_start").length, 3);
  assert.deepEqual(
    r.summary?.steps.map((s) => [s.state, s.attempts, s.exitCode, s.message]),
    [["Failed", 3, 5, "exited with code 5 (after 3 attempts)"]],
  );
});

test("secret parameter values never appear in output, plain or base64", async (t) => {
  const secret = "s3cr3t-P@ss word";
  const b64 = Buffer.from(secret).toString("base64");
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash(
          "leak",
          'echo "plain: $API_KEY"; echo "b64: $(printf %s "$API_KEY" | base64)"; echo "err: $API_KEY" >&2; echo "env has plan: ${IPSOLIS_PLAN:-no} secret env: ${IPSOLIS_SECRET_0_0:-no}"; exit 9',
          { parameters: [{ name: "API_KEY", env: "IPSOLIS_SECRET_0_0", secret: true }] },
        ),
      ],
    },
    { IPSOLIS_SECRET_0_0: secret },
  );
  assert.equal(r.code, 1);
  assert.ok(!r.stdout.includes(secret), "plain secret in stdout");
  assert.ok(!r.stdout.includes(b64), "base64 secret in stdout");
  assert.deepEqual(linesOf(r, "leak", "stdout"), [
    "plain: ***",
    "b64: ***",
    "env has plan: no secret env: no",
  ]);
  assert.deepEqual(linesOf(r, "leak", "stderr"), ["err: ***"]);
  const summary = JSON.stringify(r.summary);
  assert.ok(!summary.includes(secret));
});

test("a failed step's message ends with its last stderr line, masked before it is shortened", async (t) => {
  // The secret straddles the 300-character cut: shortened first, its head would survive.
  const secret = "TOPSECRET-abcdefghijklmnopqrstuvwxyz";
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash("leak", `printf '%0290d%s\\n' 0 "$API_KEY" >&2; exit 4`, {
          parameters: [{ name: "API_KEY", env: "IPSOLIS_SECRET_0_0", secret: true }],
        }),
      ],
    },
    { IPSOLIS_SECRET_0_0: secret },
  );
  assert.equal(r.code, 1);
  const message = (r.summary?.steps[0]?.message as string | undefined) ?? "";
  assert.match(message, /^exited with code 4: 0{290}\*\*\*/);
  assert.doesNotMatch(JSON.stringify(r.summary) + r.stdout, /TOPSEC/);
});

test("a missing secret env var fails the run before any step (exit 2)", async (t) => {
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [bash("s", "echo x", { parameters: [{ name: "K", env: "IPSOLIS_SECRET_0_0", secret: true }] })],
  });
  assert.equal(r.code, 2);
  assert.equal(r.events.filter((e) => e.kind === "step_start").length, 0);
  assert.match(r.summary?.message ?? "", /secret parameter values missing: s\.K \(env IPSOLIS_SECRET_0_0\)/);
});

test("an invalid plan fails with exit 2 and says what is wrong", async (t) => {
  const r = await runRunner(t, '{"runbook":"x","steps":[{"name":"a","shell":"zsh","script":"true"}]}');
  assert.equal(r.code, 2);
  assert.match(r.summary?.message ?? "", /invalid runner configuration/);
  assert.match(r.summary?.message ?? "", /IPSOLIS_PLAN/);
  assert.match(r.summary?.message ?? "", /shell/);
});

test("the termination summary stays within 4 KiB with many long failures", async (t) => {
  const steps = Array.from({ length: 40 }, (_, i) =>
    bash(`step-${i}`, `echo ${"x".repeat(10)}; exit 1`, { critical: false }),
  );
  const r = await runRunner(t, { runbook: "demo", steps });
  assert.equal(r.code, 0);
  const text = JSON.stringify(r.summary);
  assert.ok(Buffer.byteLength(text) <= 4096, `summary is ${Buffer.byteLength(text)} bytes`);
  assert.equal(r.summary?.steps.length, 40);
});

test("pwsh steps run when pwsh is installed", async (t) => {
  const which = await import("node:child_process").then(
    (cp) =>
      new Promise<boolean>((resolve) =>
        cp.execFile("pwsh", ["-NoProfile", "-Command", "exit 0"], (err) => resolve(!err)),
      ),
  );
  if (!which) {
    t.skip("pwsh not installed: PowerShell 7 steps are tested only where pwsh exists (the runner image)");
    return;
  }
  const r = await runRunner(t, {
    runbook: "demo",
    steps: [
      {
        name: "ps",
        shell: "pwsh",
        script: 'foreach ($i in 1..2) {\n  Write-Output "n=$i $env:GREETING"\n}\nexit 4',
        parameters: [{ name: "GREETING", value: "hi" }],
        critical: false,
      },
    ],
  });
  assert.deepEqual(linesOf(r, "ps", "stdout"), ["n=1 hi", "n=2 hi"]);
  assert.equal(r.summary?.steps[0]?.exitCode, 4);
});

test("SIGTERM to the runner (pod deleted) kills the running step's tree, skips the rest, exits 143", async (t) => {
  let signalled = false;
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash("long", 'sleep 300 & echo "bg=$!"; sleep 301', { timeoutSeconds: 600 }),
        bash("next", "echo never"),
      ],
    },
    { IPSOLIS_KILL_GRACE_SECONDS: "1" },
    {
      onEvent: (e, child) => {
        if (e.kind === "line" && e.text?.startsWith("bg=") && !signalled) {
          signalled = true;
          child.kill("SIGTERM");
        }
      },
    },
  );
  assert.ok(signalled);
  assert.equal(r.code, 143);
  const pid = Number(linesOf(r, "long")[0]?.split("=")[1]);
  assert.equal(isAlive(pid), false);
  assert.deepEqual(
    r.summary?.steps.map((s) => [s.name, s.state, s.message]),
    [
      ["long", "Failed", "the runner was terminated (pod deleted or deadline exceeded)"],
      ["next", "Skipped", "skipped: the runner was terminated"],
    ],
  );
  assert.match(r.summary?.message ?? "", /^terminated: /);
});

test("a step cannot read the runner's credentials back through /proc/$PPID/environ (rev defeats masking)", async (t) => {
  const token = "ipsi1.ingest-token-of-this-job.sig";
  const secret = "another-steps-s3cret";
  const rev = (s: string) => [...s].reverse().join("");
  const r = await runRunner(
    t,
    {
      runbook: "demo",
      steps: [
        bash(
          "peek",
          "tr '\\0' '\\n' < /proc/$PPID/environ | rev; echo env-of-runner-read; " +
            "f=$(tr '\\0' '\\n' < /proc/$PPID/environ | sed -n 's/^IPSOLIS_RUNNER_STASH=//p'); " +
            'test -n "$f" && { rev "$f" 2>/dev/null || echo stash-gone; }',
        ),
        bash("use", 'test -n "$API_KEY"', {
          parameters: [{ name: "API_KEY", env: "IPSOLIS_SECRET_1_0", secret: true }],
        }),
      ],
    },
    {
      IPSOLIS_SECRET_1_0: secret,
      IPSOLIS_INGEST_URL: "http://127.0.0.1:9",
      IPSOLIS_INGEST_TOKEN: token,
      IPSOLIS_INGEST_FLUSH_SECONDS: "0",
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const peek = linesOf(r, "peek", "stdout");
  assert.ok(peek.includes("env-of-runner-read"), peek.join("\n"));
  // It did read the runner's environment (the plan is there, as it should be).
  assert.ok(
    peek.some((l) => l.endsWith(rev("IPSOLIS_PLAN="))),
    peek.join("\n"),
  );
  const seen = peek.join("\n");
  assert.ok(!seen.includes(rev(token)), "the ingest token was readable by a step");
  assert.ok(!seen.includes(rev(secret)), "another step's secret was readable by a step");
  assert.ok(!seen.includes(rev("IPSOLIS_SECRET_1_0=")), "a secret env var is visible");
  assert.ok(!seen.includes(rev("IPSOLIS_INGEST_TOKEN=")), "the token env var is visible");
  // The file the runner re-executed with is gone before the first step.
  assert.ok(peek.includes("stash-gone"), seen);
});
