// SCIM filter and PATCH path parser and evaluator (RFC 7644 §3.4.2.2 and §3.5.2). Pure.
//
//   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//   valuePath = attrPath "[" valFilter "]" [subAttr compareOp compValue / subAttr "pr"]   (Entra)
//   attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//   PATH      = attrPath / valuePath [subAttr]
//
// Precedence: "not" binds tighter than "and", which binds tighter than "or". Attribute names
// and operators are case insensitive; string comparison follows the attribute's caseExact.
import { CORE_USER, resolveAttr, resolveSub, type AttrDef } from "./schema.ts";

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
export type CompValue = string | number | boolean | null;

export type AttrPath = {
  /** Schema URN prefix as written, if any. */
  schema?: string;
  attr: string;
  sub?: string;
};

export type Filter =
  | { op: "and" | "or"; left: Filter; right: Filter }
  | { op: "not"; filter: Filter }
  | { op: "pr"; path: AttrPath }
  | { op: CompareOp; path: AttrPath; value: CompValue }
  | { op: "valuePath"; path: AttrPath; filter: Filter };

export type PatchPath = {
  path: AttrPath;
  filter?: Filter;
  /** sub-attribute after the filter */ sub?: string;
};

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

type Tok =
  | { t: "("; pos: number }
  | { t: ")"; pos: number }
  | { t: "["; pos: number }
  | { t: "]"; pos: number }
  | { t: "str"; v: string; pos: number }
  | { t: "num"; v: number; pos: number }
  | { t: "word"; v: string; pos: number };

const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 32;
const COMPARE_OPS = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);

class ParseError extends Error {}

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === "[" || c === "]") {
      out.push({ t: c, pos: i });
      i++;
      continue;
    }
    if (c === '"') {
      // A JSON string literal (RFC 7644 §3.4.2.2: compValue strings are JSON strings).
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      if (j >= s.length) throw new ParseError(`unterminated string at ${i}`);
      let v: unknown;
      try {
        v = JSON.parse(s.slice(i, j + 1));
      } catch (err) {
        throw new ParseError(`bad string literal at ${i}: ${(err as Error).message}`);
      }
      out.push({ t: "str", v: v as string, pos: i });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?(?![\w:.$-])/.exec(s.slice(i));
    if (num) {
      out.push({ t: "num", v: Number(num[0]), pos: i });
      i += num[0].length;
      continue;
    }
    const w = /^[A-Za-z0-9_:.$-]+/.exec(s.slice(i));
    if (!w) throw new ParseError(`unexpected character ${JSON.stringify(c)} at ${i}`);
    out.push({ t: "word", v: w[0], pos: i });
    i += w[0].length;
  }
  return out;
}

/** Splits `urn:…:User:name.givenName` into schema, attribute and sub-attribute. */
export function parseAttrPath(word: string): AttrPath | undefined {
  let schema: string | undefined;
  let rest = word;
  const colon = word.lastIndexOf(":");
  if (colon >= 0) {
    schema = word.slice(0, colon);
    rest = word.slice(colon + 1);
    if (!/^urn:/i.test(schema)) return undefined;
  }
  const parts = rest.split(".");
  if (parts.length > 2) return undefined;
  const [attr, sub] = parts as [string, string | undefined];
  const name = /^[A-Za-z$][\w$-]*$/;
  if (!name.test(attr) || (sub !== undefined && !name.test(sub))) return undefined;
  return { ...(schema !== undefined ? { schema } : {}), attr, ...(sub !== undefined ? { sub } : {}) };
}

