import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceOf, shapeOf, slug, typeOf, type JsonSchema } from "./reference.ts";

const types: { given: JsonSchema; want: string }[] = [
  { given: { type: "string" }, want: "string" },
  { given: { type: "string", format: "email" }, want: "string (email)" },
  { given: { type: "array", items: { type: "string" } }, want: "string[]" },
  {
    given: { type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] } },
    want: "(string | number)[]",
  },
  { given: { type: "object", additionalProperties: { type: "string" } }, want: "map of string" },
  { given: { type: "string", nullable: true }, want: "string | null" },
  { given: { type: ["string", "null"] }, want: "string | null" },
  { given: { enum: ["a", "b"] }, want: "string" },
  { given: {}, want: "any" },
];
for (const c of types)
  test(`type of ${JSON.stringify(c.given)} → ${c.want}`, () => assert.equal(typeOf(c.given), c.want));

test("a shape lists an object's fields, nested, with required, values and descriptions", () => {
  const s = shapeOf({
    type: "object",
    required: ["assetType"],
    properties: {
      assetType: { type: "string", description: "the type's name" },
      cleanup: { type: "string", enum: ["needed", "notNeeded"] },
      requester: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
      approvals: { type: "array", items: { type: "object", properties: { at: { type: "string" } } } },
    },
  });
  assert.equal(s.type, "object");
  assert.deepEqual(
    s.fields.map((f) => [f.name, f.type, f.isRequired, f.values, f.fields.map((x) => x.name)]),
    [
      ["assetType", "string", true, undefined, []],
      ["cleanup", "string", false, ['"needed"', '"notNeeded"'], []],
      ["requester", "object", false, undefined, ["id"]],
      ["approvals", "object[]", false, undefined, ["at"]],
    ],
  );
  assert.equal(s.fields[0]?.description, "the type's name");
});

test("operations are grouped by tag in the document's tag order, with auth, parameters, body and responses", () => {
  const r = referenceOf({
    info: { title: "T", version: "1" },
    tags: [{ name: "B", description: "bee" }, { name: "A" }],
    components: {
      securitySchemes: {
        apiToken: { type: "http", scheme: "bearer", description: "token" },
        sessionCookie: { type: "apiKey", in: "cookie", name: "s" },
      },
    },
    paths: {
      "/a": { get: { tags: ["A"], summary: "list a", security: [] } },
      "/b/{id}": {
        post: {
          tags: ["B"],
          summary: "make b",
          security: [{ apiToken: [] }, { sessionCookie: [] }],
          "x-ipsolis-permission": "b:write",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          requestBody: {
            content: {
              "application/json": { schema: { type: "object", properties: { x: { type: "number" } } } },
            },
          },
          responses: {
            "201": {
              description: "Default Response",
              content: { "application/json": { schema: { type: "object" } } },
            },
            "204": { description: "gone", content: { "application/json": { schema: { type: "null" } } } },
          },
        },
      },
    },
  });
  assert.deepEqual(
    r.groups.map((g) => [g.id, g.tag, g.description, g.operations.map((o) => o.id)]),
    [
      ["tag-b", "B", "bee", ["op-post-b-id"]],
      ["tag-a", "A", undefined, ["op-get-a"]],
    ],
  );
  const [b] = r.groups[0]!.operations;
  assert.deepEqual(
    [b?.isPublic, b?.schemes, b?.permission, b?.params, b?.body?.contentType],
    [
      false,
      ["apiToken", "sessionCookie"],
      "b:write",
      [{ name: "id", in: "path", type: "string", isRequired: true }],
      "application/json",
    ],
  );
  assert.deepEqual(
    b?.responses.map((x) => [x.status, x.description, x.shape?.type]),
    [
      ["201", undefined, "object"],
      ["204", "gone", undefined],
    ],
  );
  assert.equal(r.groups[1]!.operations[0]!.isPublic, true);
  assert.deepEqual(
    r.schemes.map((s) => [s.id, s.how]),
    [
      ["apiToken", "Authorization: Bearer …"],
      ["sessionCookie", "Cookie: s"],
    ],
  );
});

test("slugs are anchor-safe", () => {
  assert.equal(slug("GET /orders/{name}/log"), "get-orders-name-log");
  assert.equal(slug("HR/Leavers"), "hr-leavers");
});
