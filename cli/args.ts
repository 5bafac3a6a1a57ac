// Command-line parsing for `kubectl ipsolis` (pure): argv → one command with its flags, a help
// request, or a usage error with the help text to print. kubectl's own conventions: flags may
// come before or after the command, `-n`/`-A`/`-o`, `--flag=value`.
import { parseArgs } from "node:util";
import { COMMAND_USAGE, COMMANDS, TOP_USAGE, type CommandName } from "./usage.ts";

export type Output = "table" | "wide" | "json";

export type Command =
  | { kind: "get-orders"; name?: string; namespace?: string; allNamespaces: boolean; output: Output }
  | { kind: "approve"; order: string; comment?: string; output: Output }
  | { kind: "decline"; order: string; comment: string; output: Output }
  | { kind: "logs"; order: string; follow: boolean }
  | { kind: "cancel"; order: string; output: Output }
  | { kind: "revoke"; order: string; reason?: string; output: Output }
  | { kind: "leaver-plan"; person: string; output: Output }
  | { kind: "verify-audit"; output: Output };

/** Connection flags; the environment fills what is not given (`config.ts`). */
export type ConnectionFlags = {
  server?: string;
  token?: string;
  insecure?: true;
  /** The kubeconfig identity, used when no API token is given (`kubeconfig.ts`). */
  kubeconfig?: string;
  context?: string;
};

export type Parsed =
  | {
      kind: "run";
      /** The command's word, for "See 'kubectl ipsolis <name> --help'". */
      name: CommandName;
      command: Command;
      connection: ConnectionFlags;
      /** How long one API request may take, in milliseconds; 0: no limit (`--request-timeout`). */
      requestTimeoutMs: number;
    }
  | { kind: "help"; text: string }
  | { kind: "usage-error"; message: string; usage: string };
type UsageError = Extract<Parsed, { kind: "usage-error" }>;

