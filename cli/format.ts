// What the plugin prints (pure): kubectl's table layout (upper-case headers, columns three
// spaces apart, `<none>` for nothing), kubectl's AGE, step output lines, the leaver plan and the
// audit check. Takes the API's JSON and `now`; returns text.

/** The fields of the API's order view (api/orders OrderView) the plugin shows. */
export type OrderView = {
  name: string;
  namespace?: string;
  assetType: string;
  action: string;
  target?: string;
  requester: { id: string; email: string; displayName?: string; manager?: string };
  phase?: string;
  message?: string;
  approvals: { approver: string; decision: string; at: string; comment?: string }[];
  waitingFor?: { policy: string; approvers: string[]; needed: number };
  createdAt?: string;
};

/** One line of the API's step output (`GET /orders/:name/log`, record/step-output.ts). */
export type LogLine = {
  job: string;
  seq: number;
  ts: string;
  kind: string;
  step?: string;
  attempt?: number;
  stream?: string;
  text?: string;
  exitCode?: number;
  state?: string;
  message?: string;
};

export type LeaverPlan = {
  employee: { id: string; userName: string } | null;
  effectiveAt: string;
  wouldCancel: string[];
  wouldRevoke: { target: string; assetType: string; deprovisionOrder: string; alreadyQueued: boolean }[];
};

export type AuditVerification = {
  intact: boolean;
  message: string;
};

const NONE = "<none>";

/** Columns left-aligned, three spaces apart, no trailing spaces (kubectl's tabwriter). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

/** kubectl's AGE (k8s.io/apimachinery duration.HumanDuration): 45s, 3m20s, 5h, 12d, 2y30d. */
export function formatAge(from: Date, now: Date): string {
  const s = Math.floor((now.getTime() - from.getTime()) / 1000);
  if (Number.isNaN(s)) return NONE;
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / 24 / 365);
  if (h < 24 * 365 * 8) {
    const d = Math.floor(h / 24) % 365;
    return d === 0 ? `${y}y` : `${y}y${d}d`;
  }
  return `${y}y`;
}

/**
 * WAITING FOR: who has not approved yet: "a, b" (all of them), "a or b" (any one), "2 of a, b, c".
 * When the approvers left cannot meet the quorum (the policy asks more approvals than it lists
 * people other than the requester, or the requester is their own manager) it says so: the
 * order waits until it expires or is cancelled, whoever approves.
 */
export function formatWaitingFor(
  o: Pick<OrderView, "phase" | "waitingFor"> & { requester?: Pick<OrderView["requester"], "manager"> },
): string {
  const w = o.waitingFor;
  if (o.phase !== "PendingApproval" || !w) return NONE;
  if (w.policy === "Manager" && w.approvers.length === 0)
    return o.requester?.manager
      ? "unreachable: the requester is their own manager"
      : "nobody (the requester has no manager)";
  if (w.needed > w.approvers.length) {
    const more = `${w.needed} more approval${w.needed === 1 ? "" : "s"}`;
    const left = w.approvers.length;
    return left === 0
      ? `unreachable: needs ${more}, no approver left`
      : `unreachable: needs ${more}, only ${left} approver${left === 1 ? "" : "s"} left (${w.approvers.join(", ")})`;
  }
  if (w.needed === w.approvers.length) return w.approvers.join(", ");
  if (w.needed === 1) return w.approvers.join(" or ");
  return `${w.needed} of ${w.approvers.join(", ")}`;
}

