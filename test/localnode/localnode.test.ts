// The local node against the real API server and controller-manager: hand-written Jobs whose
// pods run the runner complete or fail through the real Job controller, env and volumes are
// resolved like the kubelet does, and activeDeadlineSeconds kills the process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually } from "../support/kube.ts";
import { isAlive, jobCondition, runnerJob, setupLocalNode as setup } from "./testing.ts";

test("a Job whose pod runs the runner with a bash step completes", async (t) => {
  const { ns, core, batch } = await setup(t);
  await batch.createNamespacedJob({
    namespace: ns,
    body: runnerJob("ok", {
      runbook: "demo",
      steps: [{ name: "hello", shell: "bash", script: "echo hello" }],
    }),
  });
  await jobCondition(batch, ns, "ok", "Complete");
  const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=ok" });
  const pod = pods.items[0];
  assert.equal(pod?.spec?.nodeName, "ipsolis-local-node");
  assert.equal(pod?.status?.phase, "Succeeded");
  const term = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(term?.exitCode, 0);
  assert.equal(term?.reason, "Completed");
  const summary = JSON.parse(term?.message ?? "{}") as { steps: { name: string; state: string }[] };
  assert.deepEqual(
    summary.steps.map((s) => [s.name, s.state]),
    [["hello", "Succeeded"]],
  );
  const node = await core.readNode({ name: "ipsolis-local-node" });
  assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
});

test("a failing critical step fails the Job, with the exit code and summary on the pod", async (t) => {
  const { ns, core, batch } = await setup(t);
  await batch.createNamespacedJob({
    namespace: ns,
    body: runnerJob("bad", { runbook: "demo", steps: [{ name: "boom", shell: "bash", script: "exit 3" }] }),
  });
  await jobCondition(batch, ns, "bad", "Failed");
  const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=bad" })).items[0];
  const term = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(term?.exitCode, 1);
  assert.equal(term?.reason, "Error");
  assert.match(term?.message ?? "", /critical step boom failed: exited with code 3/);
});

test("env from Secrets, ConfigMaps and fieldRefs, and Secret/ConfigMap volumes reach the step", async (t) => {
  const { ns, core, batch, dir } = await setup(t);
  const out = join(dir, "out.txt");
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: "creds" }, stringData: { token: "tok-xyz", "keytab.bin": "KEYTAB-BYTES" } },
  });
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: {
      metadata: { name: "scripts" },
      data: {
        "step.sh": `echo "token=$TOKEN pod=$POD ns=$NS colour=$COLOUR" > ${out}\ncat "$KEYTAB_PATH" >> ${out}; echo >> ${out}\nstat -c %a "$KEYTAB_PATH" >> ${out}\n`,
      },
    },
  });
  await batch.createNamespacedJob({
    namespace: ns,
    body: runnerJob(
      "env",
      {
        runbook: "demo",
        steps: [
          {
            name: "from-cm",
            shell: "bash",
            scriptFile: "/var/run/ipsolis/scripts/0-dir/script",
            parameters: [{ name: "TOKEN", env: "IPSOLIS_SECRET_0_0", secret: true }],
          },
        ],
      },
      {
        env: [
          { name: "IPSOLIS_SECRET_0_0", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
          { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
          { name: "COLOUR", value: "blue" },
          { name: "KEYTAB_PATH", value: "/var/run/ipsolis/kerberos/keytab" },
        ],
        volumes: [
          {
            name: "kerberos",
            secret: { secretName: "creds", items: [{ key: "keytab.bin", path: "keytab" }] },
          },
          { name: "script-0", configMap: { name: "scripts", items: [{ key: "step.sh", path: "script" }] } },
        ],
        mounts: [
          { name: "kerberos", mountPath: "/var/run/ipsolis/kerberos", readOnly: true },
          { name: "script-0", mountPath: "/var/run/ipsolis/scripts/0-dir", readOnly: true },
        ],
      },
    ),
  });
  await jobCondition(batch, ns, "env", "Complete");
  const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: "job-name=env" })).items[0];
  assert.deepEqual((await readFile(out, "utf8")).split("\n"), [
    `token=tok-xyz pod=${pod?.metadata?.name ?? ""} ns=${ns} colour=blue`,
    "KEYTAB-BYTES",
    "400",
    "",
  ]);
});

test("activeDeadlineSeconds: the Job controller fails the Job and the process tree is killed", async (t) => {
  const { ns, batch, dir } = await setup(t);
  const pidFile = join(dir, "pids");
  await batch.createNamespacedJob({
    namespace: ns,
    body: runnerJob(
      "slow",
      {
        runbook: "demo",
        steps: [
          {
            name: "hang",
            shell: "bash",
            script: `sleep 600 & echo "$$ $!" > ${pidFile}; sleep 601`,
            timeoutSeconds: 3600,
          },
        ],
      },
      { deadline: 3 },
    ),
  });
  const pids = await eventually("step started", async () => {
    const text = await readFile(pidFile, "utf8").catch(() => "");
    return text.trim() ? text.trim().split(" ").map(Number) : undefined;
  });
  const failed = await jobCondition(batch, ns, "slow", "Failed");
  assert.equal(failed.reason, "DeadlineExceeded");
  await eventually(
    "step processes killed",
    async () => (pids.every((p) => !isAlive(p)) ? true : undefined),
    40_000,
  );
});

test("a pod with the default service-account token volume still runs", async (t) => {
  const { ns, batch } = await setup(t);
  const job = runnerJob("token", {
    runbook: "demo",
    steps: [{ name: "hello", shell: "bash", script: "echo hi" }],
  });
  delete job.spec?.template.spec?.automountServiceAccountToken;
  await batch.createNamespacedJob({ namespace: ns, body: job });
  await jobCondition(batch, ns, "token", "Complete");
});
