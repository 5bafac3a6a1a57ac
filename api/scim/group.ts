// SCIM Groups (RFC 7643 §4.2, RFC 7644 §3.5): what Entra ID and Okta send turned into one stored
// shape (displayName, externalId, member ids), PATCH over it, and the served document. Pure.
//
// Shapes accepted on purpose (each has a test in group.test.ts / test/scim/groups.test.ts):
// - Entra: POST with displayName + externalId and no members; PATCH `Add`/`Remove` of `members`
//   with a value list ([{ value }]), `Replace` of displayName/externalId with a path; a `remove`
//   of `members` without a value clears the group (RFC 7644 §3.5.2.2).
// - Okta: PUT of the whole group with its member list; PATCH path-less `replace` whose value
//   carries `id` and `displayName`; `remove` with path `members[value eq "<id>"]`.
// - op names in any case, a bare string where a member object is expected.
import { getCI, matchesElement, parseFilter, parsePatchPath, type Filter } from "./filter.ts";
import { CORE_GROUP, GROUP_ATTRIBUTES, resolveAttr, resolveSub, type AttrDef } from "./schema.ts";
import { etagOf, type ScimProblem, type StoredMeta } from "./user.ts";
import { patchOperations } from "./patch.ts";

/** A member as the client named it: the User's id (lower-cased), and what we show beside it. */
export type MemberRef = { value: string; display?: string };

/** The stored shape: members are User ids, unique, in the order they were added. */
export type GroupDoc = { displayName: string; externalId: string | null; members: MemberRef[] };

export type GroupResult = { ok: true; group: GroupDoc } | { ok: false; problem: ScimProblem };

const MAX_STRING = 2048;
/** Most member values one request may carry (a PUT of a large group sends them all). */
export const MAX_MEMBERS_PER_REQUEST = 10_000;

const MEMBERS_DEF = GROUP_ATTRIBUTES.find((a) => a.name === "members")!;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function bad(scimType: ScimProblem["scimType"], detail: string): { ok: false; problem: ScimProblem } {
  return { ok: false, problem: { status: 400, ...(scimType ? { scimType } : {}), detail } };
}

/** A single string value; Entra sometimes wraps one as [{ value }]. undefined = not a string. */
function stringOf(v: unknown): string | undefined {
  if (Array.isArray(v) && v.length === 1) return stringOf(isObject(v[0]) ? v[0].value : v[0]);
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return typeof v === "string" ? v : undefined;
}

/** Member values from a `members` value: an array (or, leniently, one) of { value } or strings. */
function membersOf(v: unknown, where: string): MemberRef[] | ScimProblem {
  if (v === null || v === undefined) return [];
  const list: unknown[] = Array.isArray(v) ? v : [v];
  if (list.length > MAX_MEMBERS_PER_REQUEST) {
    return {
      status: 400,
      scimType: "tooMany",
      detail: `${where} has more than ${MAX_MEMBERS_PER_REQUEST} values`,
    };
  }
  const out: MemberRef[] = [];
  for (const [i, el] of list.entries()) {
    const raw: unknown = isObject(el) ? getCI(el, "value") : el;
    if (typeof raw !== "string" || raw.trim() === "") {
      return { status: 400, scimType: "invalidValue", detail: `${where}[${i}].value must be a User id` };
    }
    const type = isObject(el) ? getCI(el, "type") : undefined;
    if (type !== undefined && type !== null && (typeof type !== "string" || type.toLowerCase() !== "user")) {
      return {
        status: 400,
        scimType: "invalidValue",
        detail: `${where}[${i}]: only Users can be members (no nested groups)`,
      };
    }
    const value = raw.trim().toLowerCase();
    if (!out.some((m) => m.value === value)) out.push({ value });
  }
  return out;
}

function isProblem(x: unknown): x is ScimProblem {
  return isObject(x) && typeof x.status === "number" && typeof x.detail === "string";
}