export function formatOrders(
  orders: readonly OrderView[],
  opts: { wide: boolean; allNamespaces: boolean; now: Date },
): string {
  const headers = [
    ...(opts.allNamespaces ? ["NAMESPACE"] : []),
    "NAME",
    "ASSET TYPE",
    "FOR",
    "PHASE",
    "WAITING FOR",
    "AGE",
    ...(opts.wide ? ["ACTION", "TARGET", "MESSAGE"] : []),
  ];
  const rows = orders.map((o) => [
    ...(opts.allNamespaces ? [o.namespace ?? NONE] : []),
    o.name,
    o.assetType,
    o.requester.email,
    o.phase ?? NONE,
    formatWaitingFor(o),
    o.createdAt ? formatAge(new Date(o.createdAt), opts.now) : NONE,
    ...(opts.wide ? [o.action, o.target ?? NONE, oneLine(o.message) ?? NONE] : []),
  ]);
  return formatTable(headers, rows);
}

function oneLine(s: string | undefined): string | undefined {
  return stripControls(s)?.replace(/\s+/g, " ").trim() || undefined;
}

/**
 * Step output is written by runbook scripts: printed raw, an escape sequence in it would drive
 * the user's terminal (move the cursor, rewrite earlier lines, set the window title, on some
 * terminals more). Removes ANSI escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte
 * ESC sequences), then every other C0 and C1 control character and DEL except tab and newline.
 */
export function stripControls(s: string): string;
export function stripControls(s: string | undefined): string | undefined;
export function stripControls(s: string | undefined): string | undefined {
  return (
    s
      ?.replace(
        // eslint-disable-next-line no-control-regex
        /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\x20-\x2f]*[\x30-\x7e]?/g,
        "",
      )
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "")
  );
}

/**
 * One step-output line as text: output lines as the step wrote them, step starts and ends and
 * the run's end as marker lines.
 */
export function formatLogLine(l: LogLine): string {
  switch (l.kind) {
    case "line":
      return stripControls(l.text ?? "");
    case "step_start":
      return `==> step ${stripControls(l.step) ?? "?"}${l.attempt && l.attempt > 1 ? ` (attempt ${l.attempt})` : ""}`;
    case "step_end":
      return `<== step ${stripControls(l.step) ?? "?"}: ${stripControls(l.state) ?? "ended"}${l.exitCode !== undefined ? ` (exit ${l.exitCode})` : ""}${l.message ? `: ${oneLine(l.message)}` : ""}`;
    case "run_end":
      return `==> run ${stripControls(l.state) ?? "ended"}${l.message ? `: ${oneLine(l.message)}` : ""}`;
    default:
      return `${stripControls(l.kind)}${l.message ? `: ${oneLine(l.message)}` : ""}`;
  }
}

/** The header line before a Job's first output line. */
export function formatJobHeader(job: string): string {
  return `--- job ${stripControls(job)}`;
}

export function formatLeaverPlan(person: string, p: LeaverPlan): string {
  const who = p.employee
    ? `${p.employee.userName} (employee ${p.employee.id})`
    : `${person} (not in the directory)`;
  const out = [`Leaver plan for ${who}, effective ${p.effectiveAt} (dry run: nothing was changed)`, ""];
  out.push(`Would cancel ${p.wouldCancel.length} pending order(s)${p.wouldCancel.length ? ":" : "."}`);
  if (p.wouldCancel.length)
    out.push(
      indent(
        formatTable(
          ["ORDER"],
          p.wouldCancel.map((n) => [n]),
        ),
      ),
    );
  out.push("");
  out.push(`Would revoke ${p.wouldRevoke.length} asset(s)${p.wouldRevoke.length ? ":" : "."}`);
  if (p.wouldRevoke.length) {
    out.push(
      indent(
        formatTable(
          ["ORDER", "ASSET TYPE", "DEPROVISION ORDER", "ALREADY QUEUED"],
          p.wouldRevoke.map((r) => [
            r.target,
            r.assetType,
            r.deprovisionOrder,
            r.alreadyQueued ? "yes" : "no",
          ]),
        ),
      ),
    );
  }
  return out.join("\n");
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

export function formatVerification(v: AuditVerification): string {
  return v.intact ? `audit chain ${v.message}` : `audit chain broken: ${v.message}`;
}
