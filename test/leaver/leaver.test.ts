// The leaver lifecycle on the real API server and Postgres: the HR webhook (HMAC and token),
// fan-out to one Deprovision Order per held asset, idempotency across redelivery and SCIM,
// dry run, blocked ordering, future effective dates, per-asset outcome and retry.
//
// The operator does not run here: where an outcome depends on it, the test writes the
// Deprovision Order's status.phase through the status subresource as the operator would
// (server-side apply, field manager ipsolis-operator). No Job or Pod status is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../support/kube.ts";
import { addScopedAdminToken, addToken, bearer } from "../api/support.ts";
import { signBody } from "../../api/leaver/signature.ts";
import { isOrderingBlocked } from "../../record/employees/store.ts";
import { LEASE_MS, processDueLeavers, processLeaver, reactivate } from "../../api/leaver/fanout.ts";
import { claimLeaverEvent } from "../../record/leavers/store.ts";
import { createSession, readSession } from "../../record/identity/sessions.ts";
import type { Order } from "../../crds/generated/index.ts";
import { drainFanouts } from "../../api/leaver/background.ts";
import {
  HR_SECRET,
  auditRows,
  createInPhase,
  createProvisioned,
  listOrders,
  newScimApi,
  setPhase,
  userBody,
  type ScimApi,
} from "../scim/support.ts";

const ADA = { id: "ada@example.com", email: "ada@example.com" };
const BOB = { id: "bob@example.com", email: "bob@example.com" };

function hr(api: ScimApi, body: unknown, opts: { secret?: string; sig?: string | null; url?: string } = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const sig = opts.sig === null ? undefined : (opts.sig ?? signBody(opts.secret ?? HR_SECRET, raw));
  return api.app.inject({
    method: "POST",
    url: opts.url ?? "/hr/leaver",
    headers: {
      "content-type": "application/json",
      ...(sig !== undefined ? { "x-hub-signature-256": sig } : {}),
    },
    payload: raw,
  });
}

/** Ada (SCIM-provisioned) holds a pooled, a shared and a personal asset; Bob holds one too. */
async function world(t: Parameters<typeof newScimApi>[0]) {
  const api = await newScimApi(t);
  const created = await api.scim(
    "POST",
    "/Users",
    userBody("ada@example.com", {
      externalId: "entra-ada",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { employeeNumber: "1001" },
    }),
  );
  assert.equal(created.statusCode, 201);
  await createProvisioned(api, "ada-licence", "m365-e3", ADA); // CapacityPooled (operator returns the slot)
  await createProvisioned(api, "ada-shared-mailbox", "shared-mailbox", {
    id: "1001",
    email: "ada@example.com",
  }); // DedicatedShared
  await createProvisioned(api, "ada-laptop-vm", "dev-vm", ADA); // AssignedPersonal
  await createProvisioned(api, "bob-licence", "m365-e3", BOB);
  return { api, adaId: created.json<{ id: string }>().id };
}

