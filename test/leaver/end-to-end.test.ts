// A leaver end to end with everything real: the API (HR webhook), Postgres, the operator, and
// the local node running the runbooks' steps (bash twins) for the real Job controller. Mixed
// assets: the pooled slot returns to the pool (a waiting order gets it), the personal and the
// shared asset are deprovisioned by their runbooks, one deprovision runbook fails without
// stopping the others, and the failed one is retried after the runbook is fixed.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { runLocalNodeIn } from "../localnode/testing.ts";
import {
  assetType,
  bashStep,
  create,
  order,
  patchSpec,
  phaseIs,
  runbook,
  runOperator,
  waitOrder,
} from "../operator/support.ts";
import { addToken, bearer } from "../api/support.ts";
import { signBody } from "../../api/leaver/signature.ts";
import { isOrderingBlocked } from "../../record/employees/store.ts";
import { HR_SECRET, auditRows, newScimApi, userBody } from "../scim/support.ts";

const RUN_MS = 90_000;
const ADA = { id: "ada@example.com", email: "ada@example.com" };
const BOB = { id: "bob@example.com", email: "bob@example.com" };

async function setup(t: TestContext) {
  const api = await newScimApi(t);
  const ns = api.namespace;
  await runLocalNodeIn(t, ns, 20);
  await runOperator(t, ns);
  const catalog: [string, "CapacityPooled" | "DedicatedShared" | "AssignedPersonal", string][] = [
    ["seat", "CapacityPooled", "echo seat returned"],
    ["mailbox", "DedicatedShared", "echo removed from the shared mailbox"],
    ["vm", "AssignedPersonal", "echo vm destroyed"],
    ["vault", "AssignedPersonal", "echo vault unreachable >&2; exit 3"],
  ];
  for (const [name, model, revoke] of catalog) {
    await create(ns, "runbooks", runbook(`${name}-grant`, [bashStep("grant", "echo granted")]));
    const rb = runbook(`${name}-revoke`, [bashStep("revoke", revoke)]);
    // The vault and the VM host are outside systems (integration health, the leaver's systems).
    if (name === "vault" || name === "vm")
      rb.metadata!.labels = { "ipsolis.io/integration": `${name}-system` };
    await create(ns, "runbooks", rb);
    await create(
      ns,
      "assettypes",
      assetType(name, {
        assignment: { model, ...(model === "CapacityPooled" ? { capacity: 1, maxPerUser: 1 } : {}) },
        runbooks: { provision: `${name}-grant`, deprovision: `${name}-revoke` },
      }),
    );
  }
  return { api, ns };
}

test("leaver end to end: mixed assets reclaimed by the operator, one failure retried", async (t) => {
  const { api, ns } = await setup(t);
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${Math.round((Date.now() - t0) / 1000)} s: ${what}`);
  assert.equal((await api.scim("POST", "/Users", userBody("ada@example.com"))).statusCode, 201);
  for (const a of ["seat", "mailbox", "vm", "vault"]) {
    await create(ns, "orders", order(`ada-${a}`, { assetType: a, requester: ADA }));
  }
  for (const a of ["seat", "mailbox", "vm", "vault"])
    await waitOrder(ns, `ada-${a}`, phaseIs("Provisioned"), RUN_MS);
  mark("four assets provisioned");
  // Bob waits for the only seat.
  await create(ns, "orders", order("bob-seat", { assetType: "seat", requester: BOB }));
  await waitOrder(
    ns,
    "bob-seat",
    (o) => o.status?.conditions?.some((c) => c.reason === "PoolExhausted") ?? false,
  );

  const body = JSON.stringify({ upn: "ada@example.com" });
  const r = await api.app.inject({
    method: "POST",
    url: "/hr/leaver",
    headers: { "content-type": "application/json", "x-hub-signature-256": signBody(HR_SECRET, body) },
    payload: body,
  });
  assert.equal(r.statusCode, 202, r.body);
  const id = r.json<{ id: string }>().id;
  assert.equal(await isOrderingBlocked(api.db, ADA, api.clock.now), true);

  for (const a of ["seat", "mailbox", "vm"]) {
    await waitOrder(ns, `ada-${a}-deprovision`, phaseIs("Revoked"), RUN_MS);
    await waitOrder(ns, `ada-${a}`, phaseIs("Revoked"), RUN_MS);
  }
  mark("three deprovisions revoked");
  const failed = await waitOrder(ns, "ada-vault-deprovision", phaseIs("Failed"), RUN_MS);
  assert.match(JSON.stringify(failed.status), /exit|3|revoke/);
  // The pooled slot went back to the pool: Bob's waiting order gets it.
  const bob = await waitOrder(ns, "bob-seat", phaseIs("Provisioned"), RUN_MS);
  assert.equal(bob.status?.asset?.id, "seat-slot-0");

  mark("pool slot handed on");
  const lead = await addToken(api, "admin", ["leavers:read", "leavers:write"], "it-lead");
  const report = async () =>
    (await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(lead) })).json<{
      summary: Record<string, number>;
      assets: { target: string; outcome: string }[];
      systems: { name: string; state: string; assets: number; revoked: number; failed: number }[];
    }>();
  const rep = await report();
  assert.deepEqual(rep.summary, { queued: 0, inProgress: 0, revoked: 3, failed: 1, cancelled: 0, total: 4 });
  // Which systems were reached and which wait for a retry: the failing vault holds up nobody.
  assert.deepEqual(
    rep.systems.map((s) => [s.name, s.state, s.revoked, s.failed]),
    [
      ["runbook:mailbox-revoke", "reached", 1, 0],
      ["runbook:seat-revoke", "reached", 1, 0],
      ["vault-system", "pendingRetry", 0, 1],
      ["vm-system", "reached", 1, 0],
    ],
  );
  assert.equal(rep.assets.find((a) => a.target === "ada-vault")?.outcome, "failed");

  // Fix the runbook, retry the failed one.
  await patchSpec(ns, "runbooks", "vault-revoke", { steps: [bashStep("revoke", "echo vault revoked")] });
  const retry = await api.app.inject({
    method: "POST",
    url: `/leavers/${id}/retry`,
    headers: bearer(lead),
  });
  assert.deepEqual(retry.json<{ retried: string[] }>().retried, ["ada-vault-deprovision-2"]);
  await waitOrder(ns, "ada-vault-deprovision-2", phaseIs("Revoked"), RUN_MS);
  await waitOrder(ns, "ada-vault", phaseIs("Revoked"), RUN_MS);
  assert.deepEqual((await report()).summary, {
    queued: 0,
    inProgress: 0,
    revoked: 4,
    failed: 0,
    cancelled: 0,
    total: 4,
  });
  assert.ok(
    (await report()).systems.every((x) => x.state === "reached"),
    "after the retry every system was reached",
  );
  const audited = await auditRows(api, "action IN ('deprovision_queued', 'deprovision_retried')");
  assert.deepEqual(
    audited.map((a) => [a.action, a.order, a.actor]).sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
    [
      ["deprovision_queued", "ada-mailbox-deprovision", "integration:hr-webhook"],
      ["deprovision_queued", "ada-seat-deprovision", "integration:hr-webhook"],
      ["deprovision_queued", "ada-vault-deprovision", "integration:hr-webhook"],
      ["deprovision_retried", "ada-vault-deprovision-2", "token:it-lead"],
      ["deprovision_queued", "ada-vm-deprovision", "integration:hr-webhook"],
    ],
  );
});
