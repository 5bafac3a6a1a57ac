// The Helm chart without Helm (not installed here): its crds/ are the repository's CRDs (links,
// no copies to drift), values.yaml satisfies the top level of values.schema.json, and the
// operator Role in the chart is the one manifests/operator/rbac.yaml ships (and rbac.test.ts
// proves sufficient).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

const root = join(import.meta.dirname, "..", "..");
const chart = join(root, "charts", "ipsolis");

test("the chart's crds/ are links to every CRD in crds/", async () => {
  const want = (await readdir(join(root, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
  const have = (await readdir(join(chart, "crds"))).sort();
  assert.deepEqual(have, want);
  for (const f of have) {
    assert.equal(await realpath(join(chart, "crds", f)), await realpath(join(root, "crds", f)));
  }
});

test("values.yaml has exactly the keys values.schema.json allows, with their types", async () => {
  const values = parse(await readFile(join(chart, "values.yaml"), "utf8")) as Record<
    string,
    Record<string, unknown>
  >;
  const schema = JSON.parse(await readFile(join(chart, "values.schema.json"), "utf8")) as {
    required: string[];
    properties: Record<string, { properties: Record<string, { type?: string; enum?: unknown[] }> }>;
  };
  for (const k of schema.required) assert.ok(k in values, `values.${k}`);
  for (const [k, v] of Object.entries(values)) {
    const props = schema.properties[k]?.properties;
    assert.ok(props, `values.${k} is in the schema`);
    for (const [field, val] of Object.entries(v)) {
      const p: { type?: string; enum?: unknown[] } | undefined = props[field];
      assert.ok(p, `values.${k}.${field} is in the schema`);
      if (p.enum) assert.ok(p.enum.includes(val), `values.${k}.${field}`);
      if (p.type === "integer") assert.ok(Number.isInteger(val), `values.${k}.${field} is an integer`);
      if (p.type === "string") assert.equal(typeof val, "string");
      if (p.type === "boolean") assert.equal(typeof val, "boolean");
    }
  }
});

test("the chart's operator Role grants exactly what manifests/operator/rbac.yaml grants", async () => {
  const plain = parseAllDocuments(await readFile(join(root, "manifests", "operator", "rbac.yaml"), "utf8"))
    .map((d) => d.toJS() as { kind: string; rules?: unknown })
    .find((d) => d.kind === "Role");
  // Strip the template lines (labels) so the rest parses as YAML.
  const text = (await readFile(join(chart, "templates", "operator.yaml"), "utf8"))
    .split("\n")
    .filter((l) => !l.includes("{{"))
    .join("\n");
  const templated = parseAllDocuments(text)
    .map((d) => d.toJS() as { kind: string; rules?: unknown })
    .find((d) => d.kind === "Role");
  assert.deepEqual(templated?.rules, plain?.rules);
});