const deprovisions = async (api: ScimApi) =>
  (await listOrders(api))
    .filter((o) => o.spec.action === "Deprovision")
    .map((o) => ({
      name: o.metadata!.name!,
      target: o.spec.target,
      assetType: o.spec.assetType,
      requester: o.spec.requester.id,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));

test("HR webhook: signed leaver → blocked at once, one Deprovision Order per held asset, audited with attribution", async (t) => {
  const { api } = await world(t);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), false);
  const r = await hr(api, { upn: "ADA@example.com", eventId: "hr-42" });
  assert.equal(r.statusCode, 202, r.body);
  const ev = r.json<{ id: string; duplicate: boolean; employee: { userName: string } }>();
  assert.equal(ev.duplicate, false);
  assert.equal(ev.employee.userName, "ada@example.com");
  assert.equal(await isOrderingBlocked(api.db, { email: "ADA@example.com" }, api.clock.now), true);
  assert.equal(await isOrderingBlocked(api.db, { id: "1001" }, api.clock.now), true);
  assert.equal(await isOrderingBlocked(api.db, BOB, api.clock.now), false);

  await drainFanouts(api.app.deps);
  assert.deepEqual(await deprovisions(api), [
    {
      name: "ada-laptop-vm-deprovision",
      target: "ada-laptop-vm",
      assetType: "dev-vm",
      requester: "ada@example.com",
    },
    {
      name: "ada-licence-deprovision",
      target: "ada-licence",
      assetType: "m365-e3",
      requester: "ada@example.com",
    },
    {
      name: "ada-shared-mailbox-deprovision",
      target: "ada-shared-mailbox",
      assetType: "shared-mailbox",
      requester: "1001",
    },
  ]);
  const rows = await auditRows(api, "source = 'hr-webhook'");
  assert.ok(rows.every((x) => x.actor === "integration:hr-webhook"));
  assert.deepEqual(
    rows.map((x) => x.action),
    [
      "leaver_recorded",
      "leaver_fanout_started",
      "deprovision_queued",
      "deprovision_queued",
      "deprovision_queued",
      "leaver_fanout_finished",
    ],
  );
  assert.deepEqual(
    rows
      .filter((x) => x.action === "deprovision_queued")
      .map((x) => [x.target, x.order])
      .sort(),
    [
      ["order:ada-laptop-vm", "ada-laptop-vm-deprovision"],
      ["order:ada-licence", "ada-licence-deprovision"],
      ["order:ada-shared-mailbox", "ada-shared-mailbox-deprovision"],
    ],
  );

  // Per-asset outcome follows the Deprovision Orders' phases (written here as the operator would).
  const reader = await addToken(api, "auditor", ["leavers:read"], "auditor");
  const report = async () =>
    (await api.app.inject({ method: "GET", url: `/leavers/${ev.id}`, headers: bearer(reader) })).json<{
      summary: Record<string, number>;
      assets: { target: string; outcome: string }[];
      state: string;
    }>();
  assert.deepEqual((await report()).summary, {
    queued: 3,
    inProgress: 0,
    revoked: 0,
    failed: 0,
    cancelled: 0,
    total: 3,
  });
  await setPhase(api, "ada-licence-deprovision", "Revoked");
  await setPhase(api, "ada-laptop-vm-deprovision", "Processing");
  const rep = await report();
  assert.equal(rep.state, "processed");
  assert.deepEqual(
    rep.assets.map((a) => [a.target, a.outcome]),
    [
      ["ada-laptop-vm", "inProgress"],
      ["ada-licence", "revoked"],
      ["ada-shared-mailbox", "queued"],
    ],
  );
  assert.equal((await api.app.inject({ method: "GET", url: `/leavers/${ev.id}` })).statusCode, 401);
});

test("HR webhook: wrong, missing or malformed signatures are 401 with no side effect", async (t) => {
  const { api } = await world(t);
  const before = await auditRows(api);
  const body = { upn: "ada@example.com" };
  for (const [name, res] of [
    ["wrong secret", await hr(api, body, { secret: "not-the-secret-not-the-secret-not-the" })],
    [
      "tampered body",
      await hr(api, JSON.stringify(body) + " ", { sig: signBody(HR_SECRET, JSON.stringify(body)) }),
    ],
    ["not sha256=", await hr(api, body, { sig: "sha1=abc" })],
    ["empty", await hr(api, body, { sig: "" })],
    ["missing (and no token)", await hr(api, body, { sig: null })],
    [
      "bad bearer",
      await api.app.inject({ method: "POST", url: "/hr/leaver", headers: bearer("ips_nope"), payload: body }),
    ],
  ] as const) {
    assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
  }
  const wrongScope = await addToken(api, "admin", ["scim"], "scim-only");
  const forbidden = await api.app.inject({
    method: "POST",
    url: "/hr/leaver",
    headers: bearer(wrongScope),
    payload: body,
  });
  assert.equal(forbidden.statusCode, 403);
  await drainFanouts(api.app.deps);
  assert.equal((await api.db.query("SELECT 1 FROM leaver_events")).rowCount, 0);
  assert.deepEqual(await auditRows(api), before);
  assert.deepEqual(await deprovisions(api), []);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), false);
});

