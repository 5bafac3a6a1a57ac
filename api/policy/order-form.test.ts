import { test } from "node:test";
import assert from "node:assert/strict";
import { checkOrderForm } from "./order-form.ts";
import type { AssetTypeSpecAttribute } from "../../crds/generated/assettype.ts";

const schema: AssetTypeSpecAttribute[] = [
  { name: "costCentre", type: "string", required: true },
  { name: "seats", type: "number" },
  { name: "tier", type: "enum", enum: ["basic", "pro"], required: true },
  { name: "shared", type: "boolean" },
  { name: "count", type: "integer" },
  { name: "pin", type: "string", secret: true },
];

const cases: { name: string; values: Record<string, string>; want: unknown }[] = [
  {
    name: "all good, optional left empty, strings trimmed, secrets kept as typed",
    values: { costCentre: " CC-1 ", tier: "pro", seats: "", pin: " 12 " },
    want: { ok: true, attributes: { costCentre: "CC-1", tier: "pro", pin: " 12 " } },
  },
  {
    name: "required missing and whitespace-only count as empty",
    values: { costCentre: "   " },
    want: {
      ok: false,
      problems: [
        { attribute: "costCentre", reason: "Required" },
        { attribute: "tier", reason: "Required" },
      ],
    },
  },
  {
    name: "type errors each name their field",
    values: { costCentre: "x", tier: "gold", seats: "lots", shared: "yes" },
    want: {
      ok: false,
      problems: [
        { attribute: "seats", reason: "NotNumber" },
        { attribute: "tier", reason: "NotInEnum" },
        { attribute: "shared", reason: "NotBoolean" },
      ],
    },
  },
  {
    name: "an attribute the schema does not have is refused",
    values: { costCentre: "x", tier: "basic", extra: "1" },
    want: { ok: false, problems: [{ attribute: "extra", reason: "Unknown" }] },
  },
  {
    name: "too long",
    values: { costCentre: "x".repeat(4097), tier: "basic" },
    want: { ok: false, problems: [{ attribute: "costCentre", reason: "TooLong" }] },
  },
];
cases.push(
  {
    name: "the API's rules exactly: 1e3 is a number, TRUE a boolean, 2.5 no whole number",
    values: { costCentre: "x", tier: "basic", seats: "1e3", shared: "TRUE", count: "2.5" },
    want: { ok: false, problems: [{ attribute: "count", reason: "NotInteger" }] },
  },
  {
    name: "normalised as the API stores them",
    values: { costCentre: "x", tier: "basic", seats: "1e3", shared: "TRUE", count: "007" },
    want: {
      ok: true,
      attributes: { costCentre: "x", tier: "basic", seats: "1e3", shared: "true", count: "7" },
    },
  },
);
for (const c of cases) test(c.name, () => assert.deepEqual(checkOrderForm(schema, c.values), c.want));
