// The order form's view of the one attribute validation (api/policy/attributes.ts, which POST
// /orders uses): a form sends strings, leaves optional fields empty and pads with spaces, and a
// page shows each problem next to its field in the reader's language, so this returns a reason
// per field instead of the API's English message. The rules themselves (number, whole number,
// boolean, enum, length) are checkAttribute's: the page and the JSON route cannot disagree.
import type { AssetTypeSpecAttribute } from "../../crds/generated/assettype.ts";
import { checkAttribute, MAX_ATTRIBUTE_LENGTH } from "./attributes.ts";

export { MAX_ATTRIBUTE_LENGTH };

export type AttributeProblem = {
  attribute: string;
  reason: "Required" | "NotNumber" | "NotInteger" | "NotBoolean" | "NotInEnum" | "TooLong" | "Unknown";
};

export type FormCheck =
  { ok: true; attributes: Record<string, string> } | { ok: false; problems: AttributeProblem[] };

const REASON: Record<AssetTypeSpecAttribute["type"], AttributeProblem["reason"]> = {
  string: "TooLong",
  number: "NotNumber",
  integer: "NotInteger",
  boolean: "NotBoolean",
  enum: "NotInEnum",
};

/** Values as submitted (trimmed; empty = not given) → the attributes to order, or the problems. */
export function checkOrderForm(
  schema: readonly AssetTypeSpecAttribute[],
  values: Readonly<Record<string, string | undefined>>,
): FormCheck {
  const problems: AttributeProblem[] = [];
  const attributes: Record<string, string> = {};
  const known = new Set(schema.filter((a) => !a.fromEmployee && !a.generated).map((a) => a.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name) && (values[name] ?? "") !== "")
      problems.push({ attribute: name, reason: "Unknown" });
  }
  for (const a of schema) {
    // Filled from the employee record by the order service, never typed in.
    if (a.fromEmployee || a.generated) continue;
    const raw = values[a.name];
    // Secrets are taken as typed (a password may start or end with a space).
    const v = raw === undefined ? "" : a.secret ? raw : raw.trim();
    if (v === "") {
      if (a.required) problems.push({ attribute: a.name, reason: "Required" });
      continue;
    }
    const r = checkAttribute(a, v);
    if ("value" in r) attributes[a.name] = r.value;
    else
      problems.push({
        attribute: a.name,
        reason: v.length > MAX_ATTRIBUTE_LENGTH ? "TooLong" : REASON[a.type],
      });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, attributes };
}
