import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseLang, langOfAcceptLanguage, translator } from "./i18n.ts";
import { formatDate, formatMoney, formatRelative, leaseMonths, phaseName } from "./format.ts";

test("Accept-Language by q value, primary subtag, unsupported skipped", () => {
  assert.equal(langOfAcceptLanguage("fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7"), "de");
  assert.equal(langOfAcceptLanguage("en-US,en;q=0.9"), "en");
  assert.equal(langOfAcceptLanguage("de;q=0, en;q=0.1"), "en");
  assert.equal(langOfAcceptLanguage("fr"), undefined);
  assert.equal(langOfAcceptLanguage(undefined), undefined);
});

test("the switch beats SCIM preferredLanguage, which beats the browser", () => {
  assert.equal(chooseLang({ cookie: "en", preferred: "de-DE", acceptLanguage: "de" }), "en");
  assert.equal(chooseLang({ preferred: "de-DE", acceptLanguage: "en" }), "de");
  assert.equal(chooseLang({ cookie: "xx", preferred: "fr", acceptLanguage: "de-AT" }), "de");
  assert.equal(chooseLang({}), "en");
});

test("messages fill their variables in both languages", () => {
  assert.equal(translator("en")("nav.count.open", { n: 2 }), "2 open");
  assert.equal(translator("de")("nav.count.open", { n: 2 }), "2 offen");
});

test("dates read like 3 Dec 2026, 14:05 in the installation's zone", () => {
  const d = "2026-12-03T13:05:00Z";
  assert.equal(formatDate(d, { lang: "en", timeZone: "Europe/Berlin" }), "3 Dec 2026, 14:05");
  assert.equal(formatDate(d, { lang: "de", timeZone: "Europe/Berlin" }), "3. Dez. 2026, 14:05");
  assert.equal(formatDate(d, { lang: "en" }), "3 Dec 2026, 13:05");
  const now = new Date("2026-12-03T16:05:00Z");
  assert.equal(formatRelative(d, now, "en"), "3 hours ago");
  assert.equal(formatRelative(d, now, "de"), "vor 3 Stunden");
});

test("money, lease months and phases in words", () => {
  assert.equal(formatMoney("12.50", "EUR", "en"), "€12.50");
  assert.equal(formatMoney("12.50", "EUR", "de"), "12,50\u00a0€");
  assert.equal(leaseMonths("720h"), 1);
  assert.equal(leaseMonths("8640h"), 12);
  assert.equal(leaseMonths(undefined), undefined);
  const t = translator("en");
  assert.equal(phaseName(t, "PendingApproval"), "Waiting for approval");
  assert.equal(phaseName(t, "Processing", "Deprovision"), "Being removed");
  assert.equal(phaseName(t, undefined), "Received");
});