const OPTIONS = {
  server: { type: "string" },
  token: { type: "string" },
  insecure: { type: "boolean" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "request-timeout": { type: "string" },
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  output: { type: "string", short: "o" },
  comment: { type: "string" },
  reason: { type: "string" },
  follow: { type: "boolean", short: "f" },
  help: { type: "boolean", short: "h" },
} as const;
type Flag = keyof typeof OPTIONS;

/** The flags every command takes. */
const CONNECTION_FLAGS: readonly Flag[] = [
  "server",
  "token",
  "insecure",
  "kubeconfig",
  "context",
  "request-timeout",
  "help",
];

/**
 * `--request-timeout` when not given: 30 s for a request, and more for verify-audit, which walks
 * every row of the audit log before it answers.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const VERIFY_AUDIT_REQUEST_TIMEOUT_MS = 10 * 60_000;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * kubectl's `--request-timeout`: a Go duration (`30s`, `2m`, `1h30m`, `1.5s`, `500ms`), a bare
 * number of seconds, or `0` for no limit. Undefined when it is none of these.
 */
export function parseRequestTimeout(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return Math.round(ms);
}

/** The flags each command takes besides the connection flags. */
const FLAGS: Record<CommandName, readonly Flag[]> = {
  get: ["namespace", "all-namespaces", "output"],
  approve: ["comment", "output"],
  decline: ["comment", "output"],
  logs: ["follow"],
  cancel: ["output"],
  revoke: ["reason", "output"],
  leaver: ["output"],
  "verify-audit": ["output"],
};

const isCommand = (s: string | undefined): s is CommandName =>
  s !== undefined && (COMMANDS as readonly string[]).includes(s);

const ORDER_RESOURCES = new Set(["orders", "order", "ord", "orders.ipsolis.io", "order.ipsolis.io"]);

export function parseCli(argv: readonly string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // An unknown flag or a missing value: say which, with the help of the command if one is named.
    const first = argv.find((a) => !a.startsWith("-"));
    const usage = isCommand(first) ? COMMAND_USAGE[first] : TOP_USAGE;
    return { kind: "usage-error", message: (err as Error).message, usage };
  }
  const { values, positionals } = parsed;
  const [word, ...rest] = positionals;
  if (word === undefined || word === "help") {
    if (word === "help" && isCommand(rest[0])) return { kind: "help", text: COMMAND_USAGE[rest[0]] };
    if (word === "help" && rest[0] !== undefined)
      return { kind: "usage-error", message: `unknown command "${rest[0]}"`, usage: TOP_USAGE };
    return { kind: "help", text: TOP_USAGE };
  }
  if (!isCommand(word))
    return { kind: "usage-error", message: `unknown command "${word}"`, usage: TOP_USAGE };
  const usage = COMMAND_USAGE[word];
  if (values.help) return { kind: "help", text: usage };
  const fail = (message: string): UsageError => ({ kind: "usage-error", message, usage });

  const given = (Object.keys(values) as Flag[]).filter((f) => !CONNECTION_FLAGS.includes(f));
  const unknown = given.find((f) => !FLAGS[word].includes(f));
  if (unknown) return fail(`unknown flag for "${word}": --${unknown}`);
  const connection: ConnectionFlags = {
    ...(values.server !== undefined ? { server: values.server } : {}),
    ...(values.token !== undefined ? { token: values.token } : {}),
    ...(values.insecure ? { insecure: true } : {}),
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
  };
  const rt = values["request-timeout"];
  const requestTimeoutMs =
    rt === undefined
      ? word === "verify-audit"
        ? VERIFY_AUDIT_REQUEST_TIMEOUT_MS
        : DEFAULT_REQUEST_TIMEOUT_MS
      : parseRequestTimeout(rt);
  if (requestTimeoutMs === undefined)
    return fail(
      `invalid --request-timeout "${rt}": give a duration with its unit (e.g. 30s, 2m, 1h) or 0 for no limit`,
    );

  const o = values.output;
  const allowed: readonly string[] = word === "get" ? ["json", "wide"] : ["json"];
  if (o !== undefined && !allowed.includes(o))
    return fail(`unknown output format "${o}": use ${allowed.map((a) => `-o ${a}`).join(" or ")}`);
  const output: Output = o === "json" ? "json" : o === "wide" ? "wide" : "table";
  const run = (command: Command): Parsed => ({
    kind: "run",
    name: word,
    command,
    connection,
    requestTimeoutMs,
  });

  // Commands that take exactly one name (an order, a person).
  const one = (what: string, args: readonly string[]): string | Parsed => {
    if (args.length === 0) return fail(`${word} needs ${what}`);
    if (args.length > 1)
      return fail(`${word} takes one argument (${what}), got ${args.length}: ${args.join(" ")}`);
    const v = args[0]!;
    return v.trim() === "" ? fail(`${word} needs ${what}`) : v;
  };
  // The commands on one order: the name is parsed once, here, for all of them.
  const onOrder = (build: (order: string) => Command | UsageError): Parsed => {
    const order = one("an order name", rest);
    if (typeof order !== "string") return order;
    const c = build(order);
    return c.kind === "usage-error" ? c : run(c);
  };
  /** An optional text flag as a field, absent when not given. */
  const text = <K extends string>(key: K, v: string | undefined) =>
    (v === undefined ? {} : { [key]: v }) as Partial<Record<K, string>>;

  switch (word) {
    case "get": {
      const [resource, ...names] = rest;
      if (resource === undefined) return fail('get needs a resource: "get orders"');
      if (!ORDER_RESOURCES.has(resource))
        return fail(`unknown resource "${resource}": kubectl ipsolis gets orders`);
      if (names.length > 1) return fail(`get orders takes at most one name, got ${names.length}`);
      return run({
        kind: "get-orders",
        ...(names[0] !== undefined ? { name: names[0] } : {}),
        ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
        allNamespaces: values["all-namespaces"] ?? false,
        output,
      });
    }
    case "approve":
      return onOrder((order) => ({ kind: "approve", order, ...text("comment", values.comment), output }));
    case "decline":
      return onOrder((order) =>
        values.comment === undefined || values.comment.trim() === ""
          ? fail("decline needs --comment: say why, the requester is told")
          : { kind: "decline", order, comment: values.comment, output },
      );
    case "logs":
      return onOrder((order) => ({ kind: "logs", order, follow: values.follow ?? false }));
    case "cancel":
      return onOrder((order) => ({ kind: "cancel", order, output }));
    case "revoke":
      return onOrder((order) => ({ kind: "revoke", order, ...text("reason", values.reason), output }));
    case "leaver": {
      const [sub, ...people] = rest;
      if (sub !== "plan")
        return fail(sub === undefined ? 'leaver needs "plan PERSON"' : `unknown leaver command "${sub}"`);
      const person = one("a person (user name, e-mail or employee id)", people);
      if (typeof person !== "string") return person;
      return run({ kind: "leaver-plan", person, output });
    }
    case "verify-audit":
      if (rest.length > 0) return fail(`verify-audit takes no arguments, got: ${rest.join(" ")}`);
      return run({ kind: "verify-audit", output });
  }
}
