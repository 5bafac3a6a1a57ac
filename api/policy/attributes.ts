// One validation of an Order's attributes against its AssetType's attribute schema
// (`spec.attributes` in crds/assettypes.yaml). Pure: POST /orders (for oneself and on behalf),
// the portal's order form, ServiceNow requests and Modify orders all call `validateAttributes`,
// so no path accepts what another refuses.
//
// Values arrive as JSON scalars (API, ServiceNow) or strings (forms); an Order stores strings
// (`spec.attributes` is string → string), so a valid value comes back normalised: booleans as
// "true"/"false", numbers trimmed. An empty string counts as not given (an unfilled form field).

import type { GeneratedDef } from "./generated.ts";
import type { EmployeeFacts, EmployeeField } from "./mover.ts";

export type AttributeType = "string" | "number" | "integer" | "boolean" | "enum";

export type AttributeDef = {
  name: string;
  type: AttributeType;
  required?: boolean | undefined;
  enum?: string[] | undefined;
  secret?: boolean | undefined;
  /** The value follows this field of the requester's employee record (api/policy/mover.ts). */
  fromEmployee?: EmployeeField | undefined;
  /** The API makes the value when a request asks for it (api/policy/generated.ts). */
  generated?: GeneratedDef | undefined;
};

/** One refused field: `path` names it as the 400's `fields` do (e.g. "body.attributes.seats"). */
export type FieldError = { path: string; message: string };

export type AttributeInput = Record<string, unknown>;

export type AttributesResult =
  { ok: true; values: Record<string, string> } | { ok: false; fields: FieldError[]; message: string };

export type ValidateOptions = {
  /** Field path prefix, e.g. "body.attributes" (the default) or "variables" (ServiceNow). */
  prefix?: string;
  /**
   * "refuse" (the default): a key the schema does not declare is an error. "ignore": dropped,
   * for senders whose forms carry more than the type declares (ServiceNow catalogue variables).
   */
  unknown?: "refuse" | "ignore";
  /**
   * Modify: the values the asset has now. A required attribute may stay as it is, so only the
   * changed ones need sending; the result is the full new set.
   */
  current?: Record<string, string> | undefined;
  /**
   * Modify: attributes the asset holds whose values cannot be read back (secret ones live only
   * in the ordering Order's Secret, deleted when it finished). A required one counts as given.
   */
  held?: ReadonlySet<string> | undefined;
  /**
   * The requester's employee record (null: SCIM never provisioned them), where attributes with
   * `fromEmployee` take their values from. Undefined: not looked up, so such an attribute keeps
   * its `current` value. A caller cannot set one: a value given that differs from the record's
   * is an error ("ignore" senders' values are dropped instead).
   */
  employee?: EmployeeFacts | null | undefined;
  /**
   * Values the API generated for this request (attributes with `generated` that the request
   * asked for). A generated attribute is never sent by a caller ("ignore" senders' values are
   * dropped); without a generated value it is simply absent, required or not.
   */
  generated?: Record<string, string> | undefined;
};

/** The longest value an Order can store (crds/orders.yaml `spec.attributes` maxLength). */
export const MAX_ATTRIBUTE_LENGTH = 4096;

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const INTEGER = /^[-+]?\d+$/;

function asText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "boolean") return String(v);
  return undefined;
}

/** Checks one value against its definition: the normalised string, or why not. */
export function checkAttribute(def: AttributeDef, raw: unknown): { value: string } | { error: string } {
  const text = asText(raw);
  if (text === undefined) return { error: "must be a string, number or boolean" };
  if (text.length > MAX_ATTRIBUTE_LENGTH)
    return { error: `must be at most ${MAX_ATTRIBUTE_LENGTH} characters` };
  const v = text.trim();
  switch (def.type) {
    case "string":
      return { value: text };
    case "number":
      return NUMBER.test(v) && Number.isFinite(Number(v)) ? { value: v } : { error: "must be a number" };
    case "integer":
      return INTEGER.test(v) && Number.isSafeInteger(Number(v))
        ? { value: String(Number(v)) }
        : { error: "must be a whole number" };
    case "boolean":
      return /^(true|false)$/i.test(v) ? { value: v.toLowerCase() } : { error: "must be true or false" };
    case "enum": {
      const allowed = def.enum ?? [];
      return allowed.includes(text)
        ? { value: text }
        : { error: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}` };
    }
  }
}

const isGiven = (v: unknown) => v !== undefined && v !== null && v !== "";

/** Validates `input` against the schema; every problem is reported, each with its field path. */
export function validateAttributes(
  schema: readonly AttributeDef[] | undefined,
  input: AttributeInput | undefined,
  opts: ValidateOptions = {},
): AttributesResult {
  const prefix = opts.prefix ?? "body.attributes";
  const defs = new Map((schema ?? []).map((d) => [d.name, d]));
  const given = input ?? {};
  const fields: FieldError[] = [];
  const values: Record<string, string> = {};
  for (const key of Object.keys(given).sort()) {
    if (!defs.has(key) && opts.unknown !== "ignore") {
      const known = [...defs.keys()];
      fields.push({
        path: `${prefix}.${key}`,
        message: known.length
          ? `is not an attribute of this asset type (known: ${known.join(", ")})`
          : "is not an attribute of this asset type (it has none)",
      });
    }
  }
  for (const def of defs.values()) {
    if (def.generated) {
      if (isGiven(given[def.name]) && opts.unknown !== "ignore")
        fields.push({
          path: `${prefix}.${def.name}`,
          message: "is generated by ipsolis and cannot be sent: ask for a new value with generate",
        });
      const made = opts.generated?.[def.name];
      if (made !== undefined) values[def.name] = made;
      continue;
    }
    if (def.fromEmployee && opts.employee !== undefined) {
      const fact = opts.employee?.[def.fromEmployee] ?? "";
      const sent = given[def.name];
      if (isGiven(sent) && opts.unknown !== "ignore" && asText(sent) !== fact) {
        fields.push({
          path: `${prefix}.${def.name}`,
          message: `follows the employee record's ${def.fromEmployee} (${fact === "" ? "none" : JSON.stringify(fact)}) and cannot be set in an order`,
        });
      } else if (fact.length > MAX_ATTRIBUTE_LENGTH) {
        fields.push({
          path: `${prefix}.${def.name}`,
          message: `follows the employee record's ${def.fromEmployee}, which is longer than ${MAX_ATTRIBUTE_LENGTH} characters`,
        });
      } else if (fact !== "") values[def.name] = fact;
      else if (def.required && !opts.held?.has(def.name))
        fields.push({
          path: `${prefix}.${def.name}`,
          message: `is required, and the employee record has no ${def.fromEmployee}`,
        });
      continue;
    }
    const raw = isGiven(given[def.name]) ? given[def.name] : opts.current?.[def.name];
    if (!isGiven(raw)) {
      if (def.required && !opts.held?.has(def.name))
        fields.push({ path: `${prefix}.${def.name}`, message: "is required" });
      continue;
    }
    const r = checkAttribute(def, raw);
    if ("error" in r) fields.push({ path: `${prefix}.${def.name}`, message: r.error });
    else values[def.name] = r.value;
  }
  if (fields.length > 0) {
    return {
      ok: false,
      fields,
      message: `invalid attributes: ${fields.map((f) => `${f.path} ${f.message}`).join("; ")}`,
    };
  }
  return { ok: true, values };
}
