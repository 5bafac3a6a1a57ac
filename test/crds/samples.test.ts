// The sample runbooks (runbooks/*.yaml) are accepted by the API server, and every PowerShell
// Runbook/AssetType has a bash twin with the same steps and parameters.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { AssetType, Runbook } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { create, type Plural } from "./fixtures.ts";
import { readSamples } from "./samples.ts";

before(async () => {
  await applyCrds();
});

test("every sample object is accepted by the API server", async (t) => {
  const ns = await newNamespace(t);
  const samples = await readSamples();
  assert.ok(samples.length >= 10, `found ${samples.length} sample objects`);
  for (const { file, obj } of samples) {
    const plural: Plural = obj.kind === "AssetType" ? "assettypes" : "runbooks";
    await create(ns, plural, obj).catch((err: unknown) => {
      throw new Error(
        `${file}: ${obj.kind} ${obj.metadata?.name ?? ""} refused: ${String((err as { body?: unknown }).body)}`,
      );
    });
  }
});

test("every PowerShell sample has a bash twin with the same steps and parameters", async () => {
  const samples = await readSamples();
  const runbooks = new Map(
    samples.filter((s) => s.obj.kind === "Runbook").map((s) => [s.obj.metadata?.name, s.obj as Runbook]),
  );
  const types = new Map(
    samples.filter((s) => s.obj.kind === "AssetType").map((s) => [s.obj.metadata?.name, s.obj as AssetType]),
  );
  const pwsh = [...runbooks.values()].filter((r) => r.spec.steps.some((s) => (s.shell ?? "pwsh") === "pwsh"));
  assert.ok(pwsh.length >= 4);
  for (const r of pwsh) {
    const twin = runbooks.get(`${r.metadata?.name ?? ""}-bash`);
    assert.ok(twin, `bash twin of ${r.metadata?.name ?? ""}`);
    assert.ok(twin.spec.steps.every((s) => s.shell === "bash"));
    assert.deepEqual(
      twin.spec.steps.map((s) => [
        s.name,
        (s.parameters ?? []).map((p) => [p.name, p.valueFrom ? "secret" : "value"]),
        s.critical ?? true,
      ]),
      r.spec.steps.map((s) => [
        s.name,
        (s.parameters ?? []).map((p) => [p.name, p.valueFrom ? "secret" : "value"]),
        s.critical ?? true,
      ]),
    );
    assert.equal(twin.spec.schedule?.cron, r.spec.schedule?.cron);
  }
  for (const [name, at] of types) {
    if (name?.endsWith("-bash")) continue;
    const twin = types.get(`${name ?? ""}-bash`);
    assert.ok(twin, `bash twin of AssetType ${name ?? ""}`);
    for (const action of ["provision", "modify", "deprovision"] as const) {
      const rb = at.spec.runbooks[action];
      assert.equal(twin.spec.runbooks[action], rb ? `${rb}-bash` : undefined);
      if (rb) assert.ok(runbooks.has(rb), `${name ?? ""} refers to Runbook ${rb}`);
    }
  }
});
