import { test } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { checkGenerate, oneTimePassword } from "./generated.ts";

const SCHEMA = [
  { name: "department" },
  { name: "password", generated: { kind: "OneTimePassword", deliverTo: "Manager" } as const },
];

test("checkGenerate accepts generated attributes once and refuses anything else, naming it", () => {
  assert.deepEqual(checkGenerate(SCHEMA, ["password"]), { ok: true, names: ["password"] });
  assert.deepEqual(checkGenerate(SCHEMA, undefined), { ok: true, names: [] });
  const r = checkGenerate(SCHEMA, ["department", "nope", "password", "password"]);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.fields.map((f) => f.path),
    ["body.generate.0", "body.generate.1", "body.generate.3"],
  );
  assert.match(r.fields[0]!.message, /"department" is not a generated attribute.*generated: password/);
  assert.match(r.fields[2]!.message, /named twice/);
  const none = checkGenerate([{ name: "x" }], ["x"]);
  assert.ok(!none.ok && /it has none/.test(none.message));
});

test("oneTimePassword: the length asked for, every class present, unambiguous characters, never twice the same", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const p = oneTimePassword(16, randomInt);
    assert.equal(p.length, 16);
    assert.match(p, /[A-Z]/);
    assert.match(p, /[a-z]/);
    assert.match(p, /[2-9]/);
    assert.match(p, /[!#%+\-=?@]/);
    assert.doesNotMatch(p, /[0O1lI\s"'`$\\:]/);
    seen.add(p);
  }
  assert.equal(seen.size, 500);
  assert.equal(oneTimePassword(64, randomInt).length, 64);
  assert.throws(() => oneTimePassword(3, randomInt), RangeError);
});

test("oneTimePassword spreads the guaranteed characters: with a fixed source they are shuffled, not first", () => {
  // randomInt always 0: the class picks are A, a, 2, ! and the filler is A; the shuffle moves them.
  const p = oneTimePassword(8, () => 0);
  assert.equal([...p].sort().join(""), [..."Aa2!AAAA"].sort().join(""));
  assert.notEqual(p.slice(0, 4), "Aa2!");
});
