import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkThresholds,
  costLines,
  formatCents,
  groupCost,
  localDay,
  monthOf,
  orderCostLines,
  parseAmount,
} from "./cost.ts";

const TZ = "Europe/Berlin";
const laptop = { amountPerMonth: "28.00", currency: "EUR", costCenter: "CC-100" };

test("Berlin month bounds: winter +01:00, summer +02:00, a March of 743 hours", () => {
  const feb = monthOf(new Date("2026-02-15T12:00:00Z"), TZ);
  assert.equal(feb.start.toISOString(), "2026-01-31T23:00:00.000Z");
  assert.equal(feb.end.toISOString(), "2026-02-28T23:00:00.000Z");
  const mar = monthOf(new Date("2026-03-15T12:00:00Z"), TZ);
  assert.equal(mar.end.toISOString(), "2026-03-31T22:00:00.000Z");
  assert.equal((mar.end.getTime() - mar.start.getTime()) / 3600_000, 743);
  // 23:30 UTC on 31 January is already February in Berlin.
  assert.equal(monthOf(new Date("2026-01-31T23:30:00Z"), TZ).key, "2026-02");
  assert.equal(localDay(new Date("2026-01-31T23:30:00Z"), TZ), "2026-02-01");
});

test("hand-computed: provisioned 2026-01-31 23:30 UTC (= 1 Feb 00:30 Berlin), revoked 2026-03-02 12:00 UTC", () => {
  const o = {
    name: "laptop-anna",
    assetType: "laptop",
    user: "anna@example.com",
    provisionedAt: new Date("2026-01-31T23:30:00Z"),
    revokedAt: new Date("2026-03-02T12:00:00Z"),
  };
  const lines = orderCostLines(
    o,
    laptop,
    { from: new Date("2026-01-01T00:00:00Z"), to: new Date("2026-06-01T00:00:00Z") },
    new Date("2026-06-01T00:00:00Z"),
    TZ,
  );
  // January (Berlin): nothing, it was February there already.
  // February: 28 days minus 30 min = 2,417,400 s of 2,419,200 s → 28 × 0.999256 = 27.97917 → 27.98
  // March: 28 Feb 23:00 UTC → 2 Mar 12:00 UTC = 37 h of 743 h → 28 × 37/743 = 1.39435 → 1.39
  assert.deepEqual(
    lines.map((l) => [l.month, l.heldMs / 1000, l.monthMs / 1000, formatCents(l.cents)]),
    [
      ["2026-02", 2_417_400, 2_419_200, "27.98"],
      ["2026-03", 133_200, 2_674_800, "1.39"],
    ],
  );
  // In UTC it would have been 30 minutes of January: the zone matters.
  const utc = orderCostLines(
    o,
    laptop,
    { from: new Date(0), to: new Date("2026-06-01T00:00:00Z") },
    new Date("2026-06-01T00:00:00Z"),
    "UTC",
  );
  assert.deepEqual(
    utc.map((l) => [l.month, formatCents(l.cents)]),
    [
      ["2026-01", "0.02"], // 28 × 1800 s / 2,678,400 s = 0.0188 → 0.02
      ["2026-02", "28.00"],
      ["2026-03", "1.35"], // 28 × 36 h / 744 h = 1.3548 → 1.35
    ],
  );
});

test("held to now; windows clip; groups add up to their lines", () => {
  const now = new Date("2026-02-14T23:00:00Z"); // 15 Feb 00:00 Berlin: 14 days of 28
  const orders = [
    {
      name: "a",
      assetType: "laptop",
      user: "anna",
      provisionedAt: new Date("2026-01-31T23:00:00Z"),
      revokedAt: null,
    },
    {
      name: "b",
      assetType: "laptop",
      user: "bob",
      provisionedAt: new Date("2026-01-31T23:00:00Z"),
      revokedAt: null,
    },
    {
      name: "c",
      assetType: "seat",
      user: "anna",
      provisionedAt: new Date("2026-01-31T23:00:00Z"),
      revokedAt: null,
    },
    {
      name: "x",
      assetType: "gone",
      user: "anna",
      provisionedAt: new Date("2026-01-31T23:00:00Z"),
      revokedAt: null,
    },
  ];
  const costs = new Map([
    ["laptop", laptop],
    ["seat", { amountPerMonth: "10.005", currency: "EUR", costCenter: "CC-200" }],
  ]);
  const { lines, unpriced } = costLines(orders, costs, { from: new Date(0), to: now }, now, TZ);
  assert.deepEqual(unpriced, ["x"]);
  assert.deepEqual(
    lines.map((l) => [l.order, formatCents(l.cents)]),
    [
      ["a", "14.00"],
      ["b", "14.00"],
      ["c", "5.00"], // 10.005 / 2 = 5.0025 → 5.00
    ],
  );
  assert.deepEqual(groupCost(lines, ["costCenter"]), [
    { costCenter: "CC-100", currency: "EUR", amount: "28.00", orders: 2 },
    { costCenter: "CC-200", currency: "EUR", amount: "5.00", orders: 1 },
  ]);
  assert.deepEqual(groupCost(lines, ["user", "month"]), [
    { user: "anna", month: "2026-02", currency: "EUR", amount: "19.00", orders: 2 },
    { user: "bob", month: "2026-02", currency: "EUR", amount: "14.00", orders: 1 },
  ]);
});

test("threshold: month-to-date and linear projection", () => {
  const now = new Date("2026-02-14T23:00:00Z"); // half of February (Berlin)
  const orders = [
    {
      name: "a",
      assetType: "laptop",
      user: "anna",
      provisionedAt: new Date("2026-01-31T23:00:00Z"),
      revokedAt: null,
    },
  ];
  const costs = new Map([["laptop", laptop]]);
  const f = checkThresholds(
    orders,
    costs,
    [
      { costCenter: "CC-100", amount: "20.00", currency: "EUR" }, // mtd 14 ≤ 20, projected 28 > 20
      { costCenter: "CC-100", amount: "30.00", currency: "EUR" },
      { costCenter: "CC-100", amount: "10.00", currency: "USD" }, // other currency: nothing counted
    ],
    now,
    TZ,
  );
  assert.deepEqual(
    f.map((x) => [x.threshold, x.monthToDate, x.projected, x.exceeded, x.day]),
    [
      ["20.00", "14.00", "28.00", true, "2026-02-15"],
      ["30.00", "14.00", "28.00", false, "2026-02-15"],
      ["10.00", "0.00", "0.00", false, "2026-02-15"],
    ],
  );
});

test("amount parsing is exact", () => {
  assert.equal(parseAmount("12.50"), 12_500_000n);
  assert.equal(parseAmount("0.000001"), 1n);
  assert.throws(() => parseAmount("12,50"));
  assert.equal(formatCents(5n), "0.05");
});
