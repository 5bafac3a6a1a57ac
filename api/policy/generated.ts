// Generated attributes (#22, the helpdesk's password reset): an AssetType attribute with
// `generated` (crds/assettypes.yaml) is made by the API, never sent by a requester. A request
// asks for it by naming it in `generate`; the value goes to the runbook as a secret attribute
// and to the person `deliverTo` names (api/orders/one-time-secrets.ts). Pure: the randomness is
// passed in.

import type { FieldError } from "./attributes.ts";

export type GeneratedDef = { kind: "OneTimePassword"; deliverTo: "Manager"; length?: number | undefined };

type Def = { name: string; generated?: GeneratedDef | undefined };

export const DEFAULT_PASSWORD_LENGTH = 16;

/**
 * The generated attributes a request asks for, or the refused names: each must be an attribute
 * of the type whose value is generated, named once.
 */
export function checkGenerate(
  schema: readonly Def[] | undefined,
  requested: readonly string[] | undefined,
  path = "body.generate",
): { ok: true; names: string[] } | { ok: false; fields: FieldError[]; message: string } {
  const defs = new Map((schema ?? []).map((d) => [d.name, d]));
  const fields: FieldError[] = [];
  const names: string[] = [];
  for (const [i, n] of (requested ?? []).entries()) {
    const d = defs.get(n);
    if (!d?.generated) {
      const known = [...defs.values()].filter((x) => x.generated).map((x) => x.name);
      fields.push({
        path: `${path}.${i}`,
        message: `${JSON.stringify(n)} is not a generated attribute of this asset type (${known.length ? `generated: ${known.join(", ")}` : "it has none"})`,
      });
    } else if (names.includes(n)) fields.push({ path: `${path}.${i}`, message: `${n} is named twice` });
    else names.push(n);
  }
  return fields.length
    ? {
        ok: false,
        fields,
        message: `invalid generate: ${fields.map((f) => `${f.path} ${f.message}`).join("; ")}`,
      }
    : { ok: true, names: names.sort() };
}

// Characters that cannot be mistaken for each other when read out or copied by hand (no 0/O,
// 1/l/I), and symbols that need no quoting in a shell, an LDIF or a URL.
const CLASSES = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz", "23456789", "!#%+-=?@"] as const;
const ALL = CLASSES.join("");

/**
 * A random password of `length` characters with at least one upper case letter, lower case
 * letter, digit and symbol each (Active Directory's complexity rule asks three of the four).
 * `randomInt(n)` must be uniform over 0..n-1 and cryptographically strong (crypto.randomInt).
 */
export function oneTimePassword(length: number, randomInt: (n: number) => number): string {
  if (!Number.isInteger(length) || length < CLASSES.length)
    throw new RangeError(`length ${length} is too short`);
  const chars = CLASSES.map((c) => c[randomInt(c.length)]!);
  while (chars.length < length) chars.push(ALL[randomInt(ALL.length)]!);
  // Fisher–Yates: the guaranteed characters end up anywhere.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}
