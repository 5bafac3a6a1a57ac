// `kubectl ipsolis` end to end: the real plugin (bin/kubectl-ipsolis, run as a child process
// with only the environment a user would give it) against the API on the real wiring, listening
// on a port, with its own Postgres database and namespace on the real API server. What is
// asserted is what a user sees: stdout, stderr, the exit code, and the API's state after.
import { test, before, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyCrds } from "../support/crds.ts";
import { testEnv } from "../support/env.ts";
import { eventually } from "../support/kube.ts";
import { addAdmin, newApi, setOrderPhase, signInAs, type Api, type Browser } from "../api/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";
import { createApiToken } from "../../record/identity/tokens.ts";
import { storeLines, type RunnerLine } from "../../record/step-output.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PLUGIN = join(root, "bin", "kubectl-ipsolis");

before(async () => {
  await applyCrds();
});

type Result = { code: number; stdout: string; stderr: string };

/** The environment of a user's shell: PATH with the plugin's bin/, the API's URL, a token. */
function userEnv(w: { url: string }, token: string | undefined, extra: Record<string, string> = {}) {
  return {
    PATH: `${join(root, "bin")}:${testEnv().binDir}:${process.env.PATH ?? ""}`,
    HOME: process.env.HOME ?? "/tmp",
    IPSOLIS_URL: w.url,
    ...(token !== undefined ? { IPSOLIS_TOKEN: token } : {}),
    ...extra,
  };
}

function runFile(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

type World = {
  api: Api;
  url: string;
  rootB: Browser;
  tokens: { root: string; bert: string; ada: string; auditor: string };
  /** Every token, to check that none is ever printed. */
  all: string[];
};

/**
 * ada (admin) created the asset type `vpn`, so separation of duties refuses her approval; root
 * places orders on emp's behalf, so root may not approve them; bert is an approver.
 */
async function world(t: TestContext): Promise<World> {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  await addAdmin(api, "olga", "auditor", undefined, "olga@example.com");
  const rootB = await signInAs(api, "root");
  const ada = await signInAs(api, "ada");
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["ada@example.com", "bert", "root"], quorum: 1 },
      }),
    },
  });
  assert.equal(at.statusCode, 201, at.body);
  // root's token the way an admin gets one (POST /admin/tokens); the others as their accounts'.
  const minted = await api.app.inject({
    method: "POST",
    url: "/admin/tokens",
    headers: rootB.headers,
    payload: { name: "cli-root", role: "superadmin", scopes: ["admin:*"] },
  });
  assert.equal(minted.statusCode, 201, minted.body);
  const mint = async (name: string, role: "approver" | "admin" | "auditor", by: string) =>
    (await createApiToken(api.db, { name, role, scopes: ["admin:*"], createdBy: `admin:${by}` })).token;
  const tokens = {
    root: minted.json<{ token: string }>().token,
    bert: await mint("cli-bert", "approver", "bert"),
    ada: await mint("cli-ada", "admin", "ada"),
    auditor: await mint("cli-olga", "auditor", "olga"),
  };
  const address = await api.app.listen({ host: "127.0.0.1", port: 0 });
  return { api, url: address, rootB, tokens, all: Object.values(tokens) };
}

