// Canonical SCIM User documents: what clients send (Entra ID and Okta quirks included) turned
// into one stored shape, and the stored shape projected for a response. Pure.
//
// Quirks accepted on purpose (each has a test in user.test.ts / test/scim):
// - attribute names in any case (RFC 7643 §2.1), including the schema URN keys;
// - booleans as the strings "True"/"False" (Entra's `active`);
// - the enterprise `manager` as a bare string (Entra) or `{ value }`;
// - a single object where a multi-valued attribute is expected;
// - numbers where a string is expected (`employeeNumber: 1234`).
import { CORE_USER, ENTERPRISE_ATTRIBUTES, ENTERPRISE_USER, resolveAttr, type AttrDef } from "./schema.ts";
import { getCI } from "./filter.ts";

export type ScimUser = Record<string, unknown> & { userName: string };

export type ScimProblem = {
  status: 400 | 403 | 404 | 409 | 412 | 501;
  scimType?:
    | "invalidFilter"
    | "invalidSyntax"
    | "invalidPath"
    | "noTarget"
    | "invalidValue"
    | "uniqueness"
    | "mutability"
    | "tooMany"
    | "invalidVers";
  detail: string;
};

export type Normalised = { ok: true; user: ScimUser } | { ok: false; problem: ScimProblem };

const MAX_STRING = 2048;
const MAX_VALUES = 100;

