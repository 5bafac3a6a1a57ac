// Integration health (issue #22): GET /integrations on the real wiring. The catalogue is real
// (Runbooks and AssetTypes on the API server), the SMTP probe talks to a real mailpit and to a
// closed port; run outcomes are rows of the order history the operator's mirror writes.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { testKubeConfig } from "../support/kube.ts";
import { startMailpit } from "../support/mailpit.ts";
import { freePort } from "../cluster/control-plane.ts";
import { addScopedAdminToken, addToken, bearer, newApi, type Api } from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

type View = {
  name: string;
  kind: string;
  target: string;
  health: string;
  runbooks: string[];
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  probe: { ok: boolean; message: string | null } | null;
};

async function create(
  api: Api,
  plural: string,
  kind: string,
  name: string,
  spec: unknown,
  labels?: Record<string, string>,
) {
  await testKubeConfig()
    .makeApiClient(k8s.CustomObjectsApi)
    .createNamespacedCustomObject({
      group: "ipsolis.io",
      version: "v1alpha1",
      namespace: api.namespace,
      plural,
      body: {
        apiVersion: "ipsolis.io/v1alpha1",
        kind,
        metadata: { name, ...(labels ? { labels } : {}) },
        spec,
      },
    });
}

/** One finished step of an Order, as the history mirror records it. */
async function stepRun(
  api: Api,
  assetType: string,
  action: string,
  state: string,
  at: string,
  message?: string,
) {
  const uid = `uid-${assetType}-${state}-${at}`;
  await api.db.query(
    `INSERT INTO orders (uid, namespace, name, asset_type, action, phase) VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      uid,
      api.namespace,
      uid
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 60),
      assetType,
      action,
      state === "Succeeded" ? "Provisioned" : "Failed",
    ],
  );
  await api.db.query(
    `INSERT INTO step_runs (order_uid, attempt, step, state, finished_at, message) VALUES ($1, 1, 'add', $2, $3, $4)`,
    [uid, state, at, message ?? null],
  );
}

async function list(api: Api, token: string, query = ""): Promise<View[]> {
  const r = await api.app.inject({ method: "GET", url: `/integrations${query}`, headers: bearer(token) });
  assert.equal(r.statusCode, 200, r.body);
  return r.json<{ integrations: View[] }>().integrations;
}

test("each system the runbooks, mail and sign-in reach, with its newest success, failure, last error and probe", async (t) => {
  const mail = await startMailpit();
  t.after(() => mail.stop());
  const api = await newApi(t, {
    people: false,
    config: {
      IPSOLIS_SMTP_HOST: "127.0.0.1",
      IPSOLIS_SMTP_PORT: mail.smtpPort,
      IPSOLIS_SMTP_STARTTLS: "off",
    },
  });
  const ad = { ...runbookSpec(), kerberos: { secretName: "svc-keytab", principal: "svc-ipsolis@corp.test" } };
  await create(api, "runbooks", "Runbook", "ad-grant", ad);
  await create(api, "runbooks", "Runbook", "ad-revoke", ad);
  await create(api, "runbooks", "Runbook", "graph-licence", runbookSpec(), {
    "ipsolis.io/integration": "entra",
  });
  await create(api, "runbooks", "Runbook", "plain", runbookSpec());
  await create(
    api,
    "assettypes",
    "AssetType",
    "vpn",
    assetTypeSpec({ runbooks: { provision: "ad-grant", deprovision: "ad-revoke" } }),
  );
  await create(
    api,
    "assettypes",
    "AssetType",
    "m365",
    assetTypeSpec({ runbooks: { provision: "graph-licence", deprovision: "plain" } }),
  );

  // The directory failed, then came back; Entra only ever failed.
  await stepRun(
    api,
    "vpn",
    "Provision",
    "Failed",
    "2026-12-01T10:00:00Z",
    "kinit: Preauthentication failed while getting initial credentials\nmore detail",
  );
  await stepRun(api, "vpn", "Deprovision", "Succeeded", "2026-12-01T11:00:00Z");
  await stepRun(api, "m365", "Provision", "Failed", "2026-12-02T09:00:00Z", "Graph: 403 Forbidden");
  // A plain runbook's failure is nobody's integration.
  await stepRun(api, "m365", "Deprovision", "Failed", "2026-12-03T09:00:00Z", "plain failed");

  const helpdesk = await addToken(api, "helpdesk", ["admin:*"], "desk");
  const views = await list(api, helpdesk);
  assert.deepEqual(
    views.map((v) => [v.name, v.kind, v.target, v.health]),
    [
      ["entra", "runbook-target", "entra", "failing"],
      ["kerberos:CORP.TEST", "directory", "CORP.TEST", "healthy"],
      ["smtp", "mail", `127.0.0.1:${mail.smtpPort}`, "healthy"],
    ],
  );
  const dir = views.find((v) => v.name === "kerberos:CORP.TEST")!;
  assert.deepEqual(dir.runbooks, ["ad-grant", "ad-revoke"]);
  assert.equal(dir.lastSuccessAt, "2026-12-01T11:00:00.000Z");
  assert.equal(dir.lastFailureAt, "2026-12-01T10:00:00.000Z");
  assert.equal(dir.lastError, "kinit: Preauthentication failed while getting initial credentials");
  const entra = views.find((v) => v.name === "entra")!;
  assert.equal(entra.lastError, "Graph: 403 Forbidden");
  assert.equal(entra.lastSuccessAt, null);
  const probe = views.find((v) => v.name === "smtp")!.probe;
  assert.equal(probe?.ok, true);
  assert.equal(probe?.message, null);

  // A mail server that does not answer: a fresh probe says so in one sentence; nothing else changes.
  const dead = await freePort();
  const down = await newApi(t, {
    people: false,
    namespace: api.namespace,
    config: { IPSOLIS_SMTP_HOST: "127.0.0.1", IPSOLIS_SMTP_PORT: dead, IPSOLIS_SMTP_STARTTLS: "off" },
  });
  const after = await list(down, await addToken(down, "helpdesk", ["admin:*"], "desk"), "?probe=true");
  const smtp = after.find((v) => v.name === "smtp")!;
  assert.equal(smtp.health, "failing");
  assert.match(
    smtp.lastError ?? "",
    new RegExp(`^SMTP 127\\.0\\.0\\.1:${dead}: ESOCKET \\(connect ECONNREFUSED`),
  );
  assert.equal(smtp.probe?.ok, false);

  // A scoped admin sees the systems of their own asset types, and mail.
  const scopedToken = await addScopedAdminToken(api, "vpnadmin", ["vpn"]);
  const mine = await list(api, scopedToken);
  assert.deepEqual(
    mine.map((v) => v.name),
    ["kerberos:CORP.TEST", "smtp"],
  );
  // Roles without runbooks:read are refused.
  const auditor = await addToken(api, "auditor", ["admin:*"], "aud");
  const refused = await api.app.inject({ method: "GET", url: "/integrations", headers: bearer(auditor) });
  assert.equal(refused.statusCode, 403);
});
