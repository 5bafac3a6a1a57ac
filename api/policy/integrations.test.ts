import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deprovisionSystems,
  healthOf,
  integrationOf,
  leaverSystems,
  oneSentence,
  runbookIntegrations,
} from "./integrations.ts";

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

test("leaverSystems: per system, reached only when every asset in it was taken back; a failure is pendingRetry", () => {
  const systemOf = deprovisionSystems(
    [
      { name: "ad-remove", kerberosPrincipal: "svc@CORP.EXAMPLE" },
      { name: "graph-remove", labels: { "ipsolis.io/integration": "entra" } },
      { name: "plain-revoke" },
    ],
    [
      { name: "vpn", runbooks: { deprovision: "ad-remove" } },
      { name: "sales", runbooks: { deprovision: "ad-remove" } },
      { name: "e3", runbooks: { deprovision: "graph-remove" } },
      { name: "parking", runbooks: { deprovision: "plain-revoke" } },
      { name: "badge", runbooks: {} },
    ],
  );
  assert.deepEqual(Object.fromEntries(systemOf), {
    vpn: "kerberos:CORP.EXAMPLE",
    sales: "kerberos:CORP.EXAMPLE",
    e3: "entra",
    parking: "runbook:plain-revoke",
  });
  const s = leaverSystems(
    [
      { assetType: "vpn", outcome: "revoked" },
      { assetType: "sales", outcome: "failed" },
      { assetType: "e3", outcome: "revoked" },
      { assetType: "parking", outcome: "inProgress" },
      { assetType: "badge", outcome: "cancelled" },
    ],
    systemOf,
  );
  assert.deepEqual(
    s.map((x) => [x.name, x.state, x.assets, x.revoked, x.inProgress, x.failed]),
    [
      ["assettype:badge", "pendingRetry", 1, 0, 0, 1],
      ["entra", "reached", 1, 1, 0, 0],
      ["kerberos:CORP.EXAMPLE", "pendingRetry", 2, 1, 0, 1],
      ["runbook:plain-revoke", "inProgress", 1, 0, 1, 0],
    ],
  );
});
