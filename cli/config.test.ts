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
    [
      {},
      {},
      [/no API URL: pass --server or set IPSOLIS_URL/, /no API token: pass --token or set IPSOLIS_TOKEN/],
    ],
    [{}, { IPSOLIS_URL: "https://x.example" }, [/^no API token/]],
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
