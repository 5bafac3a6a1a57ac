// Kerberos with a real MIT KDC on loopback: the runner gets a ticket from a keytab before the
// first step (a bash step's klist shows the principal), and a stale or wrong keytab fails the
// run with the Kerberos error. Once as a plain process, once as a Job on the local node with
// the keytab and krb5.conf in a Kubernetes Secret and the output lines arriving at an ingest
// endpoint.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { RunnerEvent } from "../../operator/runner/events.ts";
import { startKdc, type Kdc } from "../support/kdc.ts";
import { jobCondition, runnerJob, setupLocalNode } from "../localnode/testing.ts";
import { bash, linesOf, runRunner, tempDir } from "./run.ts";

let kdc: Kdc;
before(async () => {
  kdc = await startKdc();
});
after(() => kdc.stop());

const klistPlan = { runbook: "kerberos", steps: [bash("whoami", "klist")] };

test("the runner runs kinit from the keytab; a step's klist shows the principal", async (t) => {
  const principal = await kdc.addPrincipal("svc-runner");
  const dir = await tempDir(t);
  const keytab = join(dir, "keytab");
  await writeFile(keytab, await kdc.keytab(principal), { mode: 0o400 });
  const r = await runRunner(t, klistPlan, {
    IPSOLIS_KRB5_PRINCIPAL: principal,
    IPSOLIS_KRB5_KEYTAB: keytab,
    KRB5_CONFIG: kdc.krb5ConfPath,
    KRB5CCNAME: `FILE:${join(dir, "ccache")}`,
  });
  assert.equal(r.code, 0, r.stdout);
  const lines = linesOf(r, "whoami", "stdout");
  assert.ok(lines.includes(`Default principal: ${principal}`), lines.join("\n"));
  assert.ok(lines.some((l) => l.includes(`krbtgt/${kdc.realm}@${kdc.realm}`)));
  assert.ok(lines.includes(`Ticket cache: FILE:${join(dir, "ccache")}`));
});

test("a stale keytab fails the run before any step, with the Kerberos error", async (t) => {
  const principal = await kdc.addPrincipal("svc-stale");
  const dir = await tempDir(t);
  const stale = join(dir, "keytab");
  await writeFile(stale, await kdc.keytab(principal));
  await kdc.keytab(principal); // re-keyed: the first keytab is stale now
  const r = await runRunner(t, klistPlan, {
    IPSOLIS_KRB5_PRINCIPAL: principal,
    IPSOLIS_KRB5_KEYTAB: stale,
    KRB5_CONFIG: kdc.krb5ConfPath,
  });
  assert.equal(r.code, 2);
  assert.equal(r.events.filter((e) => e.kind === "step_start").length, 0);
  assert.match(
    r.summary?.message ?? "",
    new RegExp(`^kerberos: kinit -kt \\S+ ${principal} failed: kinit: .+`),
  );
  assert.match(r.summary?.message ?? "", /Password incorrect|Preauthentication failed|key version/i);
  assert.deepEqual(
    r.summary?.steps.map((s) => s.state),
    ["Skipped"],
  );
});

test("a keytab of another principal fails with the Kerberos error", async (t) => {
  const other = await kdc.addPrincipal("svc-other");
  const wanted = await kdc.addPrincipal("svc-wanted");
  const dir = await tempDir(t);
  const keytab = join(dir, "keytab");
  await writeFile(keytab, await kdc.keytab(other));
  const r = await runRunner(t, klistPlan, {
    IPSOLIS_KRB5_PRINCIPAL: wanted,
    IPSOLIS_KRB5_KEYTAB: keytab,
    KRB5_CONFIG: kdc.krb5ConfPath,
  });
  assert.equal(r.code, 2);
  assert.match(
    r.summary?.message ?? "",
    /kinit: .*(no suitable keys|not found in keytab|Keytab contains no suitable keys)/i,
  );
});

async function ingestSink(t: { after: (f: () => Promise<void>) => void }) {
  const lines: RunnerEvent[] = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      lines.push(...(JSON.parse(body) as { lines: RunnerEvent[] }).lines);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ accepted: 1 }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, lines };
}

function kerberosJob(name: string, principal: string, secretName: string, ingestUrl: string) {
  return runnerJob(name, klistPlan, {
    env: [
      { name: "IPSOLIS_KRB5_PRINCIPAL", value: principal },
      { name: "IPSOLIS_KRB5_KEYTAB", value: "/var/run/ipsolis/kerberos/keytab" },
      { name: "KRB5_CONFIG", value: "/var/run/ipsolis/kerberos/krb5.conf" },
      { name: "KRB5CCNAME", value: "FILE:/var/run/ipsolis/ccache/krb5cc" },
      { name: "IPSOLIS_INGEST_URL", value: ingestUrl },
      { name: "IPSOLIS_INGEST_TOKEN", valueFrom: { secretKeyRef: { name: "ingest", key: "token" } } },
    ],
    volumes: [
      { name: "kerberos", secret: { secretName, defaultMode: 0o400 } },
      { name: "ccache", emptyDir: { medium: "Memory" } },
    ],
    mounts: [
      { name: "kerberos", mountPath: "/var/run/ipsolis/kerberos", readOnly: true },
      { name: "ccache", mountPath: "/var/run/ipsolis/ccache" },
    ],
  });
}

test("a Job gets a ticket from the keytab Secret mounted in its pod; klist reaches the ingest endpoint", async (t) => {
  const { ns, core, batch } = await setupLocalNode(t);
  const sink = await ingestSink(t);
  const principal = await kdc.addPrincipal("svc-job");
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: "svc-keytab" },
      data: { keytab: (await kdc.keytab(principal)).toString("base64") },
      stringData: { "krb5.conf": kdc.krb5Conf },
    },
  });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: "ingest" }, stringData: { token: "t0k" } },
  });
  await batch.createNamespacedJob({
    namespace: ns,
    body: kerberosJob("krb", principal, "svc-keytab", sink.url),
  });
  await jobCondition(batch, ns, "krb", "Complete");
  const out = sink.lines.filter((e) => e.kind === "line" && e.step === "whoami").map((e) => e.text ?? "");
  assert.ok(out.includes(`Default principal: ${principal}`), out.join("\n"));
  // The ticket cache sits in the pod's emptyDir (the local node's temp copy of it).
  assert.ok(
    out.some((l) => /^Ticket cache: FILE:\/.+\/volumes\/ccache\/krb5cc$/.test(l)),
    out.join("\n"),
  );
  assert.equal(sink.lines.at(-1)?.kind, "run_end");
});

test("a Job with a stale keytab fails; the pod's termination message carries the Kerberos error", async (t) => {
  const { ns, core, batch } = await setupLocalNode(t);
  const sink = await ingestSink(t);
  const principal = await kdc.addPrincipal("svc-job-stale");
  const stale = await kdc.keytab(principal);
  await kdc.keytab(principal);
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: "svc-keytab" },
      data: { keytab: stale.toString("base64") },
      stringData: { "krb5.conf": kdc.krb5Conf },
    },
  });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: "ingest" }, stringData: { token: "t0k" } },
  });
  await batch.createNamespacedJob({
    namespace: ns,
    body: kerberosJob("krb-stale", principal, "svc-keytab", sink.url),
  });
  await jobCondition(batch, ns, "krb-stale", "Failed");
  const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=krb-stale" })).items[0];
  const term = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(term?.exitCode, 2);
  assert.match(term?.message ?? "", new RegExp(`kerberos: kinit -kt \\S+ ${principal} failed: kinit: `));
  assert.match(term?.message ?? "", /Password incorrect|Preauthentication failed|key version/i);
});
