import { test } from "node:test";
import assert from "node:assert/strict";
import type { Runbook } from "../order/model.ts";
import { decideRunbook, readinessOf } from "./decide.ts";

const rb = {
  metadata: { name: "sync", generation: 2 },
  spec: { image: "x", steps: [] },
} as unknown as Runbook;
const now = new Date("2026-12-08T00:00:00Z");

test("Ready says whether a run could start: Secrets first, then scripts, else Valid", () => {
  assert.equal(readinessOf(rb, {}).reason, "Valid");
  assert.equal(readinessOf(rb, { missingScripts: [] }).status, "True");
  const script = readinessOf(rb, { missingScripts: ["cm/a.sh", "cm/b.sh"] });
  assert.deepEqual([script.status, script.reason], ["False", "ScriptNotFound"]);
  assert.match(script.message, /ConfigMap keys cm\/a\.sh, cm\/b\.sh that do not exist/);
  const both = readinessOf(rb, { refusedSecrets: "Secret m365 is missing", missingScripts: ["cm/a.sh"] });
  assert.equal(both.reason, "SecretNotFound");
  assert.match(
    both.message,
    /^Secret m365 is missing; runbook sync takes its script from ConfigMap key cm\/a\.sh/,
  );
});

test("decideRunbook writes the readiness into Ready with the runbook's generation", () => {
  const { status } = decideRunbook({
    runbook: rb,
    namespace: "ns",
    refs: { missingScripts: ["cm/a.sh"] },
    now,
  });
  const ready = status.conditions?.find((c) => c.type === "Ready");
  assert.deepEqual([ready?.status, ready?.reason, ready?.observedGeneration], ["False", "ScriptNotFound", 2]);
});

test("a scheduled runbook whose Secrets are refused gets no CronJob: an existing one goes, with a Warning", () => {
  const scheduled = { ...rb, spec: { ...rb.spec, schedule: { cron: "@daily" } } } as Runbook;
  const cronJob = { metadata: { name: "sync-schedule" }, spec: { schedule: "@daily", jobTemplate: {} } };
  const { status, actions } = decideRunbook({
    runbook: scheduled,
    cronJob,
    namespace: "ns",
    refs: { refusedSecrets: "Secret m365 is kept to asset type m365" },
    now,
  });
  assert.deepEqual(
    actions.map((a) => a.kind),
    ["DeleteCronJob", "Emit"],
  );
  const synced = status.conditions?.find((c) => c.type === "CronJobSynced");
  assert.deepEqual([synced?.status, synced?.reason], ["False", "CronJobSyncFailed"]);
  assert.equal(status.cronJobName, undefined);
});
