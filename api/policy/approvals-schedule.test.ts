import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDuration, planApprovalRequest, timingOf, type RequestState } from "./approvals-schedule.ts";

const H = 3600_000;
const t0 = new Date("2026-12-01T09:00:00Z");
const at = (h: number) => new Date(t0.getTime() + h * H);

test("durations: days, hours, minutes; nothing else", () => {
  assert.equal(parseDuration("24h"), 24 * H);
  assert.equal(parseDuration("1d12h30m"), 36.5 * H);
  assert.equal(parseDuration("90m"), 1.5 * H);
  for (const bad of ["", "0h", "h", "24", "1w", "-1h", "1h1d"])
    assert.equal(parseDuration(bad), undefined, bad);
});

test("defaults: remind daily up to 3 times, escalate after 3 days, expire after 14 days", () => {
  assert.deepEqual(timingOf({}), {
    remindAfterMs: 24 * H,
    maxReminders: 3,
    escalateAfterMs: 72 * H,
    expireAfterMs: 336 * H,
  });
});

const t = timingOf({ remindAfter: "24h", maxReminders: 2, escalateAfter: "60h", expireAfter: "5d" });
const st = (over: Partial<RequestState> = {}): RequestState => ({
  requestedAt: t0,
  remindersSent: 0,
  lastNotifiedAt: t0,
  escalatedAt: undefined,
  ...over,
});
const cases: { name: string; s: RequestState; now: Date; want: string }[] = [
  { name: "fresh request waits", s: st(), now: at(1), want: "Wait" },
  { name: "a day without decision → reminder 1", s: st(), now: at(24), want: "Remind:1" },
  {
    name: "reminded at 24h, 47h → waits",
    s: st({ remindersSent: 1, lastNotifiedAt: at(24) }),
    now: at(47),
    want: "Wait",
  },
  {
    name: "reminded at 24h, 48h → reminder 2",
    s: st({ remindersSent: 1, lastNotifiedAt: at(24) }),
    now: at(48),
    want: "Remind:2",
  },
  {
    name: "max reminders reached → no third",
    s: st({ remindersSent: 2, lastNotifiedAt: at(48) }),
    now: at(59),
    want: "Wait",
  },
  {
    name: "60h → escalate",
    s: st({ remindersSent: 2, lastNotifiedAt: at(48) }),
    now: at(60),
    want: "Escalate",
  },
  {
    name: "escalated once only",
    s: st({ remindersSent: 2, lastNotifiedAt: at(60), escalatedAt: at(60) }),
    now: at(100),
    want: "Wait",
  },
  { name: "5 days → expire (before anything else)", s: st(), now: at(120), want: "Expire" },
];
for (const c of cases) {
  test(c.name, () => {
    const a = planApprovalRequest(c.s, t, c.now);
    assert.equal(a.kind === "Remind" ? `Remind:${a.number}` : a.kind, c.want);
  });
}

test("Wait says when to look again: the earliest of reminder, escalation, expiry", () => {
  const a = planApprovalRequest(st(), t, at(1));
  assert.equal(a.kind, "Wait");
  if (a.kind === "Wait") assert.equal(a.until.toISOString(), at(24).toISOString());
});
