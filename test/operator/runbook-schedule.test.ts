// Scheduled runbooks against the real API server: a Runbook with a schedule gets a CronJob
// (time zone, Forbid, the order Jobs' pod shape), kept in step when the schedule changes, and
// removed when the schedule goes away or the Runbook is deleted.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { Runbook } from "../../crds/generated/index.ts";
import pg from "pg";
import { applyCrds } from "../support/crds.ts";
import { newDatabase } from "../support/db.ts";
import { eventually, newNamespace } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { listScheduledRuns, recordScheduledRun } from "../../record/scheduled-runs.ts";
import {
  api,
  bashStep,
  condition,
  create,
  eventsFor,
  get,
  patchSpec,
  runbook,
  runOperator,
} from "./support.ts";

before(async () => {
  await applyCrds();
});

const cronJob = (ns: string, name: string) =>
  api()
    .batch.readNamespacedCronJob({ namespace: ns, name })
    .catch(() => undefined);

test("a scheduled Runbook gets a CronJob that follows its schedule and goes when it does", async (t) => {
  const ns = await newNamespace(t);
  await runOperator(t, ns);
  const rb = await create<Runbook>(
    ns,
    "runbooks",
    runbook("nightly", [bashStep("sync", "echo sync", { timeoutSeconds: 60 })], {
      schedule: { cron: "0 2 * * *" },
    }),
  );
  const cj = await eventually("cronjob", () => cronJob(ns, "nightly-schedule"));
  assert.equal(cj.spec?.schedule, "0 2 * * *");
  assert.equal(cj.spec?.timeZone, "Europe/Berlin");
  assert.equal(cj.spec?.concurrencyPolicy, "Forbid");
  assert.equal(cj.spec?.jobTemplate.spec?.backoffLimit, 0);
  assert.equal(cj.spec?.jobTemplate.spec?.activeDeadlineSeconds, 60 + 120);
  const tpl = cj.spec?.jobTemplate.spec?.template;
  assert.equal(tpl?.metadata?.labels?.["ipsolis.io/runner"], "true");
  assert.equal(tpl?.metadata?.labels?.["ipsolis.io/runbook"], "nightly");
  assert.ok(tpl?.spec?.containers[0]?.env?.some((e) => e.name === "IPSOLIS_PLAN"));
  const owner = cj.metadata?.ownerReferences?.[0];
  assert.deepEqual([owner?.kind, owner?.uid, owner?.controller], ["Runbook", rb.metadata?.uid, true]);

  let seen = await eventually("runbook status", async () => {
    const r = await get<Runbook>(ns, "runbooks", "nightly");
    return condition(r, "CronJobSynced")?.reason === "CronJobInSync" ? r : undefined;
  });
  assert.equal(seen.status?.cronJobName, "nightly-schedule");
  assert.equal(condition(seen, "Ready")?.status, "True");

  await patchSpec(ns, "runbooks", "nightly", { schedule: { cron: "30 3 * * 1", timeZone: "UTC" } });
  await eventually("cronjob updated", async () => {
    const c = await cronJob(ns, "nightly-schedule");
    return c?.spec?.schedule === "30 3 * * 1" && c.spec.timeZone === "UTC" ? c : undefined;
  });

  await patchSpec(ns, "runbooks", "nightly", { schedule: { suspend: true } });
  const suspended = await eventually("suspended", async () => {
    const r = await get<Runbook>(ns, "runbooks", "nightly");
    return condition(r, "CronJobSynced")?.reason === "Suspended" ? r : undefined;
  });
  assert.match(condition(suspended, "CronJobSynced")?.message ?? "", /suspended/);
  assert.equal((await cronJob(ns, "nightly-schedule"))?.spec?.suspend, true);

  await patchSpec(ns, "runbooks", "nightly", { schedule: null });
  await eventually("cronjob deleted", async () =>
    (await cronJob(ns, "nightly-schedule")) ? undefined : true,
  );
  seen = await eventually("not scheduled", async () => {
    const r = await get<Runbook>(ns, "runbooks", "nightly");
    return condition(r, "CronJobSynced")?.reason === "NotScheduled" ? r : undefined;
  });
  assert.equal(seen.status?.cronJobName, undefined);
  const reasons = (await eventsFor(ns, "nightly")).map((e) => e.reason);
  for (const r of ["CronJobCreated", "CronJobUpdated", "CronJobDeleted"])
    assert.ok(reasons.includes(r), `${r} in ${reasons.join()}`);
});