class Parser {
  private i = 0;
  private depth = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  next(): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new ParseError("unexpected end of filter");
    return t;
  }
  atEnd(): boolean {
    return this.i >= this.toks.length;
  }
  isWord(t: Tok | undefined, w: string): boolean {
    return t?.t === "word" && t.v.toLowerCase() === w;
  }
  enter() {
    if (++this.depth > MAX_DEPTH) throw new ParseError("filter nested too deeply");
  }
  leave() {
    this.depth--;
  }

  parseOr(): Filter {
    this.enter();
    let left = this.parseAnd();
    while (this.isWord(this.peek(), "or")) {
      this.next();
      left = { op: "or", left, right: this.parseAnd() };
    }
    this.leave();
    return left;
  }
  parseAnd(): Filter {
    let left = this.parseUnary();
    while (this.isWord(this.peek(), "and")) {
      this.next();
      left = { op: "and", left, right: this.parseUnary() };
    }
    return left;
  }
  parseUnary(): Filter {
    const t = this.peek();
    if (this.isWord(t, "not")) {
      this.next();
      const open = this.next();
      if (open.t !== "(") throw new ParseError(`"not" must be followed by "(" at ${open.pos}`);
      const inner = this.parseOr();
      const close = this.next();
      if (close.t !== ")") throw new ParseError(`expected ")" at ${close.pos}`);
      return { op: "not", filter: inner };
    }
    if (t?.t === "(") {
      this.next();
      const inner = this.parseOr();
      const close = this.next();
      if (close.t !== ")") throw new ParseError(`expected ")" at ${close.pos}`);
      return inner;
    }
    return this.parseAttrExp();
  }
  parseAttrExp(): Filter {
    const t = this.next();
    if (t.t !== "word") throw new ParseError(`expected an attribute path at ${t.pos}`);
    const path = parseAttrPath(t.v);
    if (!path) throw new ParseError(`invalid attribute path ${JSON.stringify(t.v)}`);
    if (this.peek()?.t === "[") {
      if (path.sub !== undefined) throw new ParseError(`a value filter cannot follow a sub-attribute`);
      this.next();
      const inner = this.parseOr();
      const close = this.next();
      if (close.t !== "]") throw new ParseError(`expected "]" at ${close.pos}`);
      // `emails[type eq "work"].value eq "x"` (what Entra sends when e-mail is the matching
      // attribute; RFC 7644's ABNF allows a subAttr after "]" only in PATCH paths, but the
      // meaning is plain): some element matches the value filter and its sub-attribute the
      // comparison, i.e. `emails[type eq "work" and value eq "x"]`.
      const after = this.peek();
      if (after?.t === "word" && /^\.[A-Za-z][\w$-]*$/.test(after.v) && after.pos === close.pos + 1) {
        this.next();
        const sub = this.parseComparison({ attr: after.v.slice(1) });
        return { op: "valuePath", path, filter: { op: "and", left: inner, right: sub } };
      }
      return { op: "valuePath", path, filter: inner };
    }
    return this.parseComparison(path);
  }
  parseComparison(path: AttrPath): Filter {
    const opTok = this.next();
    if (opTok.t !== "word") throw new ParseError(`expected an operator at ${opTok.pos}`);
    const op = opTok.v.toLowerCase();
    if (op === "pr") return { op: "pr", path };
    if (!COMPARE_OPS.has(op)) throw new ParseError(`unknown operator ${JSON.stringify(opTok.v)}`);
    const vt = this.next();
    let value: CompValue;
    if (vt.t === "str" || vt.t === "num") value = vt.v;
    else if (vt.t === "word" && ["true", "false", "null"].includes(vt.v.toLowerCase())) {
      const w = vt.v.toLowerCase();
      value = w === "null" ? null : w === "true";
    } else throw new ParseError(`expected a comparison value at ${vt.pos}`);
    return { op: op as CompareOp, path, value };
  }
}

export function parseFilter(input: string): ParseResult<Filter> {
  if (input.length > MAX_FILTER_LENGTH) return { ok: false, error: "filter too long" };
  try {
    const p = new Parser(tokenize(input));
    if (p.atEnd()) return { ok: false, error: "empty filter" };
    const f = p.parseOr();
    if (!p.atEnd()) return { ok: false, error: `unexpected ${JSON.stringify(p.next())} after the filter` };
    return { ok: true, value: f };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, error: err.message };
    throw err;
  }
}

