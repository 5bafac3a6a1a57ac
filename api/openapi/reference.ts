// The API reference page's read model (ADR 0014): the OpenAPI document (app.swagger()) grouped
// by tag in the document's tag order, each operation with its auth, parameters and a short
// summary of its request and response schemas. Pure: the page renders what this returns.

/** The parts of JSON Schema the zod transform emits that the reference shows. */
export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  nullable?: boolean;
  description?: string;
  default?: unknown;
};

type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: JsonSchema };
type Media = Record<string, { schema?: JsonSchema }>;
type Operation = {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content?: Media };
  responses?: Record<string, { description?: string; content?: Media }>;
  "x-ipsolis-permission"?: string;
};
export type OpenApiDocument = {
  info?: { title?: string; version?: string };
  tags?: { name: string; description?: string }[];
  components?: {
    securitySchemes?: Record<
      string,
      { type?: string; scheme?: string; in?: string; name?: string; description?: string }
    >;
  };
  paths?: Record<string, Record<string, Operation>>;
};

export type Field = {
  name: string;
  type: string;
  isRequired: boolean;
  description?: string;
  values?: string[];
  fields: Field[];
};
/** A schema in words: its type, and the fields of an object (or of an array's items). */
export type Shape = { type: string; description?: string; values?: string[]; fields: Field[] };

export type RefScheme = { id: string; name: string; how: string; description: string };
export type RefOperation = {
  id: string;
  method: string;
  path: string;
  summary: string;
  description?: string;
  permission?: string;
  isPublic: boolean;
  /** Security scheme ids, any one of which is enough. */
  schemes: string[];
  params: { name: string; in: string; type: string; isRequired: boolean; description?: string }[];
  body?: { contentType: string; shape: Shape };
  responses: { status: string; description?: string; shape?: Shape }[];
};
export type RefGroup = { id: string; tag: string; description?: string; operations: RefOperation[] };
export type Reference = { title: string; version: string; schemes: RefScheme[]; groups: RefGroup[] };

const METHODS = ["get", "put", "post", "patch", "delete", "options", "head", "trace"] as const;
/** How deep nested objects are spelled out; deeper ones show their type only. */
const MAX_DEPTH = 4;
/** Enumerations longer than this show their first values and a count. */
const MAX_VALUES = 12;

/** An anchor-safe id: `GET /orders/{name}/log` → `get-orders-name-log`. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

function valuesOf(s: JsonSchema): string[] | undefined {
  const v = s.enum ?? (s.const !== undefined ? [s.const] : undefined);
  if (!v) return undefined;
  const shown = v.slice(0, MAX_VALUES).map((x) => JSON.stringify(x));
  return v.length > MAX_VALUES ? [...shown, `… (${v.length})`] : shown;
}

/** A schema's type in one phrase: `string (email)`, `string[]`, `string | number`, `map of string`. */
export function typeOf(s: JsonSchema | undefined): string {
  if (!s) return "any";
  const alt = s.anyOf ?? s.oneOf;
  let t: string;
  if (alt) t = [...new Set(alt.map(typeOf))].join(" | ");
  else if (s.allOf) t = s.allOf.map(typeOf).join(" & ");
  else {
    const types = [s.type ?? (s.properties ? "object" : s.items ? "array" : undefined)].flat();
    t = types
      .map((x) => {
        if (x === undefined) return s.enum || s.const !== undefined ? "string" : "any";
        if (x === "array") {
          const item = typeOf(s.items);
          return / [|&] /.test(item) ? `(${item})[]` : `${item}[]`;
        }
        if (x === "object" && !s.properties && typeof s.additionalProperties === "object")
          return `map of ${typeOf(s.additionalProperties)}`;
        if (x === "integer") return "integer";
        return s.format ? `${x} (${s.format})` : x;
      })
      .join(" | ");
  }
  return s.nullable ? `${t} | null` : t;
}

