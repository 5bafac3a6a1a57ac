import { test } from "node:test";
import assert from "node:assert/strict";
import { probed, type Probe } from "./service.ts";

function slowProbe(fail = false): Probe & { runs: number } {
  const p = {
    name: "x",
    kind: "mail" as const,
    target: "t",
    runs: 0,
    async run() {
      p.runs++;
      await new Promise((r) => setTimeout(r, 20));
      if (fail) throw new Error("SMTP h:1: ESOCKET\nsecond line");
    },
  };
  return p;
}

test("a probe runs once for concurrent callers, is kept a minute, and runs afresh when forced", async () => {
  const key = {};
  const p = slowProbe();
  const [a, b, c] = await Promise.all([probed(key, p, true), probed(key, p, true), probed(key, p, false)]);
  assert.equal(p.runs, 1);
  assert.equal(a, b);
  assert.equal(b, c);
  assert.equal(await probed(key, p, false), a, "fresh: the kept answer");
  assert.equal(p.runs, 1);
  const d = await probed(key, p, true);
  assert.equal(p.runs, 2);
  assert.notEqual(d, a);
});

test("a failed probe is one sentence, per app", async () => {
  const p = slowProbe(true);
  const out = await probed({}, p, false);
  assert.deepEqual({ ok: out.ok, message: out.message }, { ok: false, message: "SMTP h:1: ESOCKET" });
  await probed({}, p, false);
  assert.equal(p.runs, 2, "another app has its own answers");
});
