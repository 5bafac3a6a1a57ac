// SCIM PATCH (RFC 7644 §3.5.2) over a stored User document. Pure: takes the current canonical
// user and the request body, returns the next canonical user or a SCIM problem.
//
// Entra ID quirks accepted (each shown in a test): capitalised `op` ("Replace"); operations
// without `path` whose value keys are attribute paths ("name.givenName", or a full
// "urn:…:enterprise:2.0:User:manager"); `emails[type eq "work"].value` on a user with no work
// e-mail (creates it, as Entra expects); values as strings ("False") or wrapped ([{value}]).
import { getCI, parsePatchPath, matchesElement, type PatchPath } from "./filter.ts";
import { ENTERPRISE_USER, PATCH_OP, resolveAttr, resolveSub, type AttrDef } from "./schema.ts";
import { normaliseUser, type ScimProblem, type ScimUser } from "./user.ts";

export type PatchResult =
  { ok: true; user: ScimUser; changed: boolean } | { ok: false; problem: ScimProblem };

type Op = "add" | "replace" | "remove";

const MAX_OPERATIONS = 1000;

function bad(scimType: ScimProblem["scimType"], detail: string): { ok: false; problem: ScimProblem } {
  return { ok: false, problem: { status: 400, ...(scimType ? { scimType } : {}), detail } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

type Target = {
  /** The object holding the attribute: the user, or its enterprise extension object. */
  container: Record<string, unknown>;
  def: AttrDef;
};

function targetFor(
  doc: Record<string, unknown>,
  schema: string | undefined,
  attr: string,
): Target | ScimProblem {
  const r = resolveAttr(schema, attr);
  if (!r)
    return { status: 400, scimType: "invalidPath", detail: `unknown attribute ${JSON.stringify(attr)}` };
  if (r.schema === "" && r.def.name !== "externalId") {
    return { status: 400, scimType: "mutability", detail: `${r.def.name} is read-only` };
  }
  if (r.def.mutability === "readOnly") {
    return { status: 400, scimType: "mutability", detail: `${r.def.name} is read-only` };
  }
  if (r.schema === ENTERPRISE_USER) {
    if (schema === undefined) {
      return { status: 400, scimType: "invalidPath", detail: `qualify ${attr} with ${ENTERPRISE_USER}` };
    }
    const ext = isObject(doc[ENTERPRISE_USER]) ? doc[ENTERPRISE_USER] : {};
    doc[ENTERPRISE_USER] = ext;
    return { container: ext, def: r.def };
  }
  return { container: doc, def: r.def };
}

function isProblem(x: Target | ScimProblem): x is ScimProblem {
  return "status" in x;
}

/** Values of a multi-valued attribute arrive as an array or (leniently) as one value. */
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

/** A single-valued simple attribute sent as [{ value: x }] (older Entra) means x. */
function unwrapSingle(def: AttrDef, v: unknown): unknown {
  if (!def.multiValued && def.type !== "complex" && Array.isArray(v) && v.length === 1) {
    const only: unknown = v[0];
    return isObject(only) && "value" in only ? only.value : only;
  }
  return v;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function applyOne(
  doc: Record<string, unknown>,
  op: Op,
  pp: PatchPath,
  value: unknown,
): ScimProblem | undefined {
  const t = targetFor(doc, pp.path.schema, pp.path.attr);
  if (isProblem(t)) return t;
  const { container, def } = t;
  const key = def.name;
  const subName = pp.filter ? pp.sub : pp.path.sub;
  let subDef: AttrDef | undefined;
  if (subName !== undefined) {
    subDef = resolveSub(def, subName);
    if (!subDef)
      return { status: 400, scimType: "invalidPath", detail: `unknown sub-attribute ${key}.${subName}` };
    if (subDef.mutability === "readOnly")
      return { status: 400, scimType: "mutability", detail: `${key}.${subDef.name} is read-only` };
  }
  if (pp.filter && !def.multiValued) {
    return { status: 400, scimType: "invalidPath", detail: `${key} is not multi-valued: no value filter` };
  }
  if (op !== "remove" && value === undefined)
    return { status: 400, scimType: "invalidValue", detail: `${op} needs a value` };

  // --- multi-valued attribute with a value filter: emails[type eq "work"].value -------------
  if (pp.filter) {
    const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
    const hits: number[] = [];
    for (const [i, el] of list.entries()) {
      const m = matchesElement(el, pp.filter, def);
      if (typeof m !== "boolean") return { status: 400, scimType: "invalidFilter", detail: m.error };
      if (m) hits.push(i);
    }
    if (op === "remove") {
      if (subDef) for (const i of hits) delete (list[i] as Record<string, unknown>)[subDef.name];
      const keep = subDef ? list : list.filter((_, i) => !hits.includes(i));
      if (keep.length === 0) delete container[key];
      else container[key] = keep;
      return undefined;
    }
    if (hits.length === 0) {
      // Entra adds `emails[type eq "work"].value` on users that have no work e-mail yet: create
      // the element the filter describes (type from the equality), as it expects.
      // A replace whose filter matches nothing has no target (RFC 7644 §3.5.2.3).
      const eq = simpleEquality(pp);
      if (!eq || !subDef || op === "replace") {
        return op === "replace"
          ? { status: 400, scimType: "noTarget", detail: `no value of ${key} matches the filter` }
          : {
              status: 400,
              scimType: "invalidPath",
              detail: `cannot add through a filter that matches nothing`,
            };
      }
      container[key] = [...list, { [eq.attr]: eq.value, [subDef.name]: unwrapSingle(subDef, value) }];
      return undefined;
    }
    for (const i of hits) {
      const el = list[i];
      if (subDef) {
        if (isObject(el)) el[subDef.name] = unwrapSingle(subDef, value);
      } else if (op === "replace") {
        list[i] = value;
      } else if (isObject(el) && isObject(value)) {
        Object.assign(el, value);
      }
    }
    container[key] = list;
    return undefined;
  }

  // --- attribute or attribute.sub without a filter --------------------------------------------
  if (op === "remove") {
    if (subDef) {
      const cur = container[key];
      if (Array.isArray(cur)) {
        for (const el of cur) if (isObject(el)) delete el[subDef.name];
      } else if (isObject(cur)) {
        delete cur[subDef.name];
        if (Object.keys(cur).length === 0) delete container[key];
      }
    } else {
      delete container[key];
    }
    return undefined;
  }
  if (subDef) {
    const cur = container[key];
    if (def.multiValued) {
      // `emails.value` without a filter addresses every value (RFC 7644 §3.5.2.3).
      const list = Array.isArray(cur) ? cur : [];
      if (list.length === 0) container[key] = [{ [subDef.name]: unwrapSingle(subDef, value) }];
      else for (const el of list) if (isObject(el)) el[subDef.name] = unwrapSingle(subDef, value);
      return undefined;
    }
    const obj = isObject(cur) ? cur : {};
    obj[subDef.name] = unwrapSingle(subDef, value);
    container[key] = obj;
    return undefined;
  }
  if (def.multiValued) {
    const incoming = asArray(value);
    if (op === "replace") container[key] = incoming;
    else {
      const cur = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
      const merged = [...cur];
      for (const v of incoming) if (!merged.some((m) => sameValue(m, v))) merged.push(v);
      // A new primary value demotes the old one (RFC 7644 §3.5.2: at most one primary).
      if (incoming.some((v) => isObject(v) && v.primary === true)) {
        for (const m of merged)
          if (isObject(m) && !incoming.includes(m) && m.primary === true) m.primary = false;
      }
      container[key] = merged;
    }
    return undefined;
  }
  if (def.type === "complex" && isObject(value)) {
    // Replace/add of a complex attribute merges the given sub-attributes (RFC 7644 §3.5.2.3).
    const cur = isObject(container[key]) ? container[key] : {};
    container[key] = { ...cur, ...value };
    return undefined;
  }
  container[key] = unwrapSingle(def, value);
  return undefined;
}

/** `type eq "work"` (alone) in a value filter: the element Entra expects us to create. */
function simpleEquality(pp: PatchPath): { attr: string; value: string } | undefined {
  const f = pp.filter;
  if (
    f &&
    f.op === "eq" &&
    typeof f.value === "string" &&
    f.path.sub === undefined &&
    f.path.schema === undefined
  ) {
    const parent = resolveAttr(pp.path.schema, pp.path.attr)?.def;
    const sub = parent ? resolveSub(parent, f.path.attr) : undefined;
    if (sub) return { attr: sub.name, value: f.value };
  }
  return undefined;
}

/** Splits a path-less operation's value into (path, value) pairs (RFC 7644 §3.5.2.1 + Entra). */
function pathlessPairs(value: unknown): { path: string; value: unknown }[] | ScimProblem {
  if (!isObject(value)) {
    return {
      status: 400,
      scimType: "invalidValue",
      detail: "an operation without path needs an object value",
    };
  }
  const pairs: { path: string; value: unknown }[] = [];
  for (const [k, v] of Object.entries(value)) {
    const lk = k.toLowerCase();
    if (lk === "schemas" || lk === "id" || lk === "meta") continue;
    if (lk === ENTERPRISE_USER.toLowerCase()) {
      if (!isObject(v))
        return { status: 400, scimType: "invalidValue", detail: `${ENTERPRISE_USER} must be an object` };
      for (const [ek, ev] of Object.entries(v)) pairs.push({ path: `${ENTERPRISE_USER}:${ek}`, value: ev });
      continue;
    }
    pairs.push({ path: k, value: v });
  }
  return pairs;
}

export type PatchOperation = { op: Op; path: string | undefined; value: unknown };

/**
 * The operations of a PatchOp body, with the checks Users and Groups share (RFC 7644 §3.5.2):
 * the PatchOp schema when `schemas` is given, a non-empty `Operations` array (names case
 * insensitive; some clients send "operations", Entra capitalises "Replace"), each op add,
 * replace or remove, a path a non-empty string when present.
 */
export function patchOperations(
  body: unknown,
): { ok: true; ops: PatchOperation[] } | { ok: false; problem: ScimProblem } {
  if (!isObject(body)) return bad("invalidSyntax", "the PATCH body must be a JSON object");
  const schemas = body.schemas;
  if (
    schemas !== undefined &&
    !(
      Array.isArray(schemas) &&
      schemas.some((s) => typeof s === "string" && s.toLowerCase() === PATCH_OP.toLowerCase())
    )
  ) {
    return bad("invalidSyntax", `schemas must contain ${PATCH_OP}`);
  }
  const ops = getCI(body, "Operations");
  if (!Array.isArray(ops) || ops.length === 0)
    return bad("invalidSyntax", "Operations must be a non-empty array");
  if (ops.length > MAX_OPERATIONS) return bad("tooMany", `at most ${MAX_OPERATIONS} operations per request`);
  const out: PatchOperation[] = [];
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw)) return bad("invalidSyntax", `Operations[${i}] must be an object`);
    const opRaw = getCI(raw, "op");
    const op = typeof opRaw === "string" ? opRaw.toLowerCase() : undefined;
    if (op !== "add" && op !== "replace" && op !== "remove") {
      return bad("invalidSyntax", `Operations[${i}].op must be add, replace or remove`);
    }
    const path = getCI(raw, "path");
    if (path !== undefined && (typeof path !== "string" || path.trim() === "")) {
      return bad("invalidPath", `Operations[${i}].path must be a non-empty string`);
    }
    out.push({ op, path, value: getCI(raw, "value") });
  }
  return { ok: true, ops: out };
}

