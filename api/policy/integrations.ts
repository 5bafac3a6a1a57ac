// Which outside systems the catalogue's runbooks reach (issue #22, integration health), and how
// healthy each looks from its runs. Pure: the service (api/integrations/service.ts) brings the
// Runbooks, AssetTypes and run records. A runbook names its system with the label
// `ipsolis.io/integration` (e.g. `entra`, `ad-corp`); without it, a runbook with a Kerberos
// identity reaches the directory of its principal's realm (`kerberos:CORP.EXAMPLE`).
export const INTEGRATION_LABEL = "ipsolis.io/integration";

export type RunbookFacts = {
  name: string;
  labels?: Readonly<Record<string, string>> | undefined;
  kerberosPrincipal?: string | undefined;
};
export type AssetTypeFacts = {
  name: string;
  runbooks?: { provision?: string; modify?: string; deprovision?: string } | undefined;
};

export type RunbookIntegration = {
  name: string;
  /** How the name was found: the runbook's label, or its Kerberos realm. */
  source: "label" | "kerberos";
  runbooks: string[];
  /** The (asset type, order action) pairs whose runs reach it. */
  uses: { assetType: string; action: "Provision" | "Modify" | "Deprovision" }[];
};

const ACTIONS = { provision: "Provision", modify: "Modify", deprovision: "Deprovision" } as const;

/** The integration one runbook reaches, if any. */
export function integrationOf(r: RunbookFacts): { name: string; source: "label" | "kerberos" } | undefined {
  const label = r.labels?.[INTEGRATION_LABEL]?.trim();
  if (label) return { name: label, source: "label" };
  const at = r.kerberosPrincipal?.lastIndexOf("@") ?? -1;
  if (r.kerberosPrincipal && at >= 0 && at < r.kerberosPrincipal.length - 1)
    return { name: `kerberos:${r.kerberosPrincipal.slice(at + 1).toUpperCase()}`, source: "kerberos" };
  return undefined;
}

/** Every integration the runbooks reach, with the runbooks and the asset-type actions using them. */
export function runbookIntegrations(
  runbooks: readonly RunbookFacts[],
  assetTypes: readonly AssetTypeFacts[],
): RunbookIntegration[] {
  const byName = new Map<string, RunbookIntegration>();
  const ofRunbook = new Map<string, RunbookIntegration>();
  for (const r of runbooks) {
    const i = integrationOf(r);
    if (!i) continue;
    const entry = byName.get(i.name) ?? { name: i.name, source: i.source, runbooks: [], uses: [] };
    entry.runbooks.push(r.name);
    byName.set(i.name, entry);
    ofRunbook.set(r.name, entry);
  }
  for (const t of assetTypes) {
    for (const [key, action] of Object.entries(ACTIONS) as [
      keyof typeof ACTIONS,
      (typeof ACTIONS)[keyof typeof ACTIONS],
    ][]) {
      const rb = t.runbooks?.[key];
      const entry = rb ? ofRunbook.get(rb) : undefined;
      if (entry) entry.uses.push({ assetType: t.name, action });
    }
  }
  for (const e of byName.values()) {
    e.runbooks.sort();
    e.uses.sort((a, b) => a.assetType.localeCompare(b.assetType) || a.action.localeCompare(b.action));
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export type RunOutcome = { at: Date; ok: boolean; message?: string | undefined };
export type Health = "healthy" | "failing" | "unknown";

/**
 * One sentence of health from the newest success, the newest failure and an active probe: the
 * newer evidence wins (a probe or run that succeeded after the last failure means it is back).
 */
export function healthOf(lastSuccess?: RunOutcome, lastFailure?: RunOutcome, probe?: RunOutcome): Health {
  const evidence = [lastSuccess, lastFailure, probe].filter((x): x is RunOutcome => x !== undefined);
  if (evidence.length === 0) return "unknown";
  const newest = evidence.reduce((a, b) => (b.at.getTime() > a.at.getTime() ? b : a));
  return newest.ok ? "healthy" : "failing";
}

/** The first line of an error, at most 300 characters: "the last error in one sentence". */
export function oneSentence(message: string | null | undefined): string | undefined {
  const line = message
    ?.split("\n")
    .find((l) => l.trim() !== "")
    ?.trim();
  if (!line) return undefined;
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** Where a leaver's reclaim stands in one outside system (the leaver report's `systems`). */
export type SystemProgress = {
  /** The integration the deprovision runbook reaches, or `runbook:<name>` when it names none. */
  name: string;
  /** reached: every asset in it was taken back; pendingRetry: one failed or was cancelled; else inProgress. */
  state: "reached" | "inProgress" | "pendingRetry";
  assets: number;
  revoked: number;
  inProgress: number;
  failed: number;
};

/**
 * Per outside system, how far a leaver's deprovisions got: which systems were reached and which
 * are pending a retry (a failing directory does not hold up the others, and the report says so).
 * `systemOf` maps an asset type to the system its deprovision runbook reaches.
 */
export function leaverSystems(
  assets: readonly {
    assetType: string;
    outcome: "queued" | "inProgress" | "revoked" | "failed" | "cancelled";
  }[],
  systemOf: ReadonlyMap<string, string>,
): SystemProgress[] {
  const by = new Map<string, SystemProgress>();
  for (const a of assets) {
    const name = systemOf.get(a.assetType) ?? `assettype:${a.assetType}`;
    const s = by.get(name) ?? { name, state: "reached", assets: 0, revoked: 0, inProgress: 0, failed: 0 };
    s.assets++;
    if (a.outcome === "revoked") s.revoked++;
    else if (a.outcome === "failed" || a.outcome === "cancelled") s.failed++;
    else s.inProgress++;
    s.state = s.failed > 0 ? "pendingRetry" : s.inProgress > 0 ? "inProgress" : "reached";
    by.set(name, s);
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Asset type → the system its deprovision runbook reaches (label or Kerberos realm), else `runbook:<name>`. */
export function deprovisionSystems(
  runbooks: readonly RunbookFacts[],
  assetTypes: readonly AssetTypeFacts[],
): Map<string, string> {
  const rb = new Map(runbooks.map((r) => [r.name, r]));
  const out = new Map<string, string>();
  for (const t of assetTypes) {
    const name = t.runbooks?.deprovision;
    if (!name) continue;
    const r = rb.get(name);
    out.set(t.name, (r && integrationOf(r)?.name) ?? `runbook:${name}`);
  }
  return out;
}
