// The bash twins of the sample runbooks, run by the real runner: provision, verify and
// deprovision change the stand-in "directory", secrets stay masked, reconcile reports drift.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { Runbook } from "../../crds/generated/index.ts";
import type { RunPlanInput } from "../../operator/runner/plan.ts";
import { readSamples } from "../crds/samples.ts";
import { linesOf, runRunner, tempDir } from "./run.ts";

/** A Runbook's plan as the operator builds it (secret parameters as IPSOLIS_SECRET_<i>_<j>). */
function planOf(rb: Runbook): { plan: RunPlanInput; secrets: Record<string, string> } {
  const secrets: Record<string, string> = {};
  const plan: RunPlanInput = {
    runbook: rb.metadata?.name ?? "",
    steps: rb.spec.steps.map((s, i) => ({
      name: s.name,
      shell: s.shell,
      script: s.script,
      timeoutSeconds: s.timeoutSeconds,
      retries: s.retries,
      retryDelaySeconds: s.retryDelaySeconds,
      critical: s.critical,
      parameters: (s.parameters ?? []).map((p, j) => {
        if (!p.valueFrom) return { name: p.name, value: p.value ?? "" };
        const env = `IPSOLIS_SECRET_${i}_${j}`;
        secrets[env] = `secret-of-${p.valueFrom.secretKeyRef.name}`;
        return { name: p.name, env, secret: true as const };
      }),
    })),
  };
  return { plan, secrets };
}

async function runbook(name: string): Promise<Runbook> {
  const found = (await readSamples()).find((s) => s.obj.kind === "Runbook" && s.obj.metadata?.name === name);
  if (!found) throw new Error(`no sample Runbook ${name}`);
  return found.obj as Runbook;
}

const requester = {
  IPSOLIS_ORDER: "o-123",
  IPSOLIS_REQUESTER_ID: "jdoe",
  IPSOLIS_REQUESTER_EMAIL: "jdoe@example.com",
  IPSOLIS_ATTRIBUTES: JSON.stringify({ usageLocation: "DE", justification: "on call" }),
};

test("ad-group twins: add + verify, then remove", async (t) => {
  const state = await tempDir(t);
  const env = { ...requester, IPSOLIS_DEMO_STATE_DIR: state };
  const add = await runRunner(t, planOf(await runbook("ad-group-add-bash")).plan, env);
  assert.equal(add.code, 0, add.stdout);
  assert.deepEqual(linesOf(add, "verify"), ["verified membership of jdoe in VPN-Users"]);
  assert.equal(await readFile(`${state}/VPN-Users.members`, "utf8"), "jdoe\n");
  const again = await runRunner(t, planOf(await runbook("ad-group-add-bash")).plan, env);
  assert.equal(again.code, 0);
  assert.equal(await readFile(`${state}/VPN-Users.members`, "utf8"), "jdoe\n", "idempotent");
  const remove = await runRunner(t, planOf(await runbook("ad-group-remove-bash")).plan, env);
  assert.equal(remove.code, 0);
  assert.equal(await readFile(`${state}/VPN-Users.members`, "utf8"), "");
});

test("m365 twins: assign masks the client secret; reconcile fails when the pool is exceeded", async (t) => {
  const state = await tempDir(t);
  const { plan, secrets } = planOf(await runbook("m365-licence-assign-bash"));
  const r = await runRunner(t, plan, { ...requester, ...secrets, IPSOLIS_DEMO_STATE_DIR: state });
  assert.equal(r.code, 0, r.stdout);
  assert.ok(!r.stdout.includes("secret-of-graph-app"));
  assert.ok(linesOf(r, "assign-licence").some((l) => l.endsWith("with secret ***")));
  assert.ok(linesOf(r, "assign-licence").includes("assigned SPE_E3 to jdoe@example.com (usage location DE)"));

  const rec = planOf(await runbook("m365-licence-reconcile-bash"));
  const ok = await runRunner(t, rec.plan, { ...rec.secrets, IPSOLIS_DEMO_STATE_DIR: state });
  assert.deepEqual(linesOf(ok, "count-licences"), ["consumed=1 pool=3"]);
  for (const who of ["a", "b", "c"]) {
    const more = await runRunner(t, plan, {
      ...requester,
      ...secrets,
      IPSOLIS_REQUESTER_EMAIL: `${who}@example.com`,
      IPSOLIS_DEMO_STATE_DIR: state,
    });
    assert.equal(more.code, 0);
  }
  const over = await runRunner(t, rec.plan, { ...rec.secrets, IPSOLIS_DEMO_STATE_DIR: state });
  assert.equal(over.code, 1);
  assert.ok(linesOf(over, "count-licences", "stderr").includes("4 SPE_E3 licences in use, pool is 3"));
});