/** Parses a PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`. */
export function parsePatchPath(input: string): ParseResult<PatchPath> {
  if (input.length > MAX_FILTER_LENGTH) return { ok: false, error: "path too long" };
  const open = input.indexOf("[");
  if (open < 0) {
    const path = parseAttrPath(input.trim());
    return path
      ? { ok: true, value: { path } }
      : { ok: false, error: `invalid path ${JSON.stringify(input)}` };
  }
  const close = input.lastIndexOf("]");
  if (close < open) return { ok: false, error: `unbalanced "[" in path` };
  const path = parseAttrPath(input.slice(0, open).trim());
  if (!path || path.sub !== undefined) return { ok: false, error: `invalid path ${JSON.stringify(input)}` };
  const inner = parseFilter(input.slice(open + 1, close));
  if (!inner.ok) return inner;
  const tail = input.slice(close + 1).trim();
  let sub: string | undefined;
  if (tail !== "") {
    const m = /^\.([A-Za-z$][\w$-]*)$/.exec(tail);
    if (!m) return { ok: false, error: `invalid text after "]" in path: ${JSON.stringify(tail)}` };
    sub = m[1];
  }
  return { ok: true, value: { path, filter: inner.value, ...(sub !== undefined ? { sub } : {}) } };
}

// ---- evaluation ------------------------------------------------------------------------------

type Json = unknown;

/** Looks up a key of a JSON object case-insensitively (attribute names are case insensitive). */
export function getCI(obj: Json, key: string): Json {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return undefined;
  const rec = obj as Record<string, unknown>;
  if (key in rec) return rec[key];
  const k = key.toLowerCase();
  for (const [name, v] of Object.entries(rec)) if (name.toLowerCase() === k) return v;
  return undefined;
}

/** The attribute's container in a resource: the resource itself, or its extension object. */
function containerFor(resource: Json, resolvedSchema: string): Json {
  return resolvedSchema && resolvedSchema !== CORE_USER ? getCI(resource, resolvedSchema) : resource;
}

type Scalar = { v: Json; def: AttrDef | undefined };

/** Every scalar value the path yields (multi-valued attributes fan out). */
function valuesAt(resource: Json, path: AttrPath): Scalar[] {
  const resolved = resolveAttr(path.schema, path.attr);
  const container = resolved ? containerFor(resource, resolved.schema) : resource;
  const top = getCI(container, resolved?.def.name ?? path.attr);
  if (top === undefined || top === null) return [];
  const def = resolved?.def;
  const items = Array.isArray(top) ? top : [top];
  const out: Scalar[] = [];
  for (const it of items) {
    if (path.sub !== undefined) {
      const subDef = def ? resolveSub(def, path.sub) : undefined;
      const v = getCI(it, subDef?.name ?? path.sub);
      if (v !== undefined && v !== null) out.push({ v, def: subDef });
    } else if (it !== null && typeof it === "object" && !Array.isArray(it)) {
      // A complex attribute compared directly: RFC 7644 §3.4.2.2 uses its "value" sub-attribute.
      const subDef = def ? resolveSub(def, "value") : undefined;
      const v = getCI(it, "value");
      if (v !== undefined && v !== null) out.push({ v, def: subDef });
    } else {
      out.push({ v: it, def });
    }
  }
  return out;
}

export type EvalError = { error: string };

