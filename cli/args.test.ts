import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCli, parseRequestTimeout } from "./args.ts";
import { COMMAND_USAGE, COMMANDS, TOP_USAGE } from "./usage.ts";

const run = (argv: string[]) => {
  const p = parseCli(argv);
  assert.equal(p.kind, "run", JSON.stringify(p));
  return p;
};
const usageError = (argv: string[]) => {
  const p = parseCli(argv);
  assert.equal(p.kind, "usage-error", JSON.stringify(p));
  return p;
};

test("each command parses to what it asks the API for", () => {
  const cases: [argv: string[], want: unknown][] = [
    [["get", "orders"], { kind: "get-orders", allNamespaces: false, output: "table" }],
    [["get", "ord", "-o", "wide"], { kind: "get-orders", allNamespaces: false, output: "wide" }],
    [
      ["-n", "ipsolis", "get", "orders", "-A", "--output=json"],
      { kind: "get-orders", namespace: "ipsolis", allNamespaces: true, output: "json" },
    ],
    [["get", "order", "vpn-1"], { kind: "get-orders", name: "vpn-1", allNamespaces: false, output: "table" }],
    [["approve", "vpn-1"], { kind: "approve", order: "vpn-1", output: "table" }],
    [
      ["approve", "vpn-1", "--comment", "ok"],
      { kind: "approve", order: "vpn-1", comment: "ok", output: "table" },
    ],
    [
      ["decline", "--comment=no budget", "vpn-1", "-o", "json"],
      { kind: "decline", order: "vpn-1", comment: "no budget", output: "json" },
    ],
    [["logs", "vpn-1"], { kind: "logs", order: "vpn-1", follow: false }],
    [["logs", "-f", "vpn-1"], { kind: "logs", order: "vpn-1", follow: true }],
    [["cancel", "vpn-1"], { kind: "cancel", order: "vpn-1", output: "table" }],
    [
      ["revoke", "vpn-1", "--reason", "left the project"],
      { kind: "revoke", order: "vpn-1", reason: "left the project", output: "table" },
    ],
    [["leaver", "plan", "jdoe"], { kind: "leaver-plan", person: "jdoe", output: "table" }],
    [["verify-audit", "-o", "json"], { kind: "verify-audit", output: "json" }],
  ];
  for (const [argv, want] of cases) assert.deepEqual(run(argv).command, want, argv.join(" "));
});

test("connection flags are taken anywhere and kept apart from the command", () => {
  assert.deepEqual(run(["--server", "https://x.example", "get", "orders", "--token=ips_abc"]).connection, {
    server: "https://x.example",
    token: "ips_abc",
  });
  assert.deepEqual(run(["get", "orders"]).connection, {});
});

test("help: no command, `help`, `help <cmd>` and --help on every command", () => {
  assert.deepEqual(parseCli([]), { kind: "help", text: TOP_USAGE });
  assert.deepEqual(parseCli(["help"]), { kind: "help", text: TOP_USAGE });
  assert.deepEqual(parseCli(["help", "logs"]), { kind: "help", text: COMMAND_USAGE.logs });
  for (const c of COMMANDS) {
    assert.deepEqual(parseCli([c, "--help"]), { kind: "help", text: COMMAND_USAGE[c] }, c);
    assert.deepEqual(parseCli([c, "-h"]), { kind: "help", text: COMMAND_USAGE[c] }, c);
    assert.match(COMMAND_USAGE[c], /Examples:\n {2}kubectl ipsolis /, c);
  }
});

test("usage errors say what is wrong and carry the right help text", () => {
  const cases: [argv: string[], message: RegExp, usage: string][] = [
    [["frob"], /unknown command "frob"/, TOP_USAGE],
    [["help", "frob"], /unknown command "frob"/, TOP_USAGE],
    [["get"], /get needs a resource/, COMMAND_USAGE.get],
    [["get", "pods"], /unknown resource "pods"/, COMMAND_USAGE.get],
    [["get", "orders", "a", "b"], /at most one name/, COMMAND_USAGE.get],
    [
      ["get", "orders", "-o", "yaml"],
      /unknown output format "yaml": use -o json or -o wide/,
      COMMAND_USAGE.get,
    ],
    [["approve"], /approve needs an order name/, COMMAND_USAGE.approve],
    [
      ["approve", "a", "b"],
      /approve takes one argument \(an order name\), got 2: a b/,
      COMMAND_USAGE.approve,
    ],
    [["approve", "a", "-o", "wide"], /unknown output format "wide": use -o json/, COMMAND_USAGE.approve],
    [["decline", "a"], /decline needs --comment/, COMMAND_USAGE.decline],
    [["decline", "a", "--comment", "  "], /decline needs --comment/, COMMAND_USAGE.decline],
    [["logs", "a", "--comment", "x"], /unknown flag for "logs": --comment/, COMMAND_USAGE.logs],
    [["cancel", "a", "-f"], /unknown flag for "cancel": --follow/, COMMAND_USAGE.cancel],
    [["leaver"], /leaver needs "plan PERSON"/, COMMAND_USAGE.leaver],
    [["leaver", "go", "x"], /unknown leaver command "go"/, COMMAND_USAGE.leaver],
    [["leaver", "plan"], /leaver needs a person/, COMMAND_USAGE.leaver],
    [["verify-audit", "now"], /takes no arguments/, COMMAND_USAGE["verify-audit"]],
    [["get", "orders", "--bogus"], /Unknown option '--bogus'/, COMMAND_USAGE.get],
    [["logs", "--server"], /--server/, COMMAND_USAGE.logs],
  ];
  for (const [argv, message, usage] of cases) {
    const e = usageError(argv);
    assert.match(e.message, message, argv.join(" "));
    assert.equal(e.usage, usage, argv.join(" "));
  }
});

test("--request-timeout: kubectl durations, 0 for none, a generous default for verify-audit; --insecure", () => {
  assert.equal(run(["get", "orders"]).requestTimeoutMs, 30_000);
  assert.equal(run(["verify-audit"]).requestTimeoutMs, 10 * 60_000);
  assert.equal(run(["verify-audit", "--request-timeout", "0"]).requestTimeoutMs, 0);
  assert.equal(run(["--request-timeout=2m", "get", "orders"]).requestTimeoutMs, 120_000);
  for (const [s, ms] of [
    ["30s", 30_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["500ms", 500],
    ["45", 45_000],
  ] as const)
    assert.equal(parseRequestTimeout(s), ms, s);
  for (const bad of ["", "abc", "-1s", "10x", "1m 30s"])
    assert.equal(parseRequestTimeout(bad), undefined, bad);
  const e = usageError(["logs", "x", "--request-timeout", "soon"]);
  assert.match(e.message, /^invalid --request-timeout "soon": give a duration with its unit/);
  assert.deepEqual(run(["get", "orders", "--insecure"]).connection, { insecure: true });
});
