// Pure cost arithmetic. An asset costs its AssetType's amountPerMonth for each calendar month
// it is held, prorated by the time held in that month: held seconds (millisecond resolution)
// ÷ the month's length, both measured in the reporting time zone (default Europe/Berlin), so a
// month with a DST change has 743 or 745 hours and a day is where the user's calendar says.
// Money is exact: integer micro-units, each (order, month) line rounded half-up to cents, and
// totals are sums of those rounded lines (so a report adds up to its own lines).

export const DEFAULT_TIME_ZONE = "Europe/Berlin";

export type AssetCost = { amountPerMonth: string; currency: string; costCenter: string };

export type HeldOrder = {
  name: string;
  assetType: string;
  user: string;
  provisionedAt: Date;
  /** null: still held. */
  revokedAt: Date | null;
};

export type CostLine = {
  order: string;
  assetType: string;
  costCenter: string;
  user: string;
  currency: string;
  /** `YYYY-MM` in the reporting time zone. */
  month: string;
  heldMs: number;
  monthMs: number;
  cents: bigint;
};

const MICRO = 1_000_000n;

/** "12.50" → 12_500_000n micro-units. Up to 6 decimals; anything else is a bug upstream (the CRD validates it). */
export function parseAmount(s: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(s.trim());
  if (!m) throw new Error(`not a decimal amount: ${s}`);
  return BigInt(m[1]!) * MICRO + BigInt((m[2] ?? "").padEnd(6, "0"));
}