function fieldsOf(s: JsonSchema | undefined, depth: number): Field[] {
  if (!s || depth > MAX_DEPTH) return [];
  if (s.type === "array" || (!s.type && s.items)) return fieldsOf(s.items, depth);
  const alt = s.anyOf ?? s.oneOf;
  // `X | null` (or one object among scalars) shows the object's fields.
  if (alt) {
    const objects = alt.filter((a) => a.properties);
    return objects.length === 1 ? fieldsOf(objects[0], depth) : [];
  }
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, p]) => {
    const values = valuesOf(p);
    return {
      name,
      type: typeOf(p),
      isRequired: required.has(name),
      ...(p.description ? { description: p.description } : {}),
      ...(values ? { values } : {}),
      fields: fieldsOf(p, depth + 1),
    };
  });
}

export function shapeOf(s: JsonSchema | undefined): Shape {
  const values = s ? valuesOf(s) : undefined;
  return {
    type: typeOf(s),
    ...(s?.description ? { description: s.description } : {}),
    ...(values ? { values } : {}),
    fields: fieldsOf(s, 1),
  };
}

function howOf(s: { type?: string; scheme?: string; in?: string; name?: string }): string {
  if (s.type === "http" && s.scheme === "bearer") return "Authorization: Bearer …";
  if (s.type === "apiKey" && s.in === "cookie") return `Cookie: ${s.name ?? ""}`;
  if (s.type === "apiKey") return `${s.name ?? ""}: …`;
  return s.type ?? "";
}

function firstMedia(content: Media | undefined): { contentType: string; schema?: JsonSchema } | undefined {
  const [entry] = Object.entries(content ?? {});
  if (!entry) return undefined;
  return { contentType: entry[0], ...(entry[1].schema ? { schema: entry[1].schema } : {}) };
}

/** A response without a body (204, or `null`) shows no shape. */
function hasBody(s: JsonSchema | undefined): boolean {
  return s !== undefined && s.type !== "null";
}

export function referenceOf(doc: OpenApiDocument): Reference {
  const schemes = Object.entries(doc.components?.securitySchemes ?? {}).map(([id, s]) => ({
    id,
    name: id,
    how: howOf(s),
    description: s.description ?? "",
  }));
  const byTag = new Map<string, RefOperation[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const media = firstMedia(op.requestBody?.content);
      const security = op.security ?? [];
      const ref: RefOperation = {
        id: `op-${slug(`${method} ${path}`)}`,
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? "",
        ...(op.description ? { description: op.description } : {}),
        ...(op["x-ipsolis-permission"] ? { permission: op["x-ipsolis-permission"] } : {}),
        isPublic: security.length === 0,
        schemes: [...new Set(security.flatMap((r) => Object.keys(r)))],
        params: (op.parameters ?? []).map((p) => ({
          name: p.name,
          in: p.in,
          type: typeOf(p.schema),
          isRequired: p.required === true,
          ...(p.description || p.schema?.description
            ? { description: p.description ?? p.schema?.description ?? "" }
            : {}),
        })),
        ...(media ? { body: { contentType: media.contentType, shape: shapeOf(media.schema) } } : {}),
        responses: Object.entries(op.responses ?? {}).map(([status, r]) => {
          const m = firstMedia(r.content);
          return {
            status,
            ...(r.description && r.description !== "Default Response" ? { description: r.description } : {}),
            ...(m && hasBody(m.schema) ? { shape: shapeOf(m.schema) } : {}),
          };
        }),
      };
      const tag = op.tags?.[0] ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), ref]);
    }
  }
  const order = [...(doc.tags ?? []).map((t) => t.name), ...byTag.keys()];
  const groups = [...new Set(order)]
    .filter((tag) => byTag.has(tag))
    .map((tag) => {
      const description = doc.tags?.find((t) => t.name === tag)?.description;
      return {
        id: `tag-${slug(tag)}`,
        tag,
        ...(description ? { description } : {}),
        operations: byTag.get(tag) ?? [],
      };
    });
  return {
    title: doc.info?.title ?? "API",
    version: doc.info?.version ?? "",
    schemes,
    groups,
  };
}
