// Readable values for pages: dates as "3 Dec 2026, 14:05" (and "2 hours ago" where the age
// matters), money as "€12.50", phases and step states in words. Pure: `now` is passed in.
import type { Lang, Translate } from "./i18n.ts";

const LOCALE: Record<Lang, string> = { en: "en-GB", de: "de-DE" };

/** The time zone dates are shown in (one per installation; UTC unless configured). */
export type DateOpts = { lang: Lang; timeZone?: string | undefined };

export function formatDate(d: Date | string | undefined, o: DateOpts): string {
  if (d === undefined) return "";
  const date = typeof d === "string" ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(LOCALE[o.lang], {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: o.timeZone ?? "UTC",
  }).format(date);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400_000],
  ["month", 30 * 86400_000],
  ["week", 7 * 86400_000],
  ["day", 86400_000],
  ["hour", 3600_000],
  ["minute", 60_000],
];

/** "3 hours ago", "in 2 days", "now" (the largest whole unit). */
export function formatRelative(d: Date | string | undefined, now: Date, lang: Lang): string {
  if (d === undefined) return "";
  const date = typeof d === "string" ? new Date(d) : d;
  const diff = date.getTime() - now.getTime();
  const rtf = new Intl.RelativeTimeFormat(LOCALE[lang], { numeric: "auto" });
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return rtf.format(Math.trunc(diff / ms), unit);
  }
  return rtf.format(0, "minute");
}

/** Cost amounts are decimal strings in the CRD ("12.50"); shown with the currency. */
export function formatMoney(amount: string | number, currency: string, lang: Lang): string {
  const n = typeof amount === "number" ? amount : Number(amount);
  if (!Number.isFinite(n)) return `${amount} ${currency}`;
  try {
    return new Intl.NumberFormat(LOCALE[lang], { style: "currency", currency }).format(n);
  } catch (err) {
    // An ISO code Intl does not know: the plain figure and code, not a failed page.
    if (err instanceof RangeError) return `${n.toFixed(2)} ${currency}`;
    throw err;
  }
}

/** Months in a Go duration lease ("720h" = 1 month of 30 days), rounded to a whole month ≥ 1. */
export function leaseMonths(duration: string | undefined): number | undefined {
  if (!duration) return undefined;
  let seconds = 0;
  for (const m of duration.matchAll(/([0-9]+)(h|m|s)/g)) {
    const v = Number(m[1]);
    seconds += m[2] === "h" ? v * 3600 : m[2] === "m" ? v * 60 : v;
  }
  if (seconds === 0) return undefined;
  return Math.max(1, Math.round(seconds / (30 * 86400)));
}

export type PhaseKey =
  "New" | "PendingApproval" | "Scheduled" | "Processing" | "Provisioned" | "Failed" | "Cancelled" | "Revoked";

/** A phase in words, e.g. "Waiting for approval"; a return being processed reads "Being removed". */
export function phaseName(t: Translate, phase: string | undefined, action?: string): string {
  const p = (phase ?? "New") as PhaseKey;
  if (action === "Deprovision" && p === "Processing") return t("phase.Deprovision.Processing");
  const known = [
    "New",
    "PendingApproval",
    "Scheduled",
    "Processing",
    "Provisioned",
    "Failed",
    "Cancelled",
    "Revoked",
  ];
  return known.includes(p) ? t(`phase.${p}`) : p;
}

/** CSS class of a phase badge (colour + icon shape, never colour alone: the words are shown too). */
export function phaseTone(phase: string | undefined): "ok" | "wait" | "bad" | "off" {
  switch (phase) {
    case "Provisioned":
      return "ok";
    case "Failed":
      return "bad";
    case "Cancelled":
    case "Revoked":
      return "off";
    default:
      return "wait";
  }
}
