// The API process end to end: configuration errors list every bad variable; a good
// configuration migrates, listens on a real port, serves the OpenAPI document and the login page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../../api/server.ts";
import { newDatabase } from "../support/db.ts";
import { newNamespace } from "../support/kube.ts";
import { testEnv } from "../support/env.ts";

const secret = "s".repeat(40);

test("a bad configuration stops start-up naming every bad variable", async () => {
  await assert.rejects(
    startServer({ IPSOLIS_DATABASE_URL: "not a url", IPSOLIS_SESSION_SECRET: "short" }),
    (err: Error) =>
      /IPSOLIS_DATABASE_URL/.test(err.message) &&
      /IPSOLIS_NAMESPACE/.test(err.message) &&
      /IPSOLIS_SESSION_SECRET/.test(err.message) &&
      /IPSOLIS_LINK_SECRET/.test(err.message),
  );
});

test("the server migrates, listens, serves /openapi.json and the first-run login page", async (t) => {
  const url = await newDatabase(t, "srv");
  const ns = await newNamespace(t, "srv");
  const { stop, url: base } = await startServer({
    IPSOLIS_DATABASE_URL: url,
    IPSOLIS_NAMESPACE: ns,
    IPSOLIS_KUBECONFIG: testEnv().kubeconfig,
    IPSOLIS_SESSION_SECRET: secret,
    IPSOLIS_LINK_SECRET: secret,
    IPSOLIS_LISTEN_PORT: "0",
    IPSOLIS_LOG_LEVEL: "warn",
  });
  t.after(stop);
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  assert.match(doc.openapi, /^3\./);
  for (const p of [
    "/orders",
    "/orders/{name}/approve",
    "/assettypes/{name}",
    "/admin/tokens",
    "/auth/login",
  ]) {
    assert.ok(doc.paths[p], `OpenAPI documents ${p}`);
  }
  assert.ok(doc.paths["/admin/tokens"]!.post!.requestBody, "request bodies come from the zod schemas");
  const login = await fetch(`${base}/portal/login`);
  assert.equal(login.status, 200);
  assert.match(await login.text(), /First run: create the superadmin/);
});

test("Prometheus metrics on their own port: HTTP by route pattern, SCIM, sign-ins, process; never on the public port", async (t) => {
  const url = await newDatabase(t, "srvm");
  const ns = await newNamespace(t, "srvm");
  const {
    stop,
    url: base,
    metricsUrl,
  } = await startServer({
    IPSOLIS_DATABASE_URL: url,
    IPSOLIS_NAMESPACE: ns,
    IPSOLIS_KUBECONFIG: testEnv().kubeconfig,
    IPSOLIS_SESSION_SECRET: secret,
    IPSOLIS_LINK_SECRET: secret,
    IPSOLIS_LISTEN_PORT: "0",
    IPSOLIS_METRICS_PORT: "0",
    IPSOLIS_LOG_LEVEL: "warn",
  });
  t.after(stop);
  assert.ok(metricsUrl, "IPSOLIS_METRICS_PORT serves /metrics");
  const login = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "nobody", password: "wrong password here" }),
  });
  assert.equal(login.status, 401);
  assert.equal((await fetch(`${base}/scim/v2/Users?filter=userName%20eq%20%22a%22`)).status, 401);
  assert.equal((await fetch(`${base}/no/such/page/${"x".repeat(20)}`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`)).status, 404, "the public port has no /metrics");

  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const m = await res.text();
  assert.match(m, /^ipsolis_api_sign_ins_total\{method="password",result="failed"\} 1$/m);
  assert.match(m, /^ipsolis_api_scim_requests_total\{resource="Users",method="GET",status="401"\} 1$/m);
  assert.match(
    m,
    /^ipsolis_api_http_request_duration_seconds_count\{method="POST",route="\/auth\/login",status="401"\} 1$/m,
  );
  assert.match(m, /route="unmatched",status="404"/, "unknown URLs share one label value");
  assert.doesNotMatch(m, /no\/such\/page/);
  assert.match(m, /^ipsolis_api_process_resident_memory_bytes \d+/m);
  assert.equal((await fetch(metricsUrl.replace("/metrics", "/other"))).status, 404);
});
