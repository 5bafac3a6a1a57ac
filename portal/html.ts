// The one way the portal builds HTML: a tagged template that escapes every interpolated value
// with `escape-html` (ADR 0004), unless it is already-built SafeHtml (a nested template).
// Templates never concatenate raw strings.
import escapeHtml from "escape-html";

export type SafeHtml = { readonly __html: string };

const isSafe = (v: unknown): v is SafeHtml => typeof v === "object" && v !== null && "__html" in v;

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  if (isSafe(v)) return v.__html;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return escapeHtml(String(v));
  // Objects would print "[object Object]": a template bug, never user input.
  throw new Error(`cannot render a ${typeof v} into HTML`);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return { __html: out };
}

export function toHtml(s: SafeHtml): string {
  return s.__html;
}