function displayNameOf(v: unknown, where: string): string | ScimProblem {
  const s = stringOf(v)?.trim();
  if (s === undefined || s === "")
    return { status: 400, scimType: "invalidValue", detail: `${where} must be a non-empty string` };
  if (s.length > MAX_STRING)
    return {
      status: 400,
      scimType: "invalidValue",
      detail: `${where} is longer than ${MAX_STRING} characters`,
    };
  return s;
}

function externalIdOf(v: unknown, where: string): string | null | ScimProblem {
  if (v === null || v === undefined) return null;
  const s = stringOf(v);
  if (s === undefined) return { status: 400, scimType: "invalidValue", detail: `${where} must be a string` };
  if (s.length > MAX_STRING)
    return {
      status: 400,
      scimType: "invalidValue",
      detail: `${where} is longer than ${MAX_STRING} characters`,
    };
  return s === "" ? null : s;
}

/** The attribute an input key names (plain, or qualified with the Group URN), lower-cased. */
function keyOf(k: string): string {
  const lower = k.toLowerCase();
  const prefix = `${CORE_GROUP.toLowerCase()}:`;
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
}

export type NormalisedGroup =
  { ok: true; group: GroupDoc; hasMembers: boolean } | { ok: false; problem: ScimProblem };

/**
 * A client's Group document (POST, PUT) as the stored shape. Read-only and unknown attributes
 * are ignored (RFC 7644 §3.3). `hasMembers` says whether `members` was given at all: a PUT
 * without it keeps the members (not asserted, RFC 7644 §3.5.1), `members: []` empties the group.
 */
export function normaliseGroup(input: unknown): NormalisedGroup {
  if (!isObject(input)) return bad("invalidSyntax", "a Group must be a JSON object");
  let displayName: string | undefined;
  let externalId: string | null = null;
  let members: MemberRef[] = [];
  let hasMembers = false;
  for (const [k, v] of Object.entries(input)) {
    const key = keyOf(k);
    if (key === "displayname") {
      const d = displayNameOf(v, "displayName");
      if (isProblem(d)) return { ok: false, problem: d };
      displayName = d;
    } else if (key === "externalid") {
      const e = externalIdOf(v, "externalId");
      if (isProblem(e)) return { ok: false, problem: e };
      externalId = e;
    } else if (key === "members") {
      const m = membersOf(v, "members");
      if (isProblem(m)) return { ok: false, problem: m };
      members = m;
      hasMembers = true;
    }
  }
  if (displayName === undefined) return bad("invalidValue", "displayName is required");
  return { ok: true, group: { displayName, externalId, members }, hasMembers };
}

/** Served `members` value: id, display name, reference. */
export type MemberView = { value: string; display: string; $ref: string; type: "User" };

/** The full resource as served. `members` undefined = left out (excludedAttributes=members). */
export function renderGroup(
  g: { displayName: string; externalId: string | null },
  members: MemberView[] | undefined,
  m: StoredMeta,
): Record<string, unknown> {
  return {
    schemas: [CORE_GROUP],
    id: m.id,
    ...(g.externalId !== null ? { externalId: g.externalId } : {}),
    displayName: g.displayName,
    ...(members !== undefined ? { members } : {}),
    meta: {
      resourceType: "Group",
      created: m.created.toISOString(),
      lastModified: m.lastModified.toISOString(),
      location: m.location,
      version: etagOf(m.version),
    },
  };
}

type Selector = { attr: string; sub?: string };

function selectors(list: string | undefined): Selector[] {
  return (list ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      const [attr = "", sub] = keyOf(s).split(".");
      return { attr, ...(sub !== undefined ? { sub } : {}) };
    });
}

/** Whether `members` must be read for this projection (Entra's lookups leave it out). */
export function wantsMembers(attributes: string | undefined, excluded: string | undefined): boolean {
  const pick = selectors(attributes);
  if (pick.length > 0) return pick.some((s) => s.attr === "members");
  return !selectors(excluded).some((s) => s.attr === "members" && s.sub === undefined);
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) over a served Group: `schemas` and `id`
 * always stay; names are case-insensitive; `members.value` picks one sub-attribute.
 */