function compare(op: CompareOp, actual: Scalar, expected: CompValue): boolean | EvalError {
  const a = actual.v;
  const type = actual.def?.type;
  if (expected === null) return op === "eq" ? false : op === "ne" ? true : { error: `"${op}" with null` };
  if (typeof a === "boolean" || type === "boolean") {
    const ab = typeof a === "boolean" ? a : String(a).toLowerCase() === "true";
    const eb = typeof expected === "boolean" ? expected : String(expected).toLowerCase() === "true";
    if (op === "eq") return ab === eb;
    if (op === "ne") return ab !== eb;
    return { error: `operator "${op}" is not defined for boolean attributes` };
  }
  if (typeof a === "number" && typeof expected === "number") {
    switch (op) {
      case "eq":
        return a === expected;
      case "ne":
        return a !== expected;
      case "gt":
        return a > expected;
      case "ge":
        return a >= expected;
      case "lt":
        return a < expected;
      case "le":
        return a <= expected;
      default:
        return { error: `operator "${op}" is not defined for numbers` };
    }
  }
  if (typeof a !== "string" && typeof a !== "number") return false;
  let as = String(a);
  let es = String(expected);
  if (type === "dateTime") {
    const ad = Date.parse(as);
    const ed = Date.parse(es);
    if (Number.isNaN(ed)) return { error: `not a dateTime: ${JSON.stringify(es)}` };
    if (!Number.isNaN(ad) && ["eq", "ne", "gt", "ge", "lt", "le"].includes(op)) {
      return compare(op, { v: ad, def: undefined }, ed);
    }
  }
  if (!(actual.def?.caseExact ?? false)) {
    as = as.toLowerCase();
    es = es.toLowerCase();
  }
  switch (op) {
    case "eq":
      return as === es;
    case "ne":
      return as !== es;
    case "co":
      return as.includes(es);
    case "sw":
      return as.startsWith(es);
    case "ew":
      return as.endsWith(es);
    case "gt":
      return as > es;
    case "ge":
      return as >= es;
    case "lt":
      return as < es;
    case "le":
      return as <= es;
  }
}

/**
 * Whether `resource` matches `f`. Returns an EvalError for a filter that is well-formed but
 * meaningless (e.g. `active gt true`), which the caller answers with 400 invalidFilter.
 */
export function matches(resource: Json, f: Filter): boolean | EvalError {
  switch (f.op) {
    case "and": {
      const l = matches(resource, f.left);
      if (typeof l !== "boolean") return l;
      const r = matches(resource, f.right);
      if (typeof r !== "boolean") return r;
      return l && r;
    }
    case "or": {
      const l = matches(resource, f.left);
      if (typeof l !== "boolean") return l;
      const r = matches(resource, f.right);
      if (typeof r !== "boolean") return r;
      return l || r;
    }
    case "not": {
      const r = matches(resource, f.filter);
      return typeof r === "boolean" ? !r : r;
    }
    case "pr":
      return valuesAt(resource, f.path).some(
        (s) => !(s.v === "" || (Array.isArray(s.v) && s.v.length === 0)),
      );
    case "valuePath": {
      const resolved = resolveAttr(f.path.schema, f.path.attr);
      const container = resolved ? containerFor(resource, resolved.schema) : resource;
      const top = getCI(container, resolved?.def.name ?? f.path.attr);
      const items = Array.isArray(top) ? top : top === undefined || top === null ? [] : [top];
      for (const it of items) {
        const r = matchesElement(it, f.filter, resolved?.def);
        if (typeof r !== "boolean") return r;
        if (r) return true;
      }
      return false;
    }
    default: {
      const vals = valuesAt(resource, f.path);
      if (vals.length === 0) return f.op === "ne" ? true : false;
      let any = false;
      for (const v of vals) {
        const r = compare(f.op, v, f.value);
        if (typeof r !== "boolean") return r;
        if (r) any = true;
      }
      // `ne` on a multi-valued attribute: true when no value equals (the negation of `eq`).
      if (f.op === "ne") {
        for (const v of vals) if (compare("eq", v, f.value) === true) return false;
        return true;
      }
      return any;
    }
  }
}

/**
 * Evaluates a value filter (inside `[...]`) against one element of a multi-valued attribute:
 * its paths name sub-attributes of `parent`.
 */
