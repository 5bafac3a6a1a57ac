// Integration health (issue #22): each outside system the product reaches, with its newest
// successful and failed run, the last error in one sentence, and an active probe where one is
// safe to run: the SMTP server (connect, EHLO, STARTTLS and sign-in, no message sent) and the
// OpenID Connect provider (discovery and signing keys). A directory reached by runbooks over
// Kerberos is judged by its runs: the keytab is the runner's, and the API never reads Secrets.
// Probe answers are kept for a minute, so the page and the dashboard can be reloaded freely
// without hammering anyone; `?probe=true` probes afresh, one probe per system at a time
// (concurrent callers share the one in flight). The JSON route and the console
// call `listIntegrations`.
import type { FastifyRequest } from "fastify";
import nodemailer from "nodemailer";
import { readFile } from "node:fs/promises";
import { aclScopeFor } from "../plugins/acl.ts";
import { resourcesOf } from "../plugins/resources.ts";
import { runByOf, runbookAccess } from "../policy/acl.ts";
import {
  healthOf,
  oneSentence,
  runbookIntegrations,
  type Health,
  type RunOutcome,
} from "../policy/integrations.ts";
import type { ApiConfig } from "../config.ts";
import type { OidcClient } from "../oidc/client.ts";

export type IntegrationView = {
  name: string;
  kind: "directory" | "runbook-target" | "mail" | "identity-provider";
  /** What the product reaches: a realm, a host:port, an origin (never a credential). */
  target: string;
  health: Health;
  runbooks: string[];
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  probe: { at: Date; ok: boolean; message: string | null } | null;
};

export type Probe = { name: string; kind: IntegrationView["kind"]; target: string; run(): Promise<void> };

/** The probes this installation can run safely, from its configuration. */
export function probesOf(config: Partial<ApiConfig> | undefined, oidc: OidcClient | undefined): Probe[] {
  const probes: Probe[] = [];
  const host = config?.IPSOLIS_SMTP_HOST;
  if (host) {
    const port = config.IPSOLIS_SMTP_PORT ?? 587;
    probes.push({
      name: "smtp",
      kind: "mail",
      target: `${host}:${port}`,
      async run() {
        const ca = config.IPSOLIS_SMTP_CA_FILE
          ? await readFile(config.IPSOLIS_SMTP_CA_FILE, "utf8")
          : undefined;
        const starttls = config.IPSOLIS_SMTP_STARTTLS ?? "require";
        const transport = nodemailer.createTransport({
          host,
          port,
          secure: config.IPSOLIS_SMTP_SECURE === "true",
          requireTLS: starttls === "require",
          ignoreTLS: starttls === "off",
          ...(config.IPSOLIS_SMTP_USER
            ? { auth: { user: config.IPSOLIS_SMTP_USER, pass: config.IPSOLIS_SMTP_PASSWORD ?? "" } }
            : {}),
          ...(ca ? { tls: { ca } } : {}),
          connectionTimeout: 5000,
          greetingTimeout: 5000,
          socketTimeout: 10_000,
          logger: false,
          debug: false,
        });
        try {
          await transport.verify();
        } catch (err) {
          const e = err as { code?: string; responseCode?: number; message?: string };
          // The code and, for a network failure, what the socket said (the server's own reply
          // text is left out: it may echo the user name).
          const network = e.code === "ESOCKET" || e.code === "ECONNECTION" || e.code === "ETIMEDOUT";
          throw new Error(
            `SMTP ${host}:${port}: ${e.code ?? "error"}${e.responseCode ? ` ${e.responseCode}` : ""}${network && e.message ? ` (${e.message})` : ""}`,
            { cause: err },
          );
        } finally {
          transport.close();
        }
      },
    });
  }
  if (oidc) {
    probes.push({
      name: "oidc",
      kind: "identity-provider",
      target: oidc.authority,
      run: () => oidc.probe(),
    });
  }
  return probes;
}

const FRESH_MS = 60_000;
type ProbeState = { last?: RunOutcome; inFlight?: Promise<RunOutcome> };
const probeStates = new WeakMap<object, Map<string, ProbeState>>();

/** A probe's answer: the last one while fresh, else a new run, shared with concurrent callers. */
export function probed(key: object, p: Probe, force: boolean): Promise<RunOutcome> {
  const states = probeStates.get(key) ?? new Map<string, ProbeState>();
  probeStates.set(key, states);
  const st = states.get(p.name) ?? {};
  states.set(p.name, st);
  if (st.inFlight) return st.inFlight;
  if (st.last && !force && Date.now() - st.last.at.getTime() < FRESH_MS) return Promise.resolve(st.last);
  const run = (async (): Promise<RunOutcome> => {
    try {
      await p.run();
      return { at: new Date(), ok: true };
    } catch (err) {
      return {
        at: new Date(),
        ok: false,
        message: oneSentence(err instanceof Error ? err.message : String(err)),
      };
    }
  })().then((outcome) => {
    st.last = outcome;
    delete st.inFlight;
    return outcome;
  });
  st.inFlight = run;
  return run;
}

