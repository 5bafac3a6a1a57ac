// Masks secret parameter values in everything the runner prints or posts. Pure.
export const MASK = "***";

/**
 * A function replacing every occurrence of each secret, its base64 and base64url forms, and
 * (for multi-line secrets) each of its lines of 4+ characters, with `***`. Longest first, so a
 * secret containing another is masked whole.
 */
export function createMasker(secrets: readonly string[]): (text: string) => string {
  const variants = new Set<string>();
  for (const s of secrets) {
    if (s.length === 0) continue;
    variants.add(s);
    const b64 = Buffer.from(s, "utf8").toString("base64");
    variants.add(b64);
    variants.add(b64.replace(/=+$/, ""));
    variants.add(Buffer.from(s, "utf8").toString("base64url"));
    for (const line of s.split(/\r?\n/)) if (line.length >= 4) variants.add(line);
  }
  const list = [...variants].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (t) => t;
  const re = new RegExp(list.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return (text) => text.replace(re, MASK);
}
