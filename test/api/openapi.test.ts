// The OpenAPI document on the real wiring (GET /openapi.json): the security schemes the auth
// plugin accepts; every operation's security follows its route's permission (public → [],
// checked against what the route really answers without credentials); every documented
// operation has a tag and a summary (a new route without one fails here), and no summary line
// is left over from a route that is gone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SUMMARIES } from "../../api/openapi/summaries.ts";
import { newApi } from "./support.ts";

type Operation = {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string }[];
  "x-ipsolis-permission"?: string;
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: { properties?: object } }> }
  >;
};
type Doc = {
  openapi: string;
  tags: { name: string; description: string }[];
  components: { securitySchemes: Record<string, Record<string, string>> };
  paths: Record<string, Record<string, Operation>>;
};

const openapiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}").replace(/\*$/, "{*}");
// Pages (HTML), the document itself and its reference page are not API operations.
const isPage = (url: string) => /^\/(portal|console|approve|docs)(\/|$)/.test(url) || url === "/openapi.json";

test("OpenAPI: security schemes, and each operation's security follows its route's permission", async (t) => {
  const api = await newApi(t, { people: false });
  const res = await api.app.inject({ method: "GET", url: "/openapi.json" });
  assert.equal(res.statusCode, 200);
  const doc = res.json<Doc>();
  const schemes = doc.components.securitySchemes;
  assert.deepEqual(
    { type: schemes.apiToken?.type, scheme: schemes.apiToken?.scheme },
    { type: "http", scheme: "bearer" },
  );
  assert.deepEqual(
    { type: schemes.scimToken?.type, scheme: schemes.scimToken?.scheme },
    { type: "http", scheme: "bearer" },
  );
  assert.deepEqual(
    { type: schemes.kubernetesToken?.type, scheme: schemes.kubernetesToken?.scheme },
    { type: "http", scheme: "bearer" },
  );
  assert.deepEqual(
    { type: schemes.adminKey?.type, in: schemes.adminKey?.in, name: schemes.adminKey?.name },
    { type: "apiKey", in: "header", name: "X-Admin-Key" },
  );
  assert.match(schemes.adminKey?.description ?? "", /^Deprecated/);
  assert.deepEqual(
    { type: schemes.sessionCookie?.type, in: schemes.sessionCookie?.in, name: schemes.sessionCookie?.name },
    { type: "apiKey", in: "cookie", name: "ipsolis_session" },
  );
  assert.deepEqual(
    { type: schemes.ingestToken?.type, scheme: schemes.ingestToken?.scheme },
    { type: "http", scheme: "bearer" },
  );
  assert.equal(schemes.webhookSignature?.name, "webhook-signature");
  assert.equal(schemes.hubSignature?.name, "X-Hub-Signature-256");
  assert.match(schemes.hubSignature?.description ?? "", /^Deprecated/);

  const failures: string[] = [];
  const tagNames = new Set(doc.tags.map((x) => x.name));
  for (const x of doc.tags) if (!x.description) failures.push(`tag ${x.name} has no description`);
  const documented = new Set<string>();
  for (const r of api.app.routeTable) {
    const key = `${r.method} ${r.url}`;
    const op = doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()];
    if (!op) {
      if (!isPage(r.url) && !r.url.startsWith("/scim/v2/Me") && r.url !== "/scim/v2/Bulk")
        failures.push(`${key} is not documented (hide it with schema.hide if it is a page)`);
      continue;
    }
    documented.add(key);
    if (op.tags?.length !== 1 || !tagNames.has(op.tags[0]!)) failures.push(`${key}: tag ${String(op.tags)}`);
    if (!op.summary) failures.push(`${key}: no summary (add one to api/openapi/summaries.ts)`);
    if (op["x-ipsolis-permission"] !== r.permission) failures.push(`${key}: x-ipsolis-permission`);
    // Every operation says what its errors look like (SCIM: RFC 7644's), beside its own answers.
    const scim = r.url.startsWith("/scim/v2");
    const errProps = Object.keys(
      op.responses?.default?.content?.[scim ? "application/scim+json" : "application/json"]?.schema
        ?.properties ?? {},
    );
    const wantErr = scim ? "detail" : "error";
    if (!errProps.includes(wantErr)) failures.push(`${key}: no default error response with ${wantErr}`);
    if (Object.keys(op.responses ?? {}).filter((k) => k !== "default").length === 0)
      failures.push(`${key}: only the error response`);
    const names = (op.security ?? [{ missing: [] }]).flatMap((s) => Object.keys(s));
    for (const n of names) if (!schemes[n]) failures.push(`${key}: unknown scheme ${n}`);
    if (r.permission === "public") {
      if (names.length !== 0 || !op.security) failures.push(`${key}: public but security ${names.join(",")}`);
    } else if (r.permission === "ingest") {
      if (names.join() !== "ingestToken") failures.push(`${key}: ingest but security ${names.join(",")}`);
    } else {
      const bearer = r.permission === "scim" ? "scimToken" : "apiToken";
      for (const n of [bearer, "kubernetesToken", "sessionCookie", "adminKey"])
        if (!names.includes(n)) failures.push(`${key}: ${r.permission} without ${n}`);
    }
  }
  for (const k of Object.keys(SUMMARIES))
    if (!documented.has(k)) failures.push(`summary for ${k}, which is not a documented operation`);

  // The signed webhooks take a signature instead of a token, and say how to make one.
  for (const [path, secret] of [
    ["/hr/leaver", "IPSOLIS_HR_WEBHOOK_SECRET"],
    ["/servicenow/v1/requests", "IPSOLIS_SERVICENOW_WEBHOOK_SECRET"],
  ] as const) {
    const op = doc.paths[path]?.post;
    const names = (op?.security ?? []).flatMap((s) => Object.keys(s));
    assert.ok(names.includes("webhookSignature") && names.includes("hubSignature"), path);
    assert.match(op?.description ?? "", new RegExp(`webhook-signature[^]*${secret}`));
  }
  assert.deepEqual(failures, []);
  // A route's own answers stay: the one-time secret's reveal documents its 200 with the value.
  const reveal = doc.paths["/me/one-time-secrets/{id}/reveal"]?.post?.responses ?? {};
  assert.deepEqual(Object.keys(reveal).sort(), ["200", "default"]);
  // And the error shape is what an error really is.
  const missing = await api.app.inject({ method: "GET", url: "/orders/no-such-order" });
  assert.equal(missing.statusCode, 401, missing.body);
  assert.equal(typeof missing.json<{ error: unknown }>().error, "string");

  // What the document says is what the API does: without credentials, every parameterless GET
  // with `security: []` answers something other than 401, and every other one answers 401.
  const drift: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    const op = ops.get;
    if (!op || path.includes("{") || path.includes("oidc")) continue;
    const r = await api.app.inject({ method: "GET", url: path });
    const isPublic = op.security?.length === 0;
    if (isPublic === (r.statusCode === 401))
      drift.push(
        `GET ${path}: security ${JSON.stringify(op.security)} but ${r.statusCode} without credentials`,
      );
  }
  assert.deepEqual(drift, []);
});
