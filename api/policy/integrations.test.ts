import { test } from "node:test";
import assert from "node:assert/strict";
import { healthOf, integrationOf, oneSentence, runbookIntegrations } from "./integrations.ts";

test("a runbook's integration: its label wins, else its Kerberos realm, else none", () => {
  assert.deepEqual(
    integrationOf({ name: "a", labels: { "ipsolis.io/integration": "entra" }, kerberosPrincipal: "x@R" }),
    {
      name: "entra",
      source: "label",
    },
  );
  assert.deepEqual(integrationOf({ name: "a", kerberosPrincipal: "svc@corp.example.com" }), {
    name: "kerberos:CORP.EXAMPLE.COM",
    source: "kerberos",
  });
  assert.equal(integrationOf({ name: "a", kerberosPrincipal: "svc@" }), undefined);
  assert.equal(integrationOf({ name: "a", labels: { "ipsolis.io/integration": " " } }), undefined);
});

test("runbooks group by integration, with the asset-type actions that run them", () => {
  const out = runbookIntegrations(
    [
      { name: "ad-revoke", kerberosPrincipal: "s@R" },
      { name: "ad-grant", kerberosPrincipal: "s@r" },
      { name: "plain" },
    ],
    [
      { name: "vpn", runbooks: { provision: "ad-grant", deprovision: "ad-revoke" } },
      { name: "wifi", runbooks: { provision: "plain", modify: "ad-grant" } },
    ],
  );
  assert.deepEqual(out, [
    {
      name: "kerberos:R",
      source: "kerberos",
      runbooks: ["ad-grant", "ad-revoke"],
      uses: [
        { assetType: "vpn", action: "Deprovision" },
        { assetType: "vpn", action: "Provision" },
        { assetType: "wifi", action: "Modify" },
      ],
    },
  ]);
});

test("the newest evidence decides; one sentence of error", () => {
  const at = (s: string) => new Date(`2026-12-0${s}T00:00:00Z`);
  assert.equal(healthOf(), "unknown");
  assert.equal(healthOf({ at: at("1"), ok: true }, { at: at("2"), ok: false }), "failing");
  assert.equal(healthOf({ at: at("3"), ok: true }, { at: at("2"), ok: false }), "healthy");
  assert.equal(
    healthOf({ at: at("1"), ok: true }, { at: at("2"), ok: false }, { at: at("3"), ok: true }),
    "healthy",
  );
  assert.equal(oneSentence("\n  first line \nsecond"), "first line");
  assert.equal(oneSentence(""), undefined);
  assert.equal(oneSentence("x".repeat(400))?.length, 300);
});