export function projectGroup(
  full: Record<string, unknown>,
  attributes: string | undefined,
  excluded: string | undefined,
): Record<string, unknown> {
  const pick = selectors(attributes);
  const drop = selectors(excluded);
  const keyIn = (o: Record<string, unknown>, lower: string) =>
    Object.keys(o).find((k) => k.toLowerCase() === lower);
  const subOf = (v: unknown, sub: string, keep: boolean): unknown => {
    const one = (o: unknown) => {
      if (!isObject(o)) return o;
      const k = keyIn(o, sub);
      if (keep) return k === undefined ? {} : { [k]: o[k] };
      const copy = { ...o };
      if (k !== undefined) delete copy[k];
      return copy;
    };
    return Array.isArray(v) ? v.map(one) : one(v);
  };
  if (pick.length > 0) {
    const out: Record<string, unknown> = { schemas: full.schemas, id: full.id };
    for (const s of pick) {
      const k = keyIn(full, s.attr);
      if (k === undefined || k === "id" || k === "schemas") continue;
      out[k] = s.sub === undefined ? full[k] : subOf(full[k], s.sub, true);
    }
    return out;
  }
  const out: Record<string, unknown> = { ...full };
  for (const s of drop) {
    const k = keyIn(out, s.attr);
    if (k === undefined || k === "id" || k === "schemas") continue;
    if (s.sub === undefined) delete out[k];
    else out[k] = subOf(out[k], s.sub, false);
  }
  return out;
}

/** Group attribute definitions by name, the common ones (id, externalId, meta) included. */
function groupAttr(schema: string | undefined, name: string): AttrDef | undefined {
  if (schema !== undefined && schema.toLowerCase() !== CORE_GROUP.toLowerCase()) return undefined;
  const lower = name.toLowerCase();
  const own = GROUP_ATTRIBUTES.find((a) => a.name.toLowerCase() === lower);
  if (own) return own;
  const common = resolveAttr(undefined, name);
  return common?.schema === "" ? common.def : undefined;
}

/**
 * The first attribute path in a Groups filter that the Group schema does not define (RFC 7644
 * §3.12: invalidFilter), or undefined. The evaluator (filter.ts `matches`) is the Users' one:
 * it compares `displayName` case-insensitively and `id`/`externalId` exactly, as the Group
 * schema says, and reads `members` through its `value`.
 */
export function undefinedGroupAttribute(f: Filter): string | undefined {
  const show = (p: { schema?: string; attr: string; sub?: string }) =>
    [p.schema, [p.attr, p.sub].filter(Boolean).join(".")].filter(Boolean).join(":");
  const known = (p: { schema?: string; attr: string; sub?: string }) => {
    const def = groupAttr(p.schema, p.attr);
    if (!def) return false;
    return p.sub === undefined || resolveSub(def, p.sub) !== undefined;
  };
  switch (f.op) {
    case "and":
    case "or":
      return undefinedGroupAttribute(f.left) ?? undefinedGroupAttribute(f.right);
    case "not":
      return undefinedGroupAttribute(f.filter);
    case "valuePath": {
      if (!known(f.path)) return show(f.path);
      const def = groupAttr(f.path.schema, f.path.attr)!;
      return undefinedSub(f.filter, def, show(f.path));
    }
    default:
      return known(f.path) ? undefined : show(f.path);
  }
}

function undefinedSub(f: Filter, parent: AttrDef, where: string): string | undefined {
  switch (f.op) {
    case "and":
    case "or":
      return undefinedSub(f.left, parent, where) ?? undefinedSub(f.right, parent, where);
    case "not":
      return undefinedSub(f.filter, parent, where);
    case "valuePath":
      return undefined; // matchesElement refuses nested value filters itself
    default:
      return resolveSub(parent, f.path.attr) ? undefined : `${where}.${f.path.attr}`;
  }
}

