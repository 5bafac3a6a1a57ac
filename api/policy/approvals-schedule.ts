// When an open approval request gets a reminder, an escalation or expires (issue #17). Pure:
// the scheduler (api/notify/scheduler.ts) gathers the request's state from Postgres and the
// AssetType's `spec.approval`, passes `now`, and applies the one action this returns.

/** What an IT department would choose unless the asset type says otherwise (documented in the CRD). */
export const APPROVAL_TIMING_DEFAULTS = {
  remindAfter: "24h",
  maxReminders: 3,
  escalateAfter: "72h",
  expireAfter: "336h",
} as const;

export type ApprovalTimingSpec = {
  remindAfter?: string | undefined;
  maxReminders?: number | undefined;
  escalateAfter?: string | undefined;
  expireAfter?: string | undefined;
};
export type ApprovalTiming = {
  remindAfterMs: number;
  maxReminders: number;
  escalateAfterMs: number;
  expireAfterMs: number;
};

const DURATION = /^(?:(\d{1,4})d)?(?:(\d{1,4})h)?(?:(\d{1,4})m)?$/;

/** "1d12h30m" → milliseconds; undefined for anything else (the CRD's pattern refuses it first). */
export function parseDuration(s: string): number | undefined {
  const m = DURATION.exec(s.trim());
  if (!m || s.trim() === "") return undefined;
  const [d, h, min] = [m[1], m[2], m[3]].map((x) => Number(x ?? 0)) as [number, number, number];
  const ms = ((d * 24 + h) * 60 + min) * 60_000;
  return ms > 0 ? ms : undefined;
}

export function timingOf(spec: ApprovalTimingSpec): ApprovalTiming {
  const d = (v: string | undefined, dflt: string) => parseDuration(v ?? dflt) ?? parseDuration(dflt)!;
  return {
    remindAfterMs: d(spec.remindAfter, APPROVAL_TIMING_DEFAULTS.remindAfter),
    maxReminders: spec.maxReminders ?? APPROVAL_TIMING_DEFAULTS.maxReminders,
    escalateAfterMs: d(spec.escalateAfter, APPROVAL_TIMING_DEFAULTS.escalateAfter),
    expireAfterMs: d(spec.expireAfter, APPROVAL_TIMING_DEFAULTS.expireAfter),
  };
}

export type RequestState = {
  requestedAt: Date;
  remindersSent: number;
  lastNotifiedAt: Date;
  escalatedAt: Date | undefined;
};

export type ScheduleAction =
  | { kind: "Expire"; message: string }
  | { kind: "Escalate" }
  | { kind: "Remind"; number: number }
  | { kind: "Wait"; until: Date };

/**
 * The next thing to do for one open request, at most one per call (the scheduler calls again
 * on its next tick): expiry first, then escalation, then a reminder, else when to look again.
 */
export function planApprovalRequest(s: RequestState, t: ApprovalTiming, now: Date): ScheduleAction {
  const at = now.getTime();
  const expiresAt = s.requestedAt.getTime() + t.expireAfterMs;
  if (at >= expiresAt) {
    return {
      kind: "Expire",
      message: `no decision within ${formatDuration(t.expireAfterMs)} (requested ${s.requestedAt.toISOString()})`,
    };
  }
  const escalateAt = s.requestedAt.getTime() + t.escalateAfterMs;
  if (s.escalatedAt === undefined && at >= escalateAt) return { kind: "Escalate" };
  const remindAt = s.lastNotifiedAt.getTime() + t.remindAfterMs;
  if (s.remindersSent < t.maxReminders && at >= remindAt) {
    return { kind: "Remind", number: s.remindersSent + 1 };
  }
  const next = [expiresAt, ...(s.escalatedAt === undefined ? [escalateAt] : [])];
  if (s.remindersSent < t.maxReminders) next.push(remindAt);
  return { kind: "Wait", until: new Date(Math.min(...next)) };
}

/** When the request expires (links minted for it expire with it). */
export function expiryOf(requestedAt: Date, t: ApprovalTiming): Date {
  return new Date(requestedAt.getTime() + t.expireAfterMs);
}

export function formatDuration(ms: number): string {
  const m = Math.round(ms / 60_000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  return [d ? `${d}d` : "", h ? `${h}h` : "", min ? `${min}m` : ""].join("") || "0m";
}