async function newOrder(w: World, phases: string[] = ["PendingApproval"], who = "emp"): Promise<string> {
  const r = await w.api.app.inject({
    method: "POST",
    url: "/orders",
    headers: w.rootB.headers,
    payload: { assetType: "vpn", requester: { id: who, email: `${who}@example.com` } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const name = r.json<{ name: string }>().name;
  await setOrderPhase(w.api, name, ...phases);
  return name;
}

/** Runs the plugin with one of the world's tokens (`null`: none at all). */
function cli(w: World, args: string[], as: keyof World["tokens"] | null = "bert"): Promise<Result> {
  return runFile(PLUGIN, args, userEnv(w, as ? w.tokens[as] : undefined)).then((r) => {
    for (const tok of w.all) {
      assert.ok(
        !r.stdout.includes(tok) && !r.stderr.includes(tok),
        `a token was printed by ${args.join(" ")}`,
      );
    }
    return r;
  });
}

type OrderJson = {
  name: string;
  phase?: string;
  cancelRequested: boolean;
  approvals: { approver: string; decision: string; comment?: string }[];
  waitingFor?: { approvers: string[]; needed: number };
};

const orderOf = async (w: World, name: string) =>
  JSON.parse((await cli(w, ["get", "order", name, "-o", "json"])).stdout) as OrderJson;

test("get orders shows a pending order and whom it waits for; approve moves it on, refusals exit 1 with the API's message; decline", async (t) => {
  const w = await world(t);
  const pending = await newOrder(w);
  const other = await newOrder(w);

  const list = await cli(w, ["get", "orders"]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^NAME +ASSET TYPE +FOR +PHASE +WAITING FOR +AGE$/);
  const row = lines.find((l) => l.startsWith(`${pending} `));
  assert.match(
    row ?? "",
    /^\S+ +vpn +emp@example\.com +PendingApproval +ada@example\.com or bert or root +\d+s$/,
    list.stdout,
  );

  // Through kubectl itself (plugin discovery on PATH), all namespaces: the NAMESPACE column.
  const viaKubectl = await runFile(
    join(testEnv().binDir, "kubectl"),
    ["ipsolis", "get", "orders", "-A"],
    userEnv(w, w.tokens.bert),
  );
  assert.equal(viaKubectl.code, 0, viaKubectl.stderr);
  assert.match(viaKubectl.stdout, /^NAMESPACE +NAME +ASSET TYPE/);
  assert.match(viaKubectl.stdout, new RegExp(`\\n${w.api.namespace} +${pending} +vpn `));
  const elsewhere = await cli(w, ["get", "orders", "-n", "not-the-api-namespace"]);
  assert.deepEqual(
    [elsewhere.code, elsewhere.stdout, elsewhere.stderr],
    [0, "", "No resources found in not-the-api-namespace namespace.\n"],
  );

  // Refused: separation of duties (ada created the type), self-approval (root placed it), and a
  // role without orders:approve. Exit 1, the API's own sentence on stderr, nothing recorded.
  const sod = await cli(w, ["approve", pending], "ada");
  assert.equal(sod.code, 1, sod.stdout);
  assert.match(
    sod.stderr,
    /^Error from server \(SeparationOfDuties\): .*audit row \d+: asset_type_created by admin:ada/,
  );
  const self = await cli(w, ["approve", pending], "root");
  assert.equal(self.code, 1);
  assert.match(self.stderr, /^Error from server \(SelfApproval\): /);
  const auditor = await cli(w, ["approve", pending], "auditor");
  assert.equal(auditor.code, 1);
  assert.match(
    auditor.stderr,
    /^Error from server \(Forbidden\): .*role auditor lacks permission orders:approve/,
  );
  assert.deepEqual((await orderOf(w, pending)).approvals, []);

  const ok = await cli(w, ["approve", pending, "--comment", "fine"]);
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, `order.ipsolis.io/${pending} approved\n`, ""]);
  const after = await orderOf(w, pending);
  assert.deepEqual(
    after.approvals.map((a) => [a.approver, a.decision, a.comment]),
    [["bert", "Approved", "fine"]],
  );
  assert.equal(after.waitingFor, undefined, "the quorum is met: nobody is waited for");
  const again = await cli(w, ["get", "orders"]);
  assert.match(again.stdout, new RegExp(`\\n${pending} +vpn +emp@example\\.com +PendingApproval +<none> `));
  const twice = await cli(w, ["approve", pending]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^Error from server \(\w+\): /);

  // Decline: a comment is required (usage error, exit 2), then recorded with the decision.
  const bare = await cli(w, ["decline", other]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^error: decline needs --comment/);
  const declined = await cli(w, ["decline", other, "--comment", "no budget"]);
  assert.deepEqual([declined.code, declined.stdout], [0, `order.ipsolis.io/${other} declined\n`]);
  assert.deepEqual(
    (await orderOf(w, other)).approvals.map((a) => [a.approver, a.decision, a.comment]),
    [["bert", "Declined", "no budget"]],
  );
  const missing = await cli(w, ["approve", "no-such-order"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error from server \(NotFound\): order .*no-such-order.* not found/);
});

function line(seq: number, l: Omit<RunnerLine, "seq" | "ts">): RunnerLine {
  return { seq, ts: new Date().toISOString(), ...l };
}

test("cancel, revoke, logs and logs -f until the order finishes", async (t) => {
  const w = await world(t);
  const toCancel = await newOrder(w);
  const cancelled = await cli(w, ["cancel", toCancel], "root");
  assert.deepEqual(
    [cancelled.code, cancelled.stdout],
    [0, `order.ipsolis.io/${toCancel} cancel requested\n`],
  );
  assert.equal((await orderOf(w, toCancel)).cancelRequested, true);

  // A running order: its step output so far, then live lines until it is Provisioned.
  const running = await newOrder(w, ["Scheduled", "Processing"]);
  const who = { namespace: w.api.namespace, order: running, job: `${running}-1` };
  await storeLines(w.api.db, who, [
    line(1, { kind: "step_start", step: "add", attempt: 1 }),
    line(2, { kind: "line", step: "add", stream: "stdout", text: "adding emp to vpn-users" }),
  ]);
  const logs = await cli(w, ["logs", running]);
  assert.deepEqual(
    [logs.code, logs.stdout],
    [0, `--- job ${running}-1\n==> step add\nadding emp to vpn-users\n`],
  );
  const tooLate = await cli(w, ["cancel", running], "root");
  assert.equal(tooLate.code, 1);
  assert.match(tooLate.stderr, /^Error from server \(TooLateToCancel\): the order is Processing/);

  const child = spawn(PLUGIN, ["logs", "-f", running], { env: userEnv(w, w.tokens.bert) });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  await eventually("the backlog is printed", async () => (out.includes("adding emp") ? true : undefined));
  await storeLines(w.api.db, who, [
    line(3, { kind: "line", step: "add", stream: "stdout", text: "live: added" }),
    line(4, { kind: "step_end", step: "add", state: "Succeeded", exitCode: 0 }),
  ]);
  await eventually("a live line is printed", async () => (out.includes("live: added") ? true : undefined));
  assert.equal(child.exitCode, null, "still following while the order runs");
  await storeLines(w.api.db, who, [line(5, { kind: "run_end", state: "Succeeded" })]);
  await setOrderPhase(w.api, running, "Provisioned");
  assert.equal(await exited, 0, err);
  assert.equal(
    out,
    [
      `--- job ${running}-1`,
      "==> step add",
      "adding emp to vpn-users",
      "live: added",
      "<== step add: Succeeded (exit 0)",
      "==> run Succeeded",
      "",
    ].join("\n"),
  );

  // Revoke the Provisioned order: its Deprovision order is created once.
  const revoked = await cli(w, ["revoke", running, "--reason", "project ended"], "root");
  assert.deepEqual(
    [revoked.code, revoked.stdout],
    [0, `order.ipsolis.io/${running} revoke requested: order.ipsolis.io/${running}-deprovision created\n`],
  );
  const second = await cli(w, ["revoke", running], "root");
  assert.equal(second.code, 0);
  assert.match(second.stdout, /revoke already requested: order\.ipsolis\.io\/\S+-deprovision is /);
  const notProvisioned = await cli(w, ["revoke", toCancel], "root");
  assert.equal(notProvisioned.code, 1);
  assert.match(notProvisioned.stderr, /^Error from server \(NotProvisioned\): /);
});

test("leaver plan (dry run) and verify-audit through the API", async (t) => {
  const w = await world(t);
  const pending = await newOrder(w, ["PendingApproval"], "jdoe");
  const held = await newOrder(w, ["Scheduled", "Processing", "Provisioned"], "jdoe");
  await newOrder(w, ["PendingApproval"], "kim");

  const plan = await cli(w, ["leaver", "plan", "jdoe"], "root");
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(
    plan.stdout,
    /^Leaver plan for jdoe \(employee \S+\), effective \S+ \(dry run: nothing was changed\)\n/,
  );
  assert.match(plan.stdout, new RegExp(`Would cancel 1 pending order\\(s\\):\\n  ORDER\\n  ${pending}\\n`));
  assert.match(
    plan.stdout,
    new RegExp(
      `Would revoke 1 asset\\(s\\):\\n  ORDER +ASSET TYPE +DEPROVISION ORDER +ALREADY QUEUED\\n  ${held} +vpn +${held}-deprovision +no\\n$`,
    ),
  );
  // A dry run changes nothing; a role without hr:leaver is refused.
  assert.equal((await orderOf(w, pending)).cancelRequested, false);
  const refused = await cli(w, ["leaver", "plan", "jdoe"], "auditor");
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^Error from server \(Forbidden\): /);

  const intact = await cli(w, ["verify-audit"], "auditor");
  assert.equal(intact.code, 0, intact.stderr);
  assert.match(intact.stdout, /^audit chain intact: \d+ rows, head \d+ [0-9a-f]{64}; 0 anchors match\n$/);
  const asJson = JSON.parse((await cli(w, ["verify-audit", "-o", "json"], "auditor")).stdout) as {
    intact: boolean;
    count: number;
  };
  assert.equal(asJson.intact, true);
  assert.ok(asJson.count > 5);
  const approver = await cli(w, ["verify-audit"], "bert");
  assert.equal(approver.code, 1, "approvers do not read the audit log");

  await w.api.db.query(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE audit_events SET data = '{"forged": true}' WHERE id = 2;
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`);
  const broken = await cli(w, ["verify-audit"], "auditor");
  assert.equal(broken.code, 1);
  assert.match(
    broken.stdout,
    /^audit chain broken: broken link at audit row 2: hash expected [0-9a-f]{64}, found/,
  );
});

test("usage and connection errors exit 2 with a clear message; --help exits 0", async (t) => {
  const w = await world(t);
  const noToken = await cli(w, ["get", "orders"], null);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^error: no API token: pass --token or set IPSOLIS_TOKEN/);
  assert.equal(noToken.stdout, "");

  const unknown = await cli(w, ["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command "frobnicate"\n\n.*\nCommands:\n {2}get orders /s);

  const unreachable = await runFile(PLUGIN, ["get", "orders", "--server", "http://127.0.0.1:9"], {
    ...userEnv(w, w.tokens.bert),
  });
  assert.equal(unreachable.code, 2);
  assert.match(unreachable.stderr, /^error: cannot reach the ipsolis API at http:\/\/127\.0\.0\.1:9: /);

  const badToken = await runFile(PLUGIN, ["get", "orders"], userEnv(w, "ips_not-a-real-token"));
  assert.equal(badToken.code, 1);
  assert.match(badToken.stderr, /^Error from server \(TokenUnknown\): invalid API token\n$/);
  assert.doesNotMatch(badToken.stderr, /not-a-real-token/);

  const help = await cli(w, ["logs", "--help"], null);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Print an order's step output/);
  assert.match(help.stdout, /-f, --follow/);
});