function invalid(detail: string): { ok: false; problem: ScimProblem } {
  return { ok: false, problem: { status: 400, scimType: "invalidValue", detail } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Coerces one simple value to the attribute's type; undefined = drop (null means unassigned). */
function coerceSimple(
  def: AttrDef,
  v: unknown,
  where: string,
): { ok: true; v: unknown } | { ok: false; detail: string } {
  if (v === null || v === undefined) return { ok: true, v: undefined };
  // Entra sometimes wraps a single value as [{ value: x }].
  if (Array.isArray(v) && v.length === 1 && isObject(v[0]) && "value" in v[0])
    return coerceSimple(def, v[0].value, where);
  switch (def.type) {
    case "boolean":
      if (typeof v === "boolean") return { ok: true, v };
      if (typeof v === "string" && /^(true|false)$/i.test(v.trim()))
        return { ok: true, v: v.trim().toLowerCase() === "true" };
      return { ok: false, detail: `${where} must be a boolean` };
    case "integer":
    case "decimal":
      if (typeof v === "number" && Number.isFinite(v)) return { ok: true, v };
      return { ok: false, detail: `${where} must be a number` };
    default:
      if (typeof v === "string") {
        if (v.length > MAX_STRING)
          return { ok: false, detail: `${where} is longer than ${MAX_STRING} characters` };
        return { ok: true, v };
      }
      if (typeof v === "number" && Number.isFinite(v)) return { ok: true, v: String(v) };
      if (typeof v === "boolean" && def.type === "string") return { ok: true, v: String(v) };
      return { ok: false, detail: `${where} must be a string` };
  }
}

function coerceComplex(
  def: AttrDef,
  v: unknown,
  where: string,
): { ok: true; v: Record<string, unknown> | undefined } | { ok: false; detail: string } {
  if (v === null || v === undefined) return { ok: true, v: undefined };
  // Entra's manager (and some clients' complex attributes) arrive as the bare `value`.
  if (!isObject(v)) {
    if (
      def.subAttributes?.some((s) => s.name === "value") &&
      (typeof v === "string" || typeof v === "number")
    ) {
      return coerceComplex(def, { value: v }, where);
    }
    return { ok: false, detail: `${where} must be an object` };
  }
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(v)) {
    const sub = def.subAttributes?.find((s) => s.name.toLowerCase() === k.toLowerCase());
    if (!sub) continue; // unknown sub-attributes are ignored, as unknown attributes are
    if (sub.mutability === "readOnly") continue;
    const c = coerceSimple(sub, raw, `${where}.${sub.name}`);
    if (!c.ok) return c;
    if (c.v !== undefined) out[sub.name] = c.v;
  }
  return { ok: true, v: Object.keys(out).length > 0 ? out : undefined };
}

function coerceAttr(
  def: AttrDef,
  v: unknown,
  where: string,
): { ok: true; v: unknown } | { ok: false; detail: string } {
  if (def.multiValued) {
    if (v === null || v === undefined) return { ok: true, v: undefined };
    const arr = Array.isArray(v) ? v : [v];
    if (arr.length > MAX_VALUES) return { ok: false, detail: `${where} has more than ${MAX_VALUES} values` };
    const out: unknown[] = [];
    let primarySeen = false;
    for (const [i, el] of arr.entries()) {
      const c =
        def.type === "complex"
          ? coerceComplex(def, el, `${where}[${i}]`)
          : coerceSimple(def, el, `${where}[${i}]`);
      if (!c.ok) return c;
      if (c.v === undefined) continue;
      if (isObject(c.v) && c.v.primary === true) {
        // RFC 7643 §2.4: at most one primary value; keep the first one a client marked.
        if (primarySeen) c.v.primary = false;
        primarySeen = true;
      }
      out.push(c.v);
    }
    return { ok: true, v: out.length > 0 ? out : undefined };
  }
  return def.type === "complex" ? coerceComplex(def, v, where) : coerceSimple(def, v, where);
}

/**
 * A client's User document (POST, PUT) must declare the User schema (RFC 7643 §3, RFC 7644 §3.3):
 * `schemas` missing, not a list, or without the User schema is `invalidValue` (a required value
 * missing or wrong, RFC 7644 §3.12).
 */
export function checkUserSchemas(input: unknown): ScimProblem | undefined {
  const schemas = isObject(input)
    ? Object.entries(input).find(([k]) => k.toLowerCase() === "schemas")?.[1]
    : undefined;
  if (!Array.isArray(schemas) || !schemas.every((x) => typeof x === "string"))
    return { status: 400, scimType: "invalidValue", detail: "schemas is required: a list of schema URIs" };
  if (!schemas.some((x: string) => x.toLowerCase() === CORE_USER.toLowerCase()))
    return { status: 400, scimType: "invalidValue", detail: `schemas must include ${CORE_USER}` };
  return undefined;
}

/**
 * Turns a client's User document into the stored canonical shape (no id, no meta). Read-only
 * and unknown attributes are ignored (RFC 7644 §3.3: the server SHALL ignore read-only values).
 */
export function normaliseUser(input: unknown): Normalised {
  if (!isObject(input))
    return {
      ok: false,
      problem: { status: 400, scimType: "invalidSyntax", detail: "a User must be a JSON object" },
    };
  const out: Record<string, unknown> = {};
  const ext: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(input)) {
    if (key.toLowerCase() === "schemas" || key.toLowerCase() === "id" || key.toLowerCase() === "meta")
      continue;
    if (key.toLowerCase() === ENTERPRISE_USER.toLowerCase()) {
      if (raw === null || raw === undefined) continue;
      if (!isObject(raw)) return invalid(`${ENTERPRISE_USER} must be an object`);
      for (const [ek, ev] of Object.entries(raw)) {
        const def = ENTERPRISE_ATTRIBUTES.find((a) => a.name.toLowerCase() === ek.toLowerCase());
        if (!def) continue;
        const c = coerceAttr(def, ev, def.name);
        if (!c.ok) return invalid(c.detail);
        if (c.v !== undefined) ext[def.name] = c.v;
      }
      continue;
    }
    // A fully qualified core attribute ("urn:…:core:2.0:User:userName") or an enterprise one.
    let name = key;
    let schema: string | undefined;
    const colon = key.lastIndexOf(":");
    if (colon > 0 && /^urn:/i.test(key)) {
      schema = key.slice(0, colon);
      name = key.slice(colon + 1);
    }
    const resolved = resolveAttr(schema, name);
    if (!resolved || (resolved.schema === "" && resolved.def.name !== "externalId")) continue;
    const def = resolved.def;
    if (def.mutability === "readOnly" || def.returned === "never") continue;
    if (resolved.schema === ENTERPRISE_USER && schema === undefined) continue; // unqualified: not ours
    const c = coerceAttr(def, raw, def.name);
    if (!c.ok) return invalid(c.detail);
    if (c.v === undefined) continue;
    if (resolved.schema === ENTERPRISE_USER) ext[def.name] = c.v;
    else out[def.name] = c.v;
  }
  const userName = out.userName;
  if (typeof userName !== "string" || userName.trim() === "") return invalid("userName is required");
  out.userName = userName.trim();
  if (out.active === undefined) out.active = true;
  if (Object.keys(ext).length > 0) out[ENTERPRISE_USER] = ext;
  return { ok: true, user: out as ScimUser };
}