/** Whether the filter reads `members` (then the candidates need their member lists). */
export function filterReadsMembers(f: Filter): boolean {
  switch (f.op) {
    case "and":
    case "or":
      return filterReadsMembers(f.left) || filterReadsMembers(f.right);
    case "not":
      return filterReadsMembers(f.filter);
    default:
      return f.path.attr.toLowerCase() === "members";
  }
}

/**
 * Exact keys a filter's top-level "and" chain requires, for a database pre-selection: what
 * Entra and Okta send (`displayName eq`, `externalId eq`, `id eq`, `members[value eq]`).
 */
export function groupEqualities(f: Filter): {
  displayName?: string;
  externalId?: string;
  id?: string;
  member?: string;
} {
  if (f.op === "and") return { ...groupEqualities(f.left), ...groupEqualities(f.right) };
  if (f.op === "valuePath" && f.path.attr.toLowerCase() === "members") {
    const inner = f.filter;
    if (inner.op === "eq" && typeof inner.value === "string" && inner.path.attr.toLowerCase() === "value")
      return { member: inner.value.toLowerCase() };
    return {};
  }
  if (f.op !== "eq" || typeof f.value !== "string") return {};
  const key = [f.path.attr, f.path.sub].filter(Boolean).join(".").toLowerCase();
  if (key === "displayname") return { displayName: f.value };
  if (key === "externalid") return { externalId: f.value };
  if (key === "id") return { id: f.value };
  if (key === "members.value" || key === "members") return { member: f.value.toLowerCase() };
  return {};
}

// ---- PATCH ------------------------------------------------------------------------------------

type Op = "add" | "replace" | "remove";

function applyOne(doc: GroupDoc, op: Op, path: string, value: unknown): ScimProblem | undefined {
  const pp = parsePatchPath(path);
  if (!pp.ok) return { status: 400, scimType: "invalidPath", detail: pp.error };
  const { path: ap, filter } = pp.value;
  const def = groupAttr(ap.schema, ap.attr);
  if (!def)
    return { status: 400, scimType: "invalidPath", detail: `unknown attribute ${JSON.stringify(path)}` };
  const sub = filter ? pp.value.sub : ap.sub;
  if (def.mutability === "readOnly" || def.name === "id")
    return { status: 400, scimType: "mutability", detail: `${def.name} is read-only` };
  if (op !== "remove" && value === undefined)
    return { status: 400, scimType: "invalidValue", detail: `${op} needs a value` };

  if (def.name === "displayName" || def.name === "externalId") {
    if (filter || sub !== undefined)
      return { status: 400, scimType: "invalidPath", detail: `${def.name} has no sub-attributes` };
    if (def.name === "externalId") {
      const e = op === "remove" ? null : externalIdOf(value, "externalId");
      if (isProblem(e)) return e;
      doc.externalId = e;
      return undefined;
    }
    if (op === "remove") return { status: 400, scimType: "mutability", detail: "displayName is required" };
    const d = displayNameOf(value, "displayName");
    if (isProblem(d)) return d;
    doc.displayName = d;
    return undefined;
  }
  if (def.name !== "members")
    return { status: 400, scimType: "invalidPath", detail: `${def.name} cannot be patched` };
  if (sub !== undefined) {
    return {
      status: 400,
      scimType: "invalidPath",
      detail: `members.${sub}: a member is added or removed whole, by its value`,
    };
  }

  if (filter) {
    // members[value eq "<id>"]: remove (Okta), or replace the matched members with `value`.
    if (op === "add")
      return { status: 400, scimType: "invalidPath", detail: "add takes the path members, without a filter" };
    const hits: string[] = [];
    for (const m of doc.members) {
      const r = matchesElement({ ...m, type: "User" }, filter, MEMBERS_DEF);
      if (typeof r !== "boolean") return { status: 400, scimType: "invalidFilter", detail: r.error };
      if (r) hits.push(m.value);
    }
    if (op === "replace" && hits.length === 0)
      return { status: 400, scimType: "noTarget", detail: "no member matches the filter" };
    // RFC 7644 §3.5.2.2: a remove whose filter matches nothing changes nothing (no error).
    doc.members = doc.members.filter((m) => !hits.includes(m.value));
    if (op === "replace") {
      const incoming = membersOf(value, "value");
      if (isProblem(incoming)) return incoming;
      addMembers(doc, incoming);
    }
    return undefined;
  }

  if (op === "remove") {
    // Without a value: every member goes (RFC 7644 §3.5.2.2). With a value list (Entra):
    // exactly those.
    if (value === undefined || value === null) {
      doc.members = [];
      return undefined;
    }
    const gone = membersOf(value, "value");
    if (isProblem(gone)) return gone;
    doc.members = doc.members.filter((m) => !gone.some((g) => g.value === m.value));
    return undefined;
  }
  const incoming = membersOf(value, "value");
  if (isProblem(incoming)) return incoming;
  if (op === "replace") doc.members = [];
  addMembers(doc, incoming);
  return undefined;
}

