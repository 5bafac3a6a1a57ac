import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../record/config.ts";
import { ConfigError } from "../../record/errors.ts";
import { ApiEnv } from "../config.ts";

const base = {
  IPSOLIS_DATABASE_URL: "postgres://u@127.0.0.1:5432/db",
  IPSOLIS_NAMESPACE: "ipsolis",
  IPSOLIS_SESSION_SECRET: "s".repeat(32),
  IPSOLIS_LINK_SECRET: "l".repeat(32),
};

test("single sign-on is off without IPSOLIS_OIDC_* and on with all three", () => {
  assert.equal(loadConfig(ApiEnv, base).IPSOLIS_OIDC_AUTHORITY, undefined);
  const c = loadConfig(ApiEnv, {
    ...base,
    IPSOLIS_OIDC_AUTHORITY: "https://login.microsoftonline.com/0000",
    IPSOLIS_OIDC_CLIENT_ID: "client",
    IPSOLIS_OIDC_CLIENT_SECRET: "secret",
  });
  assert.equal(c.IPSOLIS_OIDC_CLIENT_ID, "client");
});

test("a partial or insecure single sign-on configuration names every missing or bad variable", () => {
  assert.throws(
    () => loadConfig(ApiEnv, { ...base, IPSOLIS_OIDC_AUTHORITY: "http://idp.example/t" }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /IPSOLIS_OIDC_AUTHORITY/.test(err.message) &&
      /https/.test(err.message) &&
      /IPSOLIS_OIDC_CLIENT_ID/.test(err.message) &&
      /IPSOLIS_OIDC_CLIENT_SECRET/.test(err.message),
  );
});

test("X-Forwarded-For is believed only from configured proxies", async () => {
  const { trustProxyOf } = await import("../app.ts");
  assert.equal(trustProxyOf(undefined), false);
  assert.deepEqual(trustProxyOf("10.0.0.0/8,127.0.0.1"), ["10.0.0.0/8", "127.0.0.1"]);
  assert.throws(() => loadConfig(ApiEnv, { ...base, IPSOLIS_TRUST_PROXY: "true" }), /IPSOLIS_TRUST_PROXY/);
});
