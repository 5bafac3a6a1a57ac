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