test("deleting a scheduled Runbook deletes its CronJob (owner reference)", async (t) => {
  const ns = await newNamespace(t);
  await runOperator(t, ns);
  await create(ns, "runbooks", runbook("weekly", [bashStep("s", "true")], { schedule: { cron: "@weekly" } }));
  await eventually("cronjob", () => cronJob(ns, "weekly-schedule"));
  await api().objects.deleteNamespacedCustomObject({
    group: "ipsolis.io",
    version: "v1alpha1",
    namespace: ns,
    plural: "runbooks",
    name: "weekly",
  });
  await eventually(
    "cronjob collected",
    async () => ((await cronJob(ns, "weekly-schedule")) ? undefined : true),
    30_000,
  );
});

test("a scheduled run is recorded once: an audit row per step and one for the run, and the runbook's last runs", async (t) => {
  const ns = await newNamespace(t);
  await runLocalNodeIn(t, ns, 20);
  const url = await newDatabase(t);
  await runOperator(t, ns, { IPSOLIS_DATABASE_URL: url, IPSOLIS_AUDIT_ANCHOR_SECONDS: 3600 });
  await create(
    ns,
    "runbooks",
    runbook(
      "nightly",
      [bashStep("sync", "echo synced"), bashStep("check", "echo 'check failed' >&2; exit 3")],
      {
        schedule: { cron: "0 2 * * *" },
      },
    ),
  );
  const cj = await eventually("cronjob", () => cronJob(ns, "nightly-schedule"));
  // What `kubectl create job --from=cronjob/nightly-schedule` makes: a real run, now.
  await api().batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: {
        name: "nightly-manual-1",
        labels: cj.spec?.jobTemplate.metadata?.labels ?? {},
        annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
        ownerReferences: [
          {
            apiVersion: "batch/v1",
            kind: "CronJob",
            name: cj.metadata!.name!,
            uid: cj.metadata!.uid!,
            controller: true,
          },
        ],
      },
      spec: cj.spec.jobTemplate.spec!,
    },
  });
  const db = new pg.Pool({ connectionString: url, max: 1 });
  // Ended at the end, before the test's cleanup drops the database (which would kill it).
  db.on("error", () => undefined);
  const runs = await eventually(
    "run recorded",
    async () => {
      const r = await listScheduledRuns(db, ns, "nightly").catch(() => []);
      return r.length > 0 ? r : undefined;
    },
    60_000,
  );
  assert.equal(runs.length, 1);
  const [run] = runs;
  assert.equal(run?.job, "nightly-manual-1");
  assert.equal(run?.cronJob, "nightly-schedule");
  assert.equal(run?.state, "Failed");
  assert.deepEqual(
    run?.steps.map((s) => [s.name, s.state, s.exitCode]),
    [
      ["sync", "Succeeded", 0],
      ["check", "Failed", 3],
    ],
  );
  const audit = await db.query<{
    actor: string;
    action: string;
    source: string;
    data: Record<string, unknown>;
  }>("SELECT actor, action, source, data FROM audit_events WHERE target = 'runbook:nightly' ORDER BY id");
  assert.deepEqual(
    audit.rows.map((r) => [r.actor, r.action, r.source, r.data.step ?? r.data.state]),
    [
      ["runner:nightly-manual-1", "step_succeeded", "schedule", "sync"],
      ["runner:nightly-manual-1", "step_failed", "schedule", "check"],
      ["runner:nightly-manual-1", "scheduled_run_finished", "schedule", "Failed"],
    ],
  );
  // Once: a second recording of the same Job (a retry, a restart, another replica) adds nothing.
  assert.ok(run);
  assert.equal(await recordScheduledRun(db, run), false);
  const again = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE target = 'runbook:nightly'",
  );
  assert.equal(again.rows[0]?.n, 3);
  await db.end();
});