export function matchesElement(element: Json, f: Filter, parent: AttrDef | undefined): boolean | EvalError {
  switch (f.op) {
    case "and":
    case "or": {
      const l = matchesElement(element, f.left, parent);
      if (typeof l !== "boolean") return l;
      const r = matchesElement(element, f.right, parent);
      if (typeof r !== "boolean") return r;
      return f.op === "and" ? l && r : l || r;
    }
    case "not": {
      const r = matchesElement(element, f.filter, parent);
      return typeof r === "boolean" ? !r : r;
    }
    case "valuePath":
      return { error: "nested value filters are not allowed" };
    default: {
      if (f.path.sub !== undefined || f.path.schema !== undefined) {
        return { error: "a value filter names sub-attributes only" };
      }
      const subDef = parent ? resolveSub(parent, f.path.attr) : undefined;
      const v = getCI(element, subDef?.name ?? f.path.attr);
      if (f.op === "pr") return v !== undefined && v !== null && v !== "";
      if (v === undefined || v === null) return f.op === "ne";
      if (typeof v === "object") return false;
      return compare(f.op, { v, def: subDef }, f.value);
    }
  }
}

/**
 * The exact-match equalities a filter's top-level "and" chain requires, for a database
 * pre-selection (`userName eq "x"` is what Entra and Okta send on every sync). The full
 * filter is still evaluated on each candidate.
 */
export function requiredEqualities(f: Filter): { attr: string; value: string }[] {
  if (f.op === "and") return [...requiredEqualities(f.left), ...requiredEqualities(f.right)];
  // emails[type eq "work" and value eq "x"] (and Entra's emails[type eq "work"].value eq "x").
  if (f.op === "valuePath" && f.path.attr.toLowerCase() === "emails" && f.path.sub === undefined) {
    return elementValues(f.filter).map((value) => ({ attr: "emails.value", value }));
  }
  if (f.op === "eq" && typeof f.value === "string") {
    const key = [f.path.attr, f.path.sub].filter(Boolean).join(".").toLowerCase();
    if (["username", "externalid", "id", "emails.value", "emails"].includes(key)) {
      return [{ attr: key === "emails" ? "emails.value" : key, value: f.value }];
    }
  }
  return [];
}

/** The `value eq "…"` a value filter's "and" chain requires of its element. */
function elementValues(f: Filter): string[] {
  if (f.op === "and") return [...elementValues(f.left), ...elementValues(f.right)];
  if (f.op === "eq" && typeof f.value === "string" && f.path.sub === undefined)
    return f.path.attr.toLowerCase() === "value" ? [f.value] : [];
  return [];
}

/**
 * The first attribute path in `f` the User schema does not define, or undefined when every
 * one is known. RFC 7644 §3.12: a filter on an attribute the server does not support is
 * `invalidFilter` (400), rather than a silent empty result a client takes for "no such user".
 */
export function undefinedAttribute(f: Filter): string | undefined {
  const show = (p: AttrPath) =>
    [p.schema, [p.attr, p.sub].filter(Boolean).join(".")].filter(Boolean).join(":");
  const known = (p: AttrPath): AttrDef | undefined => {
    const r = resolveAttr(p.schema, p.attr);
    if (!r) return undefined;
    if (p.sub === undefined) return r.def;
    return resolveSub(r.def, p.sub);
  };
  switch (f.op) {
    case "and":
    case "or":
      return undefinedAttribute(f.left) ?? undefinedAttribute(f.right);
    case "not":
      return undefinedAttribute(f.filter);
    case "valuePath": {
      const parent = known(f.path);
      if (!parent) return show(f.path);
      return undefinedSubAttribute(f.filter, parent, show(f.path));
    }
    default:
      return known(f.path) ? undefined : show(f.path);
  }
}

function undefinedSubAttribute(f: Filter, parent: AttrDef, where: string): string | undefined {
  switch (f.op) {
    case "and":
    case "or":
      return undefinedSubAttribute(f.left, parent, where) ?? undefinedSubAttribute(f.right, parent, where);
    case "not":
      return undefinedSubAttribute(f.filter, parent, where);
    case "valuePath":
      return undefined; // matchesElement reports nested value filters itself
    default:
      if (f.path.schema !== undefined || f.path.sub !== undefined) return undefined; // ditto
      return resolveSub(parent, f.path.attr) ? undefined : `${where}.${f.path.attr}`;
  }
}
