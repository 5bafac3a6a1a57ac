// U+0000 is valid JSON and UTF-16 but Postgres text and jsonb refuse it: a NUL anywhere in the
// input is a 400 at the edge (api/app.ts), before it can surface as a 500. Signed webhooks check
// it after their signature (an unsigned caller gets the 401 first, whatever it sent), and the
// runner's ingest keeps binary output by storing U+FFFD instead.
import { InputError } from "../../record/errors.ts";

export function nulError(where: string): InputError {
  return new InputError(`${where} contains a NUL byte (U+0000), which is never valid here`, {
    reason: "NulByte",
  });
}

/** Whether a parsed body holds U+0000 in any string or key (a raw Buffer body is checked as bytes). */
export function hasNul(v: unknown, depth = 0): boolean {
  if (typeof v === "string") return v.includes("\0");
  if (Buffer.isBuffer(v)) return v.includes(0);
  if (v === null || typeof v !== "object" || depth > 64) return false;
  if (Array.isArray(v)) return v.some((x) => hasNul(x, depth + 1));
  return Object.entries(v).some(([k, x]) => k.includes("\0") || hasNul(x, depth + 1));
}
