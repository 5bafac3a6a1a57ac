import { test } from "node:test";
import assert from "node:assert/strict";
import { operationMeta, securityOf, tagOf, TAGS } from "./document.ts";

const anyPrincipal = [{ apiToken: [] }, { kubernetesToken: [] }, { sessionCookie: [] }, { adminKey: [] }];

const security: { name: string; config: { permission?: string; hmac?: string }; want: unknown }[] = [
  { name: "public → no credentials", config: { permission: "public" }, want: [] },
  { name: "ingest → the runner's token only", config: { permission: "ingest" }, want: [{ ingestToken: [] }] },
  {
    name: "a permission → token, session or legacy key",
    config: { permission: "orders:read" },
    want: anyPrincipal,
  },
  { name: "self → any principal", config: { permission: "self" }, want: anyPrincipal },
  {
    name: "scim → the SCIM token, session or legacy key",
    config: { permission: "scim" },
    want: [{ scimToken: [] }, { kubernetesToken: [] }, { sessionCookie: [] }, { adminKey: [] }],
  },
  {
    name: "a signed webhook → a signature, or a principal",
    config: { permission: "hr:leaver", hmac: "hr" },
    want: [{ webhookSignature: [] }, { hubSignature: [] }, ...anyPrincipal],
  },
];
for (const c of security) test(`security: ${c.name}`, () => assert.deepEqual(securityOf(c.config), c.want));

const tags: { url: string; want: string | undefined }[] = [
  { url: "/orders", want: "Orders" },
  { url: "/orders/:name/log", want: "Orders" },
  { url: "/orders/:name/approve", want: "Approvals" },
  { url: "/orders/:name/approval-links", want: "Approvals" },
  { url: "/ordersx", want: undefined },
  { url: "/audit/orders/:name/log", want: "Audit" },
  { url: "/auth/oidc/callback", want: "Auth" },
  { url: "/leavers/:id/retry", want: "HR/Leavers" },
  { url: "/scim/v2/Users/:id", want: "SCIM" },
  { url: "/readyz", want: "Health" },
  { url: "/portal", want: undefined },
];
for (const c of tags) test(`tag of ${c.url} → ${c.want ?? "none"}`, () => assert.equal(tagOf(c.url), c.want));

test("tag names are unique and each has a description", () => {
  assert.equal(new Set(TAGS.map((t) => t.name)).size, TAGS.length);
  for (const t of TAGS) assert.ok(t.description.length > 10, t.name);
});

test("the route's own summary and description win over the central ones", () => {
  const meta = operationMeta(
    { method: "GET", url: "/orders", config: { permission: "orders:read" } },
    { summary: "mine", description: "own words" },
  );
  assert.equal((meta as { summary: string }).summary, "mine");
  assert.equal((meta as { description: string }).description, "own words");
  assert.deepEqual((meta as { tags: string[] }).tags, ["Orders"]);
});

test("signed webhooks say how to sign in their description; SCIM's 501 routes are not documented", () => {
  const meta = operationMeta(
    { method: "POST", url: "/hr/leaver", config: { permission: "hr:leaver", hmac: "hr" } },
    {},
  );
  assert.match(
    (meta as { description: string }).description,
    /webhook-signature.*IPSOLIS_HR_WEBHOOK_SECRET/s,
  );
  assert.deepEqual(operationMeta({ method: ["GET", "POST"], url: "/scim/v2/Bulk", config: {} }, {}), {
    hide: true,
  });
});