/** Cents → "1234.56" (negative never occurs). */
export function formatCents(c: bigint): string {
  const s = c.toString().padStart(3, "0");
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** Round half-up of n/d for non-negative bigints. */
function divRound(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Wall-clock fields of an instant in a time zone. */
export function localParts(
  at: Date,
  tz: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const p: Record<string, number> = {};
  for (const x of formatter(tz).formatToParts(at)) if (x.type !== "literal") p[x.type] = Number(x.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

/** The zone's offset from UTC at an instant, in ms (Berlin winter: +3_600_000). */
function offsetMs(at: Date, tz: string): number {
  const l = localParts(at, tz);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/** The instant of local midnight on a calendar day in a zone (midnight exists in every zone we serve). */
export function localMidnight(year: number, month: number, day: number, tz: string): Date {
  const guess = Date.UTC(year, month - 1, day);
  const first = guess - offsetMs(new Date(guess), tz);
  const second = guess - offsetMs(new Date(first), tz);
  return new Date(second);
}

export function monthStart(year: number, month: number, tz: string): Date {
  return localMidnight(year, month, 1, tz);
}

function nextMonth(year: number, month: number): [number, number] {
  return month === 12 ? [year + 1, 1] : [year, month + 1];
}

export function monthKey(year: number, month: number): string {
  return `${year}-${String(month).padStart(2, "0")}`;
}

/** The calendar month (in `tz`) an instant falls in, with its bounds. */
export function monthOf(at: Date, tz: string): { key: string; start: Date; end: Date } {
  const l = localParts(at, tz);
  const [ny, nm] = nextMonth(l.year, l.month);
  return {
    key: monthKey(l.year, l.month),
    start: monthStart(l.year, l.month, tz),
    end: monthStart(ny, nm, tz),
  };
}

/** The reporting day (`YYYY-MM-DD` in `tz`) of an instant: the once-per-day alert key. */
export function localDay(at: Date, tz: string): string {
  const l = localParts(at, tz);
  return `${monthKey(l.year, l.month)}-${String(l.day).padStart(2, "0")}`;
}

/**
 * Cost lines of one order within [from, to) (and never past `now`): one per calendar month in
 * which it was held.
 */
export function orderCostLines(
  o: HeldOrder,
  cost: AssetCost,
  window: { from: Date; to: Date },
  now: Date,
  tz: string = DEFAULT_TIME_ZONE,
): CostLine[] {
  const start = Math.max(o.provisionedAt.getTime(), window.from.getTime());
  const end = Math.min(o.revokedAt?.getTime() ?? Infinity, window.to.getTime(), now.getTime());
  if (!(end > start)) return [];
  const amount = parseAmount(cost.amountPerMonth);
  const lines: CostLine[] = [];
  let m = monthOf(new Date(start), tz);
  while (m.start.getTime() < end) {
    const a = Math.max(start, m.start.getTime());
    const b = Math.min(end, m.end.getTime());
    if (b > a) {
      const monthMs = m.end.getTime() - m.start.getTime();
      const heldMs = b - a;
      lines.push({
        order: o.name,
        assetType: o.assetType,
        costCenter: cost.costCenter,
        user: o.user,
        currency: cost.currency,
        month: m.key,
        heldMs,
        monthMs,
        // micro × held/month, then micro → cents, rounded once.
        cents: divRound(amount * BigInt(heldMs), BigInt(monthMs) * 10_000n),
      });
    }
    m = monthOf(m.end, tz);
  }
  return lines;
}

/** Lines of many orders; orders whose AssetType is unknown (deleted) are returned apart. */
export function costLines(
  orders: readonly HeldOrder[],
  costs: ReadonlyMap<string, AssetCost>,
  window: { from: Date; to: Date },
  now: Date,
  tz: string = DEFAULT_TIME_ZONE,
): { lines: CostLine[]; unpriced: string[] } {
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  for (const o of orders) {
    const c = costs.get(o.assetType);
    if (!c) unpriced.push(o.name);
    else lines.push(...orderCostLines(o, c, window, now, tz));
  }
  return { lines, unpriced };
}

export const GROUP_KEYS = ["costCenter", "assetType", "user", "month"] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export type ReportRow = Partial<Record<GroupKey, string>> & {
  currency: string;
  amount: string;
  orders: number;
};

/** Sums lines by the chosen keys (always also by currency: amounts in different currencies never add). */
export function groupCost(lines: readonly CostLine[], groupBy: readonly GroupKey[]): ReportRow[] {
  const groups = new Map<
    string,
    { key: Partial<Record<GroupKey, string>>; currency: string; cents: bigint; orders: Set<string> }
  >();
  for (const l of lines) {
    const key: Partial<Record<GroupKey, string>> = {};
    for (const g of groupBy) key[g] = l[g];
    const id = JSON.stringify([groupBy.map((g) => l[g]), l.currency]);
    const cur = groups.get(id) ?? { key, currency: l.currency, cents: 0n, orders: new Set<string>() };
    cur.cents += l.cents;
    cur.orders.add(l.order);
    groups.set(id, cur);
  }
  return [...groups.values()]
    .map((g) => ({ ...g.key, currency: g.currency, amount: formatCents(g.cents), orders: g.orders.size }))
    .sort((a, b) => {
      for (const k of [...groupBy, "currency"] as const) {
        const x = (k === "currency" ? a.currency : a[k]) ?? "";
        const y = (k === "currency" ? b.currency : b[k]) ?? "";
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    });
}

export type Threshold = { costCenter: string; amount: string; currency: string };

export type ThresholdFinding = {
  costCenter: string;
  currency: string;
  threshold: string;
  monthToDate: string;
  projected: string;
  month: string;
  day: string;
  exceeded: boolean;
};

/**
 * Month-to-date and projected spend per cost centre with a threshold. Projected is linear: each
 * asset held now is assumed held to the month's end (its cost for the whole remaining month),
 * revoked ones count what they cost. Exceeded when either figure is above the threshold.
 */
export function checkThresholds(
  orders: readonly HeldOrder[],
  costs: ReadonlyMap<string, AssetCost>,
  thresholds: readonly Threshold[],
  now: Date,
  tz: string = DEFAULT_TIME_ZONE,
): ThresholdFinding[] {
  const m = monthOf(now, tz);
  const mtd = costLines(orders, costs, { from: m.start, to: m.end }, now, tz).lines;
  const projected = costLines(orders, costs, { from: m.start, to: m.end }, m.end, tz).lines;
  const sum = (lines: CostLine[], cc: string, cur: string) =>
    lines.filter((l) => l.costCenter === cc && l.currency === cur).reduce((s, l) => s + l.cents, 0n);
  return thresholds.map((t) => {
    const limit = parseAmount(t.amount) / 10_000n;
    const a = sum(mtd, t.costCenter, t.currency);
    const p = sum(projected, t.costCenter, t.currency);
    return {
      costCenter: t.costCenter,
      currency: t.currency,
      threshold: formatCents(limit),
      monthToDate: formatCents(a),
      projected: formatCents(p),
      month: m.key,
      day: localDay(now, tz),
      exceeded: a > limit || p > limit,
    };
  });
}
