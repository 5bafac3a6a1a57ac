// `kubectl ipsolis …`: the kubectl plugin for ipsolis (issue #21). It talks to the ipsolis API
// over HTTP with an API token or the kubeconfig's identity (kubeconfig.ts), never to the
// cluster: approvals must go through the API (the ValidatingAdmissionPolicy refuses a kubectl
// write of spec.approvals), and the API applies
// separation of duties, ACL scope and the audit. `bin/kubectl-ipsolis` runs this file.
//
// Exit codes: 0 done; 1 the API refused or the operation failed (its message on stderr);
// 2 usage error, no token or URL, an http URL refused, or the API cannot be reached (or does
// not answer within --request-timeout).
import { realpathSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseCli, type Command } from "./args.ts";
import { ApiError, createClient, UnreachableError, type Client } from "./client.ts";
import { loadConnection, type Connection } from "./config.ts";
import { kubeconfigToken } from "./kubeconfig.ts";
import {
  formatJobHeader,
  formatLeaverPlan,
  formatLogLine,
  formatOrders,
  formatVerification,
  type AuditVerification,
  type LeaverPlan,
  type LogLine,
  type OrderView,
  stripControls,
} from "./format.ts";
import { createSseParser } from "./sse.ts";
import { orderPhaseTransitions } from "../crds/reasons.ts";

export type Io = { stdout(s: string): void; stderr(s: string): void };

/** The phase in which an order's Jobs run and write step output. */
const RUNNING_PHASE = "Processing";

/**
 * Whether an order in this phase writes no more step output: the Order phase machine
 * (crds/reasons.ts) leads from it to no Processing, ever (Provisioned, Cancelled, Revoked).
 * Failed is not final: a retry leads it back through Scheduled to Processing, with a new Job.
 * An unknown phase (an order the operator has not seen yet) is not final either.
 */
export function isFinalPhase(phase: string | undefined): boolean {
  if (phase === undefined || !Object.hasOwn(orderPhaseTransitions, phase)) return false;
  const seen = new Set<string>();
  const next = [phase as keyof typeof orderPhaseTransitions];
  while (next.length > 0) {
    const p = next.pop()!;
    if (p === RUNNING_PHASE) return false;
    if (seen.has(p)) continue;
    seen.add(p);
    next.push(...orderPhaseTransitions[p]);
  }
  return true;
}
/** How often `logs -f` asks whether the order has finished (the lines themselves arrive live). */
const FOLLOW_POLL_MS = 1000;

const STATUS_NAMES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
  now: () => Date = () => new Date(),
): Promise<number> {
  const parsed = parseCli(argv);
  if (parsed.kind === "help") {
    io.stdout(`${parsed.text}\n`);
    return 0;
  }
  if (parsed.kind === "usage-error") {
    io.stderr(`error: ${parsed.message}\n\n${parsed.usage}\n`);
    return 2;
  }
  const conn = loadConnection(parsed.connection, env);
  if (!conn.ok) {
    io.stderr(
      `error: ${conn.message.split("\n").join("\nerror: ")}\nSee 'kubectl ipsolis ${parsed.name} --help' for usage.\n`,
    );
    return 2;
  }
  let connection: Connection;
  if ("connection" in conn) connection = conn.connection;
  else {
    const kube = await kubeconfigToken(parsed.connection, env);
    if (!kube.ok) {
      io.stderr(`error: ${kube.message}\nSee 'kubectl ipsolis ${parsed.name} --help' for usage.\n`);
      return 2;
    }
    connection = { server: conn.server, token: kube.token };
  }
  const client = createClient(connection, { timeoutMs: parsed.requestTimeoutMs });
  try {
    return await run(parsed.command, client, io, now);
  } catch (err) {
    if (err instanceof ApiError) {
      io.stderr(
        // The server's words (or a proxy's) reach a terminal: no control sequences.
        `Error from server (${stripControls(err.reason ?? STATUS_NAMES[err.status] ?? String(err.status))}): ${stripControls(err.message)}\n`,
      );
      return 1;
    }
    if (err instanceof UnreachableError) {
      io.stderr(`error: ${stripControls(err.message)}\n`);
      return 2;
    }
    throw err;
  }
}

const orderPath = (name: string, verb?: string) =>
  `/orders/${encodeURIComponent(name)}${verb ? `/${verb}` : ""}`;
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

