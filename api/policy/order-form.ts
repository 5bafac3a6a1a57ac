// Checks an order form's attribute values against the asset type's attribute schema: required,
// type (number, boolean, enum), length. Pure; returns every problem with its field, so the page
// shows each one next to its field. The JSON API's own attribute validation (issue #19,
// api/policy/attributes.ts) decides the same rules for POST /orders.
import type { AssetTypeSpecAttribute } from "../../crds/generated/assettype.ts";

export const MAX_ATTRIBUTE_LENGTH = 2000;

export type AttributeProblem = {
  attribute: string;
  reason: "Required" | "NotNumber" | "NotBoolean" | "NotInEnum" | "TooLong" | "Unknown";
};

export type FormCheck =
  { ok: true; attributes: Record<string, string> } | { ok: false; problems: AttributeProblem[] };

/** Values as submitted (trimmed; empty = not given) → the attributes to order, or the problems. */
export function checkOrderForm(
  schema: readonly AssetTypeSpecAttribute[],
  values: Readonly<Record<string, string | undefined>>,
): FormCheck {
  const problems: AttributeProblem[] = [];
  const attributes: Record<string, string> = {};
  const known = new Set(schema.map((a) => a.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name) && (values[name] ?? "") !== "")
      problems.push({ attribute: name, reason: "Unknown" });
  }
  for (const a of schema) {
    const raw = values[a.name];
    // Secrets are taken as typed (a password may start or end with a space).
    const v = raw === undefined ? "" : a.secret ? raw : raw.trim();
    if (v === "") {
      if (a.required) problems.push({ attribute: a.name, reason: "Required" });
      continue;
    }
    if (v.length > MAX_ATTRIBUTE_LENGTH) problems.push({ attribute: a.name, reason: "TooLong" });
    else if (a.type === "number" && !/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(v))
      problems.push({ attribute: a.name, reason: "NotNumber" });
    else if (a.type === "boolean" && v !== "true" && v !== "false")
      problems.push({ attribute: a.name, reason: "NotBoolean" });
    else if (a.type === "enum" && !(a.enum ?? []).includes(v))
      problems.push({ attribute: a.name, reason: "NotInEnum" });
    else attributes[a.name] = v;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, attributes };
}
