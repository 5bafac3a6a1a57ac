import { test } from "node:test";
import assert from "node:assert/strict";
import { checkOrderForm } from "./order-form.ts";
import type { AssetTypeSpecAttribute } from "../../crds/generated/assettype.ts";

const schema: AssetTypeSpecAttribute[] = [
  { name: "costCentre", type: "string", required: true },
  { name: "seats", type: "number" },
  { name: "tier", type: "enum", enum: ["basic", "pro"], required: true },
  { name: "shared", type: "boolean" },
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
    values: { costCentre: "x", tier: "gold", seats: "1e3", shared: "yes" },
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
    values: { costCentre: "x".repeat(2001), tier: "basic" },
    want: { ok: false, problems: [{ attribute: "costCentre", reason: "TooLong" }] },
  },
];
for (const c of cases) test(c.name, () => assert.deepEqual(checkOrderForm(schema, c.values), c.want));
