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

test("the kubeconfig identity only when asked for: --kubeconfig, --context or IPSOLIS_AUTH=kubeconfig", () => {
  const url = { IPSOLIS_URL: "https://x.example" };
  const kube = { ok: true, server: "https://x.example", fromKubeconfig: true };
  // Not asked: no token is an error, the kubeconfig is not touched.
  const none = loadConnection({}, url);
  assert.equal(none.ok, false);
  assert.match("message" in none ? none.message : "", /^no API token: .* IPSOLIS_AUTH=kubeconfig$/);
  assert.deepEqual(loadConnection({}, { ...url, IPSOLIS_AUTH: "kubeconfig" }), kube);
  // An explicit kubeconfig flag beats the variable; --token beats both.
  assert.deepEqual(loadConnection({ context: "prod" }, { ...url, IPSOLIS_TOKEN: TOKEN }), kube);
  assert.deepEqual(loadConnection({ kubeconfig: "/k" }, { ...url, IPSOLIS_TOKEN: TOKEN }), kube);
  assert.deepEqual(loadConnection({ token: TOKEN, context: "prod" }, url), {
    ok: true,
    connection: { server: "https://x.example", token: TOKEN },
  });
  // IPSOLIS_TOKEN wins over IPSOLIS_AUTH.
  assert.deepEqual(loadConnection({}, { ...url, IPSOLIS_TOKEN: TOKEN, IPSOLIS_AUTH: "kubeconfig" }), {
    ok: true,
    connection: { server: "https://x.example", token: TOKEN },
  });
  // A kubeconfig credential never travels over plain http to another host, even with --insecure.
  const plain = loadConnection({ context: "prod", insecure: true }, { IPSOLIS_URL: "http://x.example" });
  assert.equal(plain.ok, false);
  assert.match(
    "message" in plain ? plain.message : "",
    /kubeconfig credential over plain http to x\.example, even with --insecure/,
  );
  assert.deepEqual(loadConnection({ context: "prod" }, { IPSOLIS_URL: "http://127.0.0.1:8080" }), {
    ok: true,
    server: "http://127.0.0.1:8080",
    fromKubeconfig: true,
  });
});