async function run(cmd: Command, client: Client, io: Io, now: () => Date): Promise<number> {
  switch (cmd.kind) {
    case "get-orders": {
      let items: OrderView[];
      if (cmd.name !== undefined) items = [(await client.call<OrderView>("GET", orderPath(cmd.name))).body];
      else items = (await client.call<{ items: OrderView[] }>("GET", "/orders")).body.items;
      // The API serves one namespace: -n narrows to it (or to nothing), like kubectl's.
      if (cmd.namespace !== undefined) items = items.filter((o) => o.namespace === cmd.namespace);
      if (cmd.output === "json") {
        io.stdout(json(cmd.name !== undefined && items.length === 1 ? items[0] : { items }));
        return 0;
      }
      if (items.length === 0) {
        io.stderr(
          cmd.namespace !== undefined
            ? `No resources found in ${cmd.namespace} namespace.\n`
            : "No resources found.\n",
        );
        return 0;
      }
      io.stdout(
        `${formatOrders(items, { wide: cmd.output === "wide", allNamespaces: cmd.allNamespaces, now: now() })}\n`,
      );
      return 0;
    }
    case "approve":
    case "decline": {
      const verb = cmd.kind;
      const r = await client.call<OrderView>(
        "POST",
        orderPath(cmd.order, verb),
        cmd.comment !== undefined ? { comment: cmd.comment } : {},
      );
      io.stdout(cmd.output === "json" ? json(r.body) : `order.ipsolis.io/${r.body.name} ${verb}d\n`);
      return 0;
    }
    case "cancel": {
      const r = await client.call<OrderView>("POST", orderPath(cmd.order, "cancel"));
      io.stdout(cmd.output === "json" ? json(r.body) : `order.ipsolis.io/${r.body.name} cancel requested\n`);
      return 0;
    }
    case "revoke": {
      const r = await client.call<OrderView>(
        "POST",
        orderPath(cmd.order, "revoke"),
        cmd.reason !== undefined ? { reason: cmd.reason } : {},
      );
      if (cmd.output === "json") io.stdout(json(r.body));
      else if (r.status === 201)
        io.stdout(
          `order.ipsolis.io/${cmd.order} revoke requested: order.ipsolis.io/${r.body.name} created\n`,
        );
      else
        io.stdout(
          `order.ipsolis.io/${cmd.order} revoke already requested: order.ipsolis.io/${r.body.name} is ${r.body.phase ?? "new"}\n`,
        );
      return 0;
    }
    case "logs":
      return cmd.follow ? followLogs(client, cmd.order, io) : printLogs(client, cmd.order, io);
    case "leaver-plan": {
      const r = await client.call<LeaverPlan>("POST", "/hr/leaver", { user: cmd.person, dryRun: true });
      io.stdout(cmd.output === "json" ? json(r.body) : `${formatLeaverPlan(cmd.person, r.body)}\n`);
      return 0;
    }
    case "verify-audit": {
      const r = await client.call<AuditVerification>("GET", "/audit/verify");
      io.stdout(cmd.output === "json" ? json(r.body) : `${formatVerification(r.body)}\n`);
      return r.body.intact ? 0 : 1;
    }
  }
}

/** Prints each line once (by Job and seq), with a header before each Job's lines. */
function logPrinter(io: Io): (l: LogLine) => void {
  const seen = new Set<string>();
  let job: string | undefined;
  return (l) => {
    const key = `${l.job}:${l.seq}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (l.job !== job) io.stdout(`${formatJobHeader(l.job)}\n`);
    job = l.job;
    io.stdout(`${formatLogLine(l)}\n`);
  };
}

async function printLogs(client: Client, name: string, io: Io, print = logPrinter(io)): Promise<number> {
  const { lines } = (await client.call<{ lines: LogLine[] }>("GET", orderPath(name, "log"))).body;
  if (lines.length === 0) io.stderr(`order ${name} has no step output yet\n`);
  for (const l of lines) print(l);
  return 0;
}

const isAbort = (err: unknown) => (err as Error | undefined)?.name === "AbortError";

/**
 * Follows the live log (server-sent events) until the order is finished: a poll of the order's
 * phase stops the stream, then one read of the whole log prints any line committed just before
 * the phase changed. A `reset` event (the API cut a slow follower off) reconnects; lines seen
 * before are not printed twice.
 */
async function followLogs(client: Client, name: string, io: Io): Promise<number> {
  const phaseOf = async (): Promise<string | undefined> =>
    (await client.call<OrderView>("GET", orderPath(name))).body.phase;
  const print = logPrinter(io);
  const first = await phaseOf();
  if (isFinalPhase(first)) return printLogs(client, name, io, print);
  // Failed, Scheduled again by a retry: said once each time, so a waiting follower is no mystery.
  let failedNoted = false;
  const noteFailed = (phase: string | undefined) => {
    if (phase === "Failed" && !failedNoted)
      io.stderr(`order ${name} is Failed: following on for a retry (Ctrl-C to stop)\n`);
    failedNoted = phase === "Failed";
  };
  noteFailed(first);

  let finished = false;
  let failure: unknown;
  while (!finished) {
    const ac = new AbortController();
    const watcher = (async () => {
      while (!ac.signal.aborted) {
        await sleep(FOLLOW_POLL_MS, undefined, { signal: ac.signal });
        let phase: string | undefined;
        try {
          phase = await phaseOf();
        } catch (err) {
          // Deleted from the cluster: it will write nothing more (its log stays in the record).
          if (!(err instanceof ApiError && err.status === 404)) throw err;
          phase = "gone";
        }
        if (phase === "gone" || isFinalPhase(phase)) {
          finished = true;
          ac.abort();
        } else noteFailed(phase);
      }
    })().catch((err: unknown) => {
      if (isAbort(err)) return;
      failure = err;
      ac.abort();
    });
    try {
      const res = await client.stream(`${orderPath(name, "log")}?follow=true`, ac.signal);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const parser = createSseParser();
      const decoder = new TextDecoder();
      let reset = false;
      while (!reset) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
          if (ev.event === "line") print(JSON.parse(ev.data) as LogLine);
          else if (ev.event === "reset") reset = true;
        }
      }
      await reader.cancel().catch(() => undefined);
    } catch (err) {
      // After our own abort the socket's end may surface as a reset ("aborted"): not a failure.
      if (!isAbort(err) && !ac.signal.aborted) failure ??= err;
    }
    ac.abort();
    await watcher;
    if (failure !== undefined) throw failure as Error;
    // The stream ended or was reset while the order runs: reconnect, without a hot loop.
    if (!finished) await sleep(200);
  }
  return printLogs(client, name, io, print).then(() => 0);
}

// Run as the entry, also through a symlinked checkout (Node runs the real path, argv keeps the link).
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), process.env, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  });
}