export type StoredMeta = { id: string; created: Date; lastModified: Date; version: number; location: string };

export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** A User's `groups` value (RFC 7643 §4.1.2): read-only, derived from the Group resources. */
export type UserGroupValue = { value: string; $ref: string; display: string; type: "direct" };

/** The full resource as served: schemas, id, the stored attributes, its groups, meta. */
export function renderUser(
  user: ScimUser,
  m: StoredMeta,
  groups: UserGroupValue[] = [],
): Record<string, unknown> {
  const schemas = [CORE_USER];
  if (user[ENTERPRISE_USER] !== undefined) schemas.push(ENTERPRISE_USER);
  return {
    schemas,
    id: m.id,
    ...user,
    groups,
    meta: {
      resourceType: "User",
      created: m.created.toISOString(),
      lastModified: m.lastModified.toISOString(),
      location: m.location,
      version: etagOf(m.version),
    },
  };
}

type Selector = { schema?: string; attr: string; sub?: string };

function parseSelector(s: string): Selector | undefined {
  const t = s.trim();
  if (t === "") return undefined;
  // The extension's URN alone names the whole extension object (RFC 7644 §3.10).
  if (t.toLowerCase() === ENTERPRISE_USER.toLowerCase()) return { attr: ENTERPRISE_USER };
  const colon = t.lastIndexOf(":");
  let schema: string | undefined;
  let rest = t;
  if (colon > 0) {
    schema = t.slice(0, colon);
    rest = t.slice(colon + 1);
  }
  const [attr, sub] = rest.split(".");
  if (!attr) return undefined;
  return { ...(schema ? { schema } : {}), attr, ...(sub ? { sub } : {}) };
}

/**
 * Applies `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): `id` and `schemas` are
 * always returned; a listed attribute returns only itself (and its container for extensions).
 */
