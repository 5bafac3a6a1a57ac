import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConnection } from "./config.ts";

const TOKEN = "ips_secretvalue123";

test("flags win over IPSOLIS_URL / IPSOLIS_TOKEN; a trailing slash is dropped", () => {
  const env = { IPSOLIS_URL: "https://env.example/", IPSOLIS_TOKEN: TOKEN };
  assert.deepEqual(loadConnection({}, env), {
    ok: true,
    connection: { server: "https://env.example", token: TOKEN },
  });
  assert.deepEqual(loadConnection({ server: "http://127.0.0.1:8080", token: "ips_flag" }, env), {
    ok: true,
    connection: { server: "http://127.0.0.1:8080", token: "ips_flag" },
  });
});

test("every problem is named at once, and never the token's value", () => {
  const cases: [flags: { server?: string; token?: string }, env: Record<string, string>, want: RegExp[]][] = [
    [{}, {}, [/^no API URL: pass --server or set IPSOLIS_URL/]],
    [{}, { IPSOLIS_TOKEN: TOKEN, IPSOLIS_URL: "ftp://x.example" }, [/the API URL must be an http\(s\) URL/]],
    [{}, { IPSOLIS_TOKEN: TOKEN, IPSOLIS_URL: "not a url" }, [/the API URL must be an http\(s\) URL/]],
    [
      { token: "ips_a b" },
      { IPSOLIS_URL: "https://x.example" },
      [/the API token \(--token\) contains white space/],
    ],
    [
      {},
      { IPSOLIS_URL: "https://x.example", IPSOLIS_TOKEN: `${TOKEN} x` },
      [/\(IPSOLIS_TOKEN\) contains white space/],
    ],
  ];
  for (const [flags, env, want] of cases) {
    const r = loadConnection(flags, env);
    assert.equal(r.ok, false);
    if (r.ok) continue;
    for (const w of want) assert.match(r.message, w);
    assert.doesNotMatch(r.message, /secretvalue|ips_a/);
  }
});

test("plain http only to this machine or with --insecure; no credentials in the URL", () => {
  const env = { IPSOLIS_TOKEN: TOKEN };
  for (const ok of [
    "http://127.0.0.1:8080",
    "http://127.1.2.3",
    "http://localhost:3000",
    "http://[::1]:8080",
  ])
    assert.equal(loadConnection({ server: ok }, env).ok, true, ok);
  for (const far of [
    "http://ipsolis.example.com",
    "http://10.0.0.1",
    "http://[::ffff:7f00:1]",
    "http://localhost.example",
  ]) {
    const r = loadConnection({ server: far }, env);
    assert.equal(r.ok, false, far);
    if (!r.ok)
      assert.match(
        r.message,
        /^refusing to send the API token over plain http to .*: use an https:\/\/ URL, or pass --insecure/,
      );
    assert.equal(loadConnection({ server: far, insecure: true }, env).ok, true, `${far} --insecure`);
  }
  const creds = loadConnection({ server: "https://ann:s3cret@ipsolis.example.com" }, env);
  assert.equal(creds.ok, false);
  if (!creds.ok) {
    assert.match(creds.message, /must not contain user:password@ credentials/);
    assert.doesNotMatch(creds.message, /s3cret/);
  }
  assert.equal(loadConnection({ server: "https://ann@ipsolis.example.com", insecure: true }, env).ok, false);
});

test("without a token, or with --kubeconfig / --context, the kubeconfig identity is asked for", () => {
  const url = { IPSOLIS_URL: "https://x.example" };
  const kube = { ok: true, server: "https://x.example", fromKubeconfig: true };
  assert.deepEqual(loadConnection({}, url), kube);
  assert.deepEqual(loadConnection({}, { ...url, IPSOLIS_TOKEN: "" }), kube);
  // An explicit kubeconfig flag beats the variable; --token beats both.
  assert.deepEqual(loadConnection({ context: "prod" }, { ...url, IPSOLIS_TOKEN: TOKEN }), kube);
  assert.deepEqual(loadConnection({ kubeconfig: "/k" }, { ...url, IPSOLIS_TOKEN: TOKEN }), kube);
  assert.deepEqual(loadConnection({ token: TOKEN, context: "prod" }, url), {
    ok: true,
    connection: { server: "https://x.example", token: TOKEN },
  });
  // The URL is still checked first: no token travels over plain http to another host.
  assert.equal(loadConnection({}, { IPSOLIS_URL: "http://x.example" }).ok, false);
});
