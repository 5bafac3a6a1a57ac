import assert from "node:assert/strict";
import { test } from "node:test";
import { validateAttributes, type AttributeDef, type AttributeInput } from "./attributes.ts";

const schema: AttributeDef[] = [
  { name: "edition", type: "enum", enum: ["standard", "pro"], required: true },
  { name: "seats", type: "integer" },
  { name: "quota", type: "number" },
  { name: "shared", type: "boolean" },
  { name: "note", type: "string" },
];

type Case = {
  name: string;
  input: AttributeInput | undefined;
  want: Record<string, string> | string[];
  schema?: AttributeDef[];
  opts?: Parameters<typeof validateAttributes>[2];
};

const cases: Case[] = [
  { name: "minimal valid", input: { edition: "pro" }, want: { edition: "pro" } },
  {
    name: "all types valid, normalised",
    input: { edition: "standard", seats: " 3 ", quota: "2.5", shared: "TRUE", note: " hi " },
    want: { edition: "standard", seats: "3", quota: "2.5", shared: "true", note: " hi " },
  },
  {
    name: "JSON scalars accepted",
    input: { edition: "pro", seats: 4, quota: 1e3, shared: false },
    want: { edition: "pro", seats: "4", quota: "1000", shared: "false" },
  },
  { name: "missing required", input: {}, want: ["body.attributes.edition"] },
  { name: "no attributes at all, required missing", input: undefined, want: ["body.attributes.edition"] },
  { name: "empty string is missing", input: { edition: "" }, want: ["body.attributes.edition"] },
  { name: "bad enum", input: { edition: "ultimate" }, want: ["body.attributes.edition"] },
  { name: "enum is case-sensitive", input: { edition: "Pro" }, want: ["body.attributes.edition"] },
  {
    name: "integer refuses decimals",
    input: { edition: "pro", seats: "1.5" },
    want: ["body.attributes.seats"],
  },
  {
    name: "integer refuses words",
    input: { edition: "pro", seats: "many" },
    want: ["body.attributes.seats"],
  },
  { name: "number refuses words", input: { edition: "pro", quota: "lots" }, want: ["body.attributes.quota"] },
  {
    name: "number refuses Infinity",
    input: { edition: "pro", quota: "Infinity" },
    want: ["body.attributes.quota"],
  },
  { name: "boolean refuses yes", input: { edition: "pro", shared: "yes" }, want: ["body.attributes.shared"] },
  { name: "object value refused", input: { edition: "pro", note: { a: 1 } }, want: ["body.attributes.note"] },
  { name: "too long", input: { edition: "pro", note: "x".repeat(4097) }, want: ["body.attributes.note"] },
  { name: "unknown key refused", input: { edition: "pro", colour: "red" }, want: ["body.attributes.colour"] },
  {
    name: "every problem reported, sorted by field",
    input: { seats: "x", zzz: "1", shared: "maybe" },
    want: [
      "body.attributes.zzz",
      "body.attributes.edition",
      "body.attributes.seats",
      "body.attributes.shared",
    ],
  },
  {
    name: "a type without schema refuses any key",
    schema: [],
    input: { a: "1" },
    want: ["body.attributes.a"],
  },
  { name: "a type without schema accepts nothing", schema: [], input: {}, want: {} },
  {
    name: "ignore unknown (ServiceNow), custom prefix",
    input: { edition: "pro", sys_id: "abc" },
    opts: { unknown: "ignore", prefix: "variables" },
    want: { edition: "pro" },
  },
  {
    name: "prefix in paths",
    input: { edition: "x" },
    opts: { prefix: "variables" },
    want: ["variables.edition"],
  },
  {
    name: "modify: current values fill what is not sent",
    input: { seats: "5" },
    opts: { current: { edition: "pro", seats: "2" } },
    want: { edition: "pro", seats: "5" },
  },
  {
    name: "modify: a changed value is validated",
    input: { edition: "gold" },
    opts: { current: { edition: "pro" } },
    want: ["body.attributes.edition"],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const r = validateAttributes(c.schema ?? schema, c.input, c.opts);
    if (Array.isArray(c.want)) {
      assert.equal(r.ok, false, JSON.stringify(r));
      if (r.ok) return;
      assert.deepEqual(
        r.fields.map((f) => f.path),
        c.want,
      );
      for (const f of r.fields) assert.ok(r.message.includes(f.path));
    } else {
      assert.deepEqual(r, { ok: true, values: c.want });
    }
  });
}