function addMembers(doc: GroupDoc, incoming: MemberRef[]): void {
  for (const m of incoming) if (!doc.members.some((x) => x.value === m.value)) doc.members.push(m);
}

/** A path-less operation's value as (path, value) pairs; Okta's carries `id`, which is skipped. */
function pathlessPairs(value: unknown): { path: string; value: unknown }[] | ScimProblem {
  if (!isObject(value))
    return {
      status: 400,
      scimType: "invalidValue",
      detail: "an operation without path needs an object value",
    };
  const pairs: { path: string; value: unknown }[] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = keyOf(k);
    if (key === "schemas" || key === "id" || key === "meta") continue;
    pairs.push({ path: k, value: v });
  }
  return pairs;
}

/**
 * Applies a PatchOp body to a Group. All operations apply, or none (RFC 7644 §3.5.2). The
 * caller checks that members added exist.
 */
export function applyGroupPatch(current: GroupDoc, body: unknown): GroupResult {
  const parsed = patchOperations(body);
  if (!parsed.ok) return parsed;
  const doc: GroupDoc = structuredClone(current);
  for (const [i, { op, path, value }] of parsed.ops.entries()) {
    const pairs =
      typeof path === "string"
        ? [{ path, value }]
        : op === "remove"
          ? ({ status: 400, scimType: "noTarget", detail: "remove needs a path" } as ScimProblem)
          : pathlessPairs(value);
    if (isProblem(pairs))
      return { ok: false, problem: { ...pairs, detail: `Operations[${i}]: ${pairs.detail}` } };
    for (const p of pairs) {
      const problem = applyOne(doc, op, p.path, p.value);
      if (problem)
        return { ok: false, problem: { ...problem, detail: `Operations[${i}]: ${problem.detail}` } };
    }
  }
  return { ok: true, group: doc };
}

/** Member ids in `next` that are not in `prev`, and the other way round. */
export function memberChanges(prev: MemberRef[], next: MemberRef[]): { added: string[]; removed: string[] } {
  const p = new Set(prev.map((m) => m.value));
  const n = new Set(next.map((m) => m.value));
  return {
    added: [...n].filter((v) => !p.has(v)),
    removed: [...p].filter((v) => !n.has(v)),
  };
}

/** Parses a Groups filter and checks its attributes; a problem is 400 invalidFilter. */
export function parseGroupFilter(
  input: string,
): { ok: true; filter: Filter } | { ok: false; problem: ScimProblem } {
  const parsed = parseFilter(input);
  if (!parsed.ok)
    return { ok: false, problem: { status: 400, scimType: "invalidFilter", detail: parsed.error } };
  const unknown = undefinedGroupAttribute(parsed.value);
  if (unknown !== undefined) {
    return {
      ok: false,
      problem: {
        status: 400,
        scimType: "invalidFilter",
        detail: `the Group schema has no attribute ${JSON.stringify(unknown)}`,
      },
    };
  }
  return { ok: true, filter: parsed.value };
}