type RunRow = {
  asset_type: string | null;
  action: string | null;
  runbook: string | null;
  ok: boolean;
  at: Date;
  message: string | null;
};

/**
 * Every integration the caller may see. A scoped admin sees the runbook-reached systems their
 * asset types use (and only those runbooks); mail and sign-in belong to everyone's orders.
 */
export async function listIntegrations(
  req: FastifyRequest,
  opts: { probe?: boolean } = {},
): Promise<IntegrationView[]> {
  const { db, namespace, config, oidc } = req.server.deps;
  const res = resourcesOf(req.server.deps);
  const scope = await aclScopeFor(req);
  type RunbookSpec = { kerberos?: { principal?: string } };
  type AssetTypeSpec = { runbooks?: { provision?: string; modify?: string; deprovision?: string } };
  const [runbooks, assetTypes] = await Promise.all([
    res.list<RunbookSpec>("Runbook"),
    res.list<AssetTypeSpec>("AssetType"),
  ]);
  const runBy = runByOf(assetTypes);
  const visible = runbooks.filter((r) => runbookAccess(scope, runBy.get(r.metadata.name) ?? []) !== "hidden");
  const integrations = runbookIntegrations(
    visible.map((r) => ({
      name: r.metadata.name,
      labels: r.metadata.labels,
      kerberosPrincipal: r.spec.kerberos?.principal,
    })),
    assetTypes
      .filter((t) => scope.all || scope.types.has(t.metadata.name))
      .map((t) => ({ name: t.metadata.name, runbooks: t.spec.runbooks })),
  );

  // The newest success and the newest failure per (asset type, action) and per scheduled runbook.
  const { rows } = await db.query<RunRow>(
    `SELECT DISTINCT ON (asset_type, action, runbook, ok) asset_type, action, runbook, ok, at, message FROM (
       SELECT o.asset_type, o.action, NULL::text AS runbook, s.state = 'Succeeded' AS ok, s.finished_at AS at, s.message
         FROM step_runs s JOIN orders o ON o.uid = s.order_uid
        WHERE o.namespace = $1 AND s.finished_at IS NOT NULL AND s.state IN ('Succeeded', 'Failed')
       UNION ALL
       SELECT NULL, NULL, runbook, state = 'Succeeded', finished_at, reason
         FROM scheduled_runs WHERE namespace = $1
     ) runs
     ORDER BY asset_type, action, runbook, ok, at DESC`,
    [namespace],
  );
  const views: IntegrationView[] = integrations.map((i) => {
    const mine = rows.filter((r) =>
      r.runbook !== null
        ? i.runbooks.includes(r.runbook)
        : i.uses.some((u) => u.assetType === r.asset_type && u.action === r.action),
    );
    const newest = (ok: boolean) =>
      mine
        .filter((r) => r.ok === ok)
        .reduce<RunRow | undefined>((a, b) => (!a || b.at > a.at ? b : a), undefined);
    const s = newest(true);
    const f = newest(false);
    return {
      name: i.name,
      kind: i.source === "kerberos" ? "directory" : "runbook-target",
      target: i.source === "kerberos" ? i.name.slice("kerberos:".length) : i.name,
      health: healthOf(s && { at: s.at, ok: true }, f && { at: f.at, ok: false }),
      runbooks: i.runbooks,
      lastSuccessAt: s?.at ?? null,
      lastFailureAt: f?.at ?? null,
      lastError: f ? (oneSentence(f.message) ?? null) : null,
      probe: null,
    };
  });
  const probes = probesOf(config, oidc);
  const outcomes = await Promise.all(probes.map((p) => probed(req.server, p, opts.probe === true)));
  for (const [i, p] of probes.entries()) {
    const outcome = outcomes[i]!;
    views.push({
      name: p.name,
      kind: p.kind,
      target: p.target,
      health: healthOf(undefined, undefined, outcome),
      runbooks: [],
      lastSuccessAt: outcome.ok ? outcome.at : null,
      lastFailureAt: outcome.ok ? null : outcome.at,
      lastError: outcome.ok ? null : (outcome.message ?? null),
      probe: { at: outcome.at, ok: outcome.ok, message: outcome.message ?? null },
    });
  }
  return views;
}
