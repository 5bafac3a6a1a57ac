// Scheduled runbooks against the real API server: a Runbook with a schedule gets a CronJob
// (time zone, Forbid, the order Jobs' pod shape), kept in step when the schedule changes, and
// removed when the schedule goes away or the Runbook is deleted.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { Runbook } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { eventually, newNamespace } from "../support/kube.ts";
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