/**
 * Applies a PatchOp request body to `current`. Every operation applies, or none does (RFC 7644
 * §3.5.2: the whole request fails on the first error). The result is re-normalised, so
 * `"active": "False"` ends as `false` and a bare `manager` string as `{ value }`.
 */
export function applyPatch(current: ScimUser, body: unknown): PatchResult {
  const parsed = patchOperations(body);
  if (!parsed.ok) return parsed;
  const doc = structuredClone(current) as Record<string, unknown>;
  for (const [i, { op, path, value }] of parsed.ops.entries()) {
    const pairs: { path: string; value: unknown }[] | ScimProblem =
      typeof path === "string"
        ? [{ path, value }]
        : op === "remove"
          ? { status: 400, scimType: "noTarget", detail: `Operations[${i}]: remove needs a path` }
          : pathlessPairs(value);
    if (!Array.isArray(pairs)) return { ok: false, problem: pairs };
    for (const p of pairs) {
      const pp = parsePatchPath(p.path);
      if (!pp.ok) return bad("invalidPath", `Operations[${i}]: ${pp.error}`);
      const problem = applyOne(doc, op, pp.value, p.value);
      if (problem)
        return { ok: false, problem: { ...problem, detail: `Operations[${i}]: ${problem.detail}` } };
    }
  }
  if (isObject(doc[ENTERPRISE_USER]) && Object.keys(doc[ENTERPRISE_USER]).length === 0)
    delete doc[ENTERPRISE_USER];
  const n = normaliseUser(doc);
  if (!n.ok) return n;
  return { ok: true, user: n.user, changed: !sameValue(n.user, current) };
}
