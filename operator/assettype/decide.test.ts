import { test } from "node:test";
import assert from "node:assert/strict";
import { decideAssetType } from "./decide.ts";

const NOW = new Date("2026-12-05T10:00:00Z");
const at = (runbooks: { provision: string; modify?: string; deprovision?: string }, status?: object) => ({
  metadata: { name: "vpn", generation: 3 },
  spec: { runbooks },
  ...(status ? { status } : {}),
});

test("Ready True when every named runbook exists, with observedGeneration", () => {
  const s = decideAssetType(at({ provision: "a", deprovision: "b" }), () => true, NOW);
  assert.equal(s.observedGeneration, 3);
  assert.deepEqual(
    s.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
    [["Ready", "True", "RunbooksFound", "runbooks a (provision), b (deprovision) exist"]],
  );
});

test("Ready False naming the missing runbooks and what waits", () => {
  const s = decideAssetType(at({ provision: "a", modify: "m", deprovision: "b" }), (n) => n === "a", NOW);
  const c = s.conditions[0]!;
  assert.equal(c.status, "False");
  assert.equal(c.reason, "RunbookNotFound");
  assert.equal(
    c.message,
    "runbook m (modify), b (deprovision) does not exist: those actions wait until it does",
  );
  const p = decideAssetType(at({ provision: "a" }), () => false, NOW).conditions[0]!;
  assert.match(p.message, /a \(provision\) does not exist: orders of this type wait/);
});

test("lastTransitionTime moves only when the status flips", () => {
  const first = decideAssetType(at({ provision: "a" }), () => true, NOW);
  const later = new Date(NOW.getTime() + 60_000);
  const same = decideAssetType(at({ provision: "a" }, first), () => true, later);
  assert.equal(same.conditions[0]!.lastTransitionTime, NOW.toISOString());
  const flipped = decideAssetType(at({ provision: "a" }, first), () => false, later);
  assert.equal(flipped.conditions[0]!.lastTransitionTime, later.toISOString());
});