export function projectUser(
  full: Record<string, unknown>,
  attributes: string | undefined,
  excluded: string | undefined,
): Record<string, unknown> {
  const pick = (attributes ?? "")
    .split(",")
    .map(parseSelector)
    .filter((x): x is Selector => x !== undefined);
  const drop = (excluded ?? "")
    .split(",")
    .map(parseSelector)
    .filter((x): x is Selector => x !== undefined);
  if (pick.length === 0 && drop.length === 0) return full;
  const locate = (sel: Selector): { container: string | undefined; key: string } | undefined => {
    // An extension URN alone selects the whole extension object.
    if (sel.schema === undefined && sel.attr.toLowerCase().startsWith("urn:")) return undefined;
    const r = resolveAttr(sel.schema, sel.attr);
    if (!r) return undefined;
    return { container: r.schema === ENTERPRISE_USER ? ENTERPRISE_USER : undefined, key: r.def.name };
  };
  if (pick.length > 0) {
    const out: Record<string, unknown> = { schemas: full.schemas, id: full.id };
    for (const sel of pick) {
      if (sel.schema === undefined && sel.attr.toLowerCase() === ENTERPRISE_USER.toLowerCase()) {
        if (full[ENTERPRISE_USER] !== undefined) out[ENTERPRISE_USER] = full[ENTERPRISE_USER];
        continue;
      }
      const loc = locate(sel);
      if (!loc) continue;
      const src = loc.container ? (getCI(full, loc.container) as Record<string, unknown> | undefined) : full;
      const v = src?.[loc.key];
      if (v === undefined) continue;
      let picked: unknown = v;
      if (sel.sub !== undefined) {
        const pickSub = (o: unknown) => {
          const sv = getCI(o, sel.sub!);
          const name = isObject(o)
            ? Object.keys(o).find((k) => k.toLowerCase() === sel.sub!.toLowerCase())
            : undefined;
          return name !== undefined && sv !== undefined ? { [name]: sv } : undefined;
        };
        picked = Array.isArray(v) ? v.map(pickSub).filter((x) => x !== undefined) : pickSub(v);
        if (picked === undefined) continue;
      }
      if (loc.container) {
        const box = (out[loc.container] ??= {}) as Record<string, unknown>;
        box[loc.key] = mergeValue(box[loc.key], picked);
      } else {
        out[loc.key] = mergeValue(out[loc.key], picked);
      }
    }
    return out;
  }
  const out: Record<string, unknown> = structuredClone(full);
  for (const sel of drop) {
    if (sel.schema === undefined && sel.attr === ENTERPRISE_USER) {
      delete out[ENTERPRISE_USER];
      continue;
    }
    const loc = locate(sel);
    if (!loc || loc.key === "id") continue;
    const src = loc.container ? (out[loc.container] as Record<string, unknown> | undefined) : out;
    if (!src) continue;
    if (sel.sub === undefined) delete src[loc.key];
    else {
      const v = src[loc.key];
      const strip = (o: unknown) => {
        if (!isObject(o)) return;
        for (const k of Object.keys(o)) if (k.toLowerCase() === sel.sub!.toLowerCase()) delete o[k];
      };
      if (Array.isArray(v)) v.forEach(strip);
      else strip(v);
    }
  }
  return out;
}

function mergeValue(prev: unknown, next: unknown): unknown {
  if (prev === undefined) return next;
  if (Array.isArray(prev) && Array.isArray(next))
    return prev.map((p, i) => ({ ...(p as object), ...(next[i] as object) }));
  if (isObject(prev) && isObject(next)) return { ...prev, ...next };
  return next;
}

/** Lower-cased e-mail values of a user (work first), for lookups and leaver matching. */
export function emailsOf(user: ScimUser): string[] {
  const list = Array.isArray(user.emails) ? (user.emails as Record<string, unknown>[]) : [];
  const sorted = [...list].sort((a, b) => Number(b.primary === true) - Number(a.primary === true));
  return [
    ...new Set(sorted.map((e) => (typeof e.value === "string" ? e.value.toLowerCase() : "")).filter(Boolean)),
  ];
}

export function enterpriseOf(user: ScimUser): Record<string, unknown> {
  const e = user[ENTERPRISE_USER];
  return isObject(e) ? e : {};
}

/** The lookup columns the record keeps beside the document (record/employees EmployeeColumns). */
export function columnsOf(user: ScimUser): {
  userName: string;
  externalId: string | null;
  employeeNumber: string | null;
  displayName: string | null;
  emails: string[];
  active: boolean;
  department: string | null;
  costCenter: string | null;
  manager: string | null;
} {
  const ent = enterpriseOf(user);
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  const name = isObject(user.name) ? user.name : {};
  const joined = [str(name.givenName), str(name.familyName)].filter(Boolean).join(" ");
  const display = str(user.displayName) ?? str(name.formatted) ?? (joined === "" ? null : joined);
  return {
    userName: user.userName,
    externalId: str(user.externalId),
    employeeNumber: str(ent.employeeNumber),
    displayName: display,
    emails: emailsOf(user),
    active: user.active !== false,
    department: str(ent.department),
    costCenter: str(ent.costCenter),
    manager: isObject(ent.manager) ? str(ent.manager.value) : null,
  };
}