test("HR webhook: GitHub's published test vector passes authentication (then fails as JSON)", async (t) => {
  const api = await newScimApi(t, {
    crds: false,
    config: { IPSOLIS_HR_WEBHOOK_SECRET: "It's a Secret to Everybody" },
  });
  const ok = await hr(api, "Hello, World!", {
    sig: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
  });
  assert.equal(ok.statusCode, 400, "authenticated; the body is not a leaver");
  const bad = await hr(api, "Hello, World?", {
    sig: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
  });
  assert.equal(bad.statusCode, 401);
});

test("idempotent: redelivery, SCIM deactivation of the same person, and a token call queue each deprovision once", async (t) => {
  const { api, adaId } = await world(t);
  const first = await hr(api, { email: "ada@example.com" });
  await drainFanouts(api.app.deps);
  const again = await hr(api, { email: "ada@example.com" });
  assert.equal(again.statusCode, 202);
  assert.equal(again.json<{ id: string }>().id, first.json<{ id: string }>().id);
  assert.equal(again.json<{ duplicate: boolean }>().duplicate, true);
  // Entra reports the same leaver over SCIM.
  const scim = await api.scim("PATCH", `/Users/${adaId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: "False" }],
  });
  assert.equal(scim.statusCode, 200);
  // HR again, by employee id, with a token this time.
  const hrToken = await addToken(api, "admin", ["hr:leaver"], "workday");
  const byToken = await api.app.inject({
    method: "POST",
    url: "/hr/leaver",
    headers: { ...bearer(hrToken), "content-type": "application/json" },
    payload: { employeeId: "1001" },
  });
  assert.equal(byToken.statusCode, 202, byToken.body);
  assert.equal(byToken.json<{ id: string }>().id, first.json<{ id: string }>().id);
  await drainFanouts(api.app.deps);
  assert.equal((await deprovisions(api)).length, 3);
  assert.equal((await api.db.query("SELECT 1 FROM leaver_events")).rowCount, 1);
  const queued = await auditRows(api, "action = 'deprovision_queued'");
  assert.equal(queued.length, 3);
  const redelivered = await auditRows(api, "action = 'leaver_redelivered'");
  assert.deepEqual(
    redelivered.map((r) => [r.actor, r.source]),
    [
      ["integration:hr-webhook", "hr-webhook"],
      ["token:entra-provisioning", "scim"],
      ["token:workday", "hr-webhook"],
    ],
  );
  // A concurrent burst of the same delivery: still one event.
  const burst = await Promise.all(Array.from({ length: 10 }, () => hr(api, { upn: "ada@example.com" })));
  assert.ok(burst.every((b) => b.statusCode === 202));
  assert.equal(new Set(burst.map((b) => b.json<{ id: string }>().id)).size, 1);
  await drainFanouts(api.app.deps);
  assert.equal((await auditRows(api, "action = 'deprovision_queued'")).length, 3);
});

test("dry run returns exactly what would be revoked and changes nothing", async (t) => {
  const { api } = await world(t);
  const before = await auditRows(api);
  const viaBody = await hr(api, { upn: "ada@example.com", dryRun: true });
  const viaQuery = await hr(api, { upn: "ada@example.com" }, { url: "/hr/leaver?dryRun=true" });
  for (const r of [viaBody, viaQuery]) {
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(
      r
        .json<{ wouldRevoke: { target: string; deprovisionOrder: string }[] }>()
        .wouldRevoke.map((w) => w.target),
      ["ada-laptop-vm", "ada-licence", "ada-shared-mailbox"],
    );
  }
  await drainFanouts(api.app.deps);
  assert.deepEqual(await deprovisions(api), []);
  assert.deepEqual(await auditRows(api), before);
  assert.equal((await api.db.query("SELECT 1 FROM leaver_events")).rowCount, 0);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), false);
});

test("a scoped admin's dry run names only their own asset types' orders", async (t) => {
  const { api } = await world(t);
  const scoped = await addScopedAdminToken(api, "licences", ["m365-e3"]);
  const r = await api.app.inject({
    method: "POST",
    url: "/hr/leaver?dryRun=true",
    headers: { ...bearer(scoped), "content-type": "application/json" },
    payload: { upn: "ada@example.com" },
  });
  assert.equal(r.statusCode, 200, r.body);
  const plan = r.json<{ wouldRevoke: { target: string; assetType: string }[]; wouldCancel: string[] }>();
  assert.deepEqual(
    plan.wouldRevoke.map((w) => [w.target, w.assetType]),
    [["ada-licence", "m365-e3"]],
  );
  assert.doesNotMatch(r.body, /dev-vm|shared-mailbox/);

  // The leaver itself, and its report: the scoped admin sees their own type's item and counts.
  const done = await hr(api, { upn: "ada@example.com" });
  const id = done.json<{ id: string }>().id;
  await drainFanouts(api.app.deps);
  const report = await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(scoped) });
  assert.equal(report.statusCode, 200, report.body);
  const rep = report.json<{ assets: { target: string; assetType: string }[]; summary: { total: number } }>();
  assert.deepEqual(
    rep.assets.map((a) => [a.target, a.assetType]),
    [["ada-licence", "m365-e3"]],
  );
  assert.equal(rep.summary.total, 1);
  assert.doesNotMatch(report.body, /dev-vm|shared-mailbox/);
});

test("one failing deprovision never stops the others; the failed ones can be retried", async (t) => {
  const { api } = await world(t);
  // Someone took the deterministic name for something else: that create cannot succeed.
  await createProvisioned(api, "ada-licence-deprovision", "other", BOB);
  const r = await hr(api, { upn: "ada@example.com" });
  const id = r.json<{ id: string }>().id;
  await drainFanouts(api.app.deps);
  const names = (await deprovisions(api)).map((d) => d.name);
  assert.deepEqual(names, ["ada-laptop-vm-deprovision", "ada-shared-mailbox-deprovision"]);
  const failedRows = await auditRows(api, "action = 'deprovision_queue_failed'");
  assert.equal(failedRows.length, 1);
  assert.equal(failedRows[0]!.target, "order:ada-licence");
  // The operator fails one of the created ones.
  await setPhase(api, "ada-shared-mailbox-deprovision", "Failed", "runbook step remove-member failed");
  const reader = await addToken(api, "admin", ["leavers:read", "leavers:write"], "helpdesk-lead");
  const report = await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(reader) });
  const rep = report.json<{
    summary: Record<string, number>;
    assets: { target: string; outcome: string; message: string }[];
  }>();
  assert.equal(rep.summary.failed, 2);
  assert.equal(rep.summary.queued, 1);
  assert.match(rep.assets.find((a) => a.target === "ada-shared-mailbox")!.message, /remove-member/);

  const retry = await api.app.inject({
    method: "POST",
    url: `/leavers/${id}/retry`,
    headers: bearer(reader),
  });
  assert.equal(retry.statusCode, 200, retry.body);
  assert.deepEqual(retry.json<{ retried: string[] }>().retried.sort(), [
    "ada-licence-deprovision-2",
    "ada-shared-mailbox-deprovision-2",
  ]);
  const after = await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(reader) });
  assert.deepEqual(after.json<{ summary: Record<string, number> }>().summary, {
    queued: 3,
    inProgress: 0,
    revoked: 0,
    failed: 0,
    cancelled: 0,
    total: 3,
  });
  const retried = await auditRows(api, "action = 'deprovision_retried'");
  assert.deepEqual(
    retried.map((x) => [x.actor, x.source]),
    [
      ["token:helpdesk-lead", "api"],
      ["token:helpdesk-lead", "api"],
    ],
  );
  // A second retry has nothing left to retry.
  const again = await api.app.inject({
    method: "POST",
    url: `/leavers/${id}/retry`,
    headers: bearer(reader),
  });
  assert.deepEqual(again.json<{ retried: string[] }>().retried, []);
  const noWrite = await addToken(api, "auditor", ["leavers:read"], "auditor-ro");
  assert.equal(
    (await api.app.inject({ method: "POST", url: `/leavers/${id}/retry`, headers: bearer(noWrite) }))
      .statusCode,
    403,
  );
});

test("future effective date: nothing until then, then the scheduler fans out (state survives in Postgres)", async (t) => {
  const { api } = await world(t);
  const when = new Date(api.clock.now.getTime() + 7 * 24 * 3600_000);
  const r = await hr(api, { upn: "ada@example.com", effectiveDate: when.toISOString() });
  assert.equal(r.statusCode, 202);
  assert.equal(r.json<{ state: string }>().state, "scheduled");
  await drainFanouts(api.app.deps);
  assert.deepEqual(await processDueLeavers(api.app.deps), []);
  assert.deepEqual(await deprovisions(api), []);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), false, "not blocked before the date");
  api.clock.now = new Date(when.getTime() + 1000);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), true);
  const done = await processDueLeavers(api.app.deps);
  assert.equal(done.length, 1);
  assert.equal(done[0]!.queued, 3);
  assert.equal((await deprovisions(api)).length, 3);
});

test("re-activation unblocks ordering and re-provisions nothing", async (t) => {
  const { api, adaId } = await world(t);
  const okta = await api.scim(
    "PUT",
    `/Users/${adaId}`,
    userBody("ada@example.com", { active: false, externalId: "entra-ada" }),
  );
  assert.equal(okta.statusCode, 200);
  await eventually("deprovisions queued", async () =>
    (await deprovisions(api)).length === 3 ? true : undefined,
  );
  await drainFanouts(api.app.deps);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), true);
  const countBefore = (await listOrders(api)).length;
  const back = await api.scim("PATCH", `/Users/${adaId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: true } }],
  });
  assert.equal(back.statusCode, 200);
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), false);
  await drainFanouts(api.app.deps);
  assert.equal((await listOrders(api)).length, countBefore, "no Order created or removed");
  const rows = await auditRows(api, "action = 'leaver_reactivated'");
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.actor, "token:entra-provisioning");
  // Leaving again later is a new event.
  await api.scim("PATCH", `/Users/${adaId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  await drainFanouts(api.app.deps);
  assert.equal((await api.db.query("SELECT 1 FROM leaver_events")).rowCount, 2);
});

test("re-activation before the effective date cancels the leaver; after it, one the fan-out has not claimed yet is a re-activation", async (t) => {
  const { api, adaId } = await world(t);
  const when = new Date(api.clock.now.getTime() + 7 * 24 * 3600_000);
  const scimActive = async (active: boolean) =>
    assert.equal(
      (
        await api.scim("PATCH", `/Users/${adaId}`, {
          schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          Operations: [{ op: "replace", value: { active } }],
        })
      ).statusCode,
      200,
    );
  const closed = async () =>
    (
      await api.db.query<{ state: string; closed_reason: string | null }>(
        "SELECT state, closed_reason FROM leaver_events ORDER BY created_at, id",
      )
    ).rows;

  // HR files a leaver for next week; the IdP deactivates and re-activates before then.
  assert.equal(
    (await hr(api, { upn: "ada@example.com", effectiveDate: when.toISOString() })).statusCode,
    202,
  );
  await scimActive(false);
  await scimActive(true);
  assert.deepEqual(await closed(), [
    { state: "scheduled", closed_reason: "cancelled before the effective date" },
  ]);
  assert.equal((await auditRows(api, "action = 'leaver_cancelled'")).length, 1);

  // Again, but re-activated once the date has passed, before any fan-out claimed the event.
  // The API's scheduler tick races for it in a running product: the decision is called
  // directly here, with a clock past the date, to hold that moment still.
  const again = new Date(api.clock.now.getTime() + 3600_000);
  assert.equal(
    (await hr(api, { upn: "ada@example.com", effectiveDate: again.toISOString() })).statusCode,
    202,
  );
  const later = { ...api.app.deps, now: () => new Date(again.getTime() + 1000) };
  const ids = await reactivate(later, api.db, ["ada@example.com"], { actor: "token:test", source: "scim" });
  assert.equal(ids.length, 1);
  // Both rows carry the test clock's creation time, so compare them as a set.
  assert.deepEqual((await closed()).map((r) => `${r.state}/${r.closed_reason}`).sort(), [
    "scheduled/cancelled before the effective date",
    "scheduled/re-activated",
  ]);
  assert.equal((await auditRows(api, "action = 'leaver_reactivated'")).length, 1);
  assert.deepEqual(await deprovisions(api), [], "nothing was revoked");
});

test("orders in flight: pending ones are cancelled, one still Processing is caught by the sweep once Provisioned", async (t) => {
  const { api } = await world(t);
  await createInPhase(api, "ada-pending", "dev-vm", ADA, "PendingApproval");
  await createInPhase(api, "ada-inflight", "m365-e3", ADA, "Processing");
  const r = await hr(api, { upn: "ada@example.com" });
  assert.equal(r.statusCode, 202);
  await drainFanouts(api.app.deps);
  const byName = async (n: string): Promise<Order | undefined> =>
    (await listOrders(api)).find((o) => o.metadata?.name === n);
  assert.equal((await byName("ada-pending"))?.spec.cancelRequested, true);
  assert.equal(
    await byName("ada-inflight-deprovision"),
    undefined,
    "not delivered yet: nothing to take back",
  );
  assert.equal(await byName("ada-pending-deprovision"), undefined);
  assert.equal((await auditRows(api, "action = 'order_cancel_requested'")).length, 1);

  await setPhase(api, "ada-inflight", "Provisioned");
  await processDueLeavers(api.app.deps);
  const d = await byName("ada-inflight-deprovision");
  assert.equal(d?.spec.target, "ada-inflight");
  const swept = await auditRows(api, "action = 'deprovision_queued' AND target = 'order:ada-inflight'");
  assert.equal(swept.length, 1);
  assert.equal(swept[0]!.data.foundBySweep, true);
  // Sweeping again changes nothing.
  await processDueLeavers(api.app.deps);
  assert.equal((await auditRows(api, "action = 'deprovision_queued'")).length, 4);
  assert.equal((await auditRows(api, "action = 'order_cancel_requested'")).length, 1);
  const reader = await addToken(api, "auditor", ["leavers:read"], "auditor");
  const rep = await api.app.inject({
    method: "GET",
    url: `/leavers/${r.json<{ id: string }>().id}`,
    headers: bearer(reader),
  });
  assert.equal(rep.json<{ summary: { total: number } }>().summary.total, 4);
});

test("restart-safe: a fan-out whose process died is taken over once its lease expires", async (t) => {
  const { api } = await world(t);
  const when = new Date(api.clock.now.getTime() + 60_000);
  const r = await hr(api, { upn: "ada@example.com", effectiveDate: when.toISOString() });
  const id = r.json<{ id: string }>().id;
  api.clock.now = new Date(when.getTime() + 1000);
  // Process A claims the event and dies before creating anything.
  assert.ok(await claimLeaverEvent(api.db, id, api.clock.now, LEASE_MS));
  assert.equal((await processLeaver(api.app.deps, id)).processed, false, "the lease is held");
  assert.deepEqual(await processDueLeavers(api.app.deps), []);
  assert.deepEqual(await deprovisions(api), []);
  // Blocked all the same: the event is effective.
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), true);
  api.clock.now = new Date(api.clock.now.getTime() + LEASE_MS + 1000);
  const done = await processDueLeavers(api.app.deps);
  assert.deepEqual(
    done.map((d) => [d.eventId, d.processed, d.queued]),
    [[id, true, 3]],
  );
  assert.equal((await deprovisions(api)).length, 3);
  assert.equal((await auditRows(api, "action = 'deprovision_queued'")).length, 3);
});

test("concurrent fan-outs of one event: one does the work, each deprovision audited once", async (t) => {
  const { api } = await world(t);
  const when = new Date(api.clock.now.getTime() + 60_000);
  const id = (await hr(api, { upn: "ada@example.com", effectiveDate: when.toISOString() })).json<{
    id: string;
  }>().id;
  api.clock.now = new Date(when.getTime() + 1000);
  const runs = await Promise.all(Array.from({ length: 5 }, () => processLeaver(api.app.deps, id)));
  assert.equal(runs.filter((x) => x.processed).length, 1);
  assert.equal((await deprovisions(api)).length, 3);
  assert.equal((await auditRows(api, "action = 'deprovision_queued'")).length, 3);
  assert.equal((await auditRows(api, "action = 'leaver_fanout_started'")).length, 1);
});

test("SCIM create with active=false is a leaver at once; GET /leavers lists the events", async (t) => {
  const api = await newScimApi(t);
  await createProvisioned(api, "cy-vpn", "vpn", { id: "cy@example.com", email: "cy@example.com" });
  const r = await api.scim("POST", "/Users", userBody("cy@example.com", { active: false }));
  assert.equal(r.statusCode, 201);
  await drainFanouts(api.app.deps);
  assert.deepEqual(
    (await deprovisions(api)).map((d) => d.name),
    ["cy-vpn-deprovision"],
  );
  const reader = await addToken(api, "auditor", ["leavers:read"], "auditor");
  const list = await api.app.inject({ method: "GET", url: "/leavers?limit=10", headers: bearer(reader) });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list
      .json<{ items: { identifier: string; state: string; reportedBy: { source: string } }[] }>()
      .items.map((i) => [i.identifier, i.state, i.reportedBy.source]),
    [["cy@example.com", "processed", "scim"]],
  );
  assert.equal(
    (await api.app.inject({ method: "GET", url: "/leavers", headers: bearer(api.token) })).statusCode,
    403,
  );
});

test("a leaver is signed out of the portal at once; a colleague is not", async (t) => {
  const { api } = await world(t);
  const expires = new Date(api.clock.now.getTime() + 3600_000);
  const adaSid = await createSession(
    api.db,
    { employeeEmail: "ada@example.com", employeeId: "ada@example.com" },
    expires,
  );
  const bobSid = await createSession(
    api.db,
    { employeeEmail: "bob@example.com", employeeId: "bob@example.com" },
    expires,
  );
  const me = (sid: string) =>
    api.app.inject({ method: "GET", url: "/auth/me", cookies: { ipsolis_session: sid } });
  assert.equal((await me(adaSid)).statusCode, 200);
  const r = await hr(api, { upn: "ada@example.com", eventId: "hr-bye" });
  assert.equal(r.statusCode, 202, r.body);
  // Signed out at once: before the fan-out below has run.
  assert.equal((await me(adaSid)).statusCode, 401, "Ada's session ended with the leaver event");
  assert.equal((await me(bobSid)).statusCode, 200, "Bob is not affected");
  const rows = await auditRows(api, "action = 'sessions_ended'");
  assert.equal(rows.length, 1);
  assert.equal(await readSession(api.db, adaSid, api.clock.now), undefined);
  await drainFanouts(api.app.deps);
});
