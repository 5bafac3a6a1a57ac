// Modify (#19): POST /orders/:name/modify changes a Provisioned asset through the type's
// approval.onModify and its modify runbook; the target shows the new values once the change
// succeeds and the old ones while it waits or after it fails; the refusals (no modify runbook,
// not Provisioned, a change already open, bad attributes, out of scope). Real API server,
// operator, local node and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { addAdmin, newApi, signInAs, signInAsEmployee, type Api, type Browser } from "../api/support.ts";
import { bashStep, create, get, phaseIs, runbook, runOperator, waitOrder } from "../operator/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";
import { addGrant } from "../../record/identity/users.ts";
import type { Order } from "../../crds/generated/order.ts";

before(async () => {
  await applyCrds();
});

type View = {
  name: string;
  phase?: string;
  attributes?: Record<string, string>;
  orderedAttributes?: Record<string, string>;
  secretAttributes?: string[];
  modifiedBy?: string;
  target?: string;
  action: string;
};

const ATTRS = [
  { name: "seats", type: "integer", required: true },
  { name: "tier", type: "enum", enum: ["basic", "pro"] },
  { name: "pin", type: "string", secret: true },
];

async function putType(api: Api, b: Browser, name: string, over: Record<string, unknown>) {
  const put = await api.app.inject({
    method: "PUT",
    url: `/assettypes/${name}`,
    headers: b.headers,
    payload: { spec: assetTypeSpec({ attributes: ATTRS, ...over }) },
  });
  assert.equal(put.statusCode, 201, put.body);
}

async function order(api: Api, b: Browser, assetType: string, attributes: Record<string, unknown>) {
  const made = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: b.headers,
    payload: { assetType, attributes, requester: { id: "tom", email: "tom@example.com" } },
  });
  assert.equal(made.statusCode, 201, made.body);
  return made.json<View>().name;
}

async function modify(api: Api, b: Browser, name: string, attributes: Record<string, unknown>) {
  return api.app.inject({
    method: "POST",
    url: `/orders/${name}/modify`,
    headers: b.headers,
    payload: { attributes, reason: "more seats" },
  });
}

async function view(api: Api, b: Browser, name: string): Promise<View> {
  const r = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: b.headers });
  assert.equal(r.statusCode, 200, r.body);
  return r.json<View>();
}

test("modify: re-approval under onModify Same, direct under None, a failed change keeps the old values, refusals", async (t) => {
  const ns = await newNamespace(t, "mod");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  const api = await newApi(t, { namespace: ns });
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "carol", "approver", undefined, "carol@example.com");
  const ada = await signInAs(api, "ada");
  const carol = await signInAs(api, "carol");
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-modify-"));
  const seen = join(dir, "modified");
  await create(ns, "runbooks", runbook("lic-grant", [bashStep("grant", "echo granted")]));
  await create(ns, "runbooks", runbook("lic-revoke", [bashStep("revoke", "echo revoked")]));
  // The change step records what it was given and fails for 99 seats (a refusing SaaS API).
  await create(
    ns,
    "runbooks",
    runbook("lic-change", [
      bashStep(
        "change",
        `echo "$IPSOLIS_ATTRIBUTES" >> ${seen}; case "$IPSOLIS_ATTRIBUTES" in *'"seats":"99"'*) echo "too many seats" >&2; exit 3;; esac`,
      ),
    ]),
  );
  const runbooks = { provision: "lic-grant", deprovision: "lic-revoke", modify: "lic-change" };
  // Gated: provisioning and (onModify Same) changes need carol.
  await putType(api, ada, "lic-gated", {
    approval: { policy: "Approvers", approvers: ["carol"], quorum: 1 },
    runbooks,
  });
  // Changes need no approval; provisioning neither.
  await putType(api, ada, "lic-free", {
    approval: { policy: "None", onModify: { policy: "None" } },
    runbooks,
  });
  // No modify runbook at all.
  await putType(api, ada, "lic-fixed", {
    approval: { policy: "None" },
    runbooks: { provision: "lic-grant", deprovision: "lic-revoke" },
  });

  // --- re-approval (onModify Same = the type's Approvers policy)
  const gated = await order(api, ada, "lic-gated", { seats: 1, tier: "basic", pin: "1234" });
  await waitOrder(ns, gated, phaseIs("PendingApproval"), 30_000);
  const early = await modify(api, ada, gated, { seats: 2 });
  assert.equal(early.statusCode, 409, early.body);
  assert.match(early.json<{ error: string }>().error, /only a Provisioned order can be changed/);
  const ok1 = await api.app.inject({
    method: "POST",
    url: `/orders/${gated}/approve`,
    headers: carol.headers,
    payload: {},
  });
  assert.equal(ok1.statusCode, 200, ok1.body);
  await waitOrder(ns, gated, phaseIs("Provisioned"), 60_000);
  const m1 = await modify(api, ada, gated, { seats: 3 });
  assert.equal(m1.statusCode, 201, m1.body);
  const mod1 = m1.json<View>();
  assert.equal(mod1.action, "Modify");
  assert.equal(mod1.target, gated);
  assert.deepEqual(mod1.attributes, { seats: "3", tier: "basic" }, "the full new set");
  assert.equal(mod1.secretAttributes, undefined, "a secret not sent again is not in the change");
  await waitOrder(ns, mod1.name, phaseIs("PendingApproval"), 30_000);
  const twice = await modify(api, ada, gated, { seats: 4 });
  assert.equal(twice.statusCode, 409, twice.body);
  assert.equal(twice.json<{ reason: string }>().reason, "ModifyOpen");
  assert.deepEqual(
    (await view(api, ada, gated)).attributes,
    { seats: "1", tier: "basic" },
    "old values while the change waits for its approval",
  );
  const ok2 = await api.app.inject({
    method: "POST",
    url: `/orders/${mod1.name}/approve`,
    headers: carol.headers,
    payload: {},
  });
  assert.equal(ok2.statusCode, 200, ok2.body);
  await waitOrder(ns, mod1.name, phaseIs("Provisioned"), 60_000);
  await waitOrder(ns, gated, (o: Order) => o.status?.modifiedBy === mod1.name, 30_000);
  const after1 = await view(api, ada, gated);
  assert.deepEqual(after1.attributes, { seats: "3", tier: "basic" });
  assert.deepEqual(after1.orderedAttributes, { seats: "1", tier: "basic" });
  assert.deepEqual(after1.secretAttributes, ["pin"], "named, never shown");
  assert.equal(after1.phase, "Provisioned");
  const target = await get<Order>(ns, "orders", gated);
  assert.deepEqual(target.spec.attributes, { seats: "1", tier: "basic" }, "spec stays as ordered");
  assert.match(await readFile(seen, "utf8"), /"seats":"3"/, "the modify runbook got the new values");

  // --- onModify None: no approval; a failing change keeps the old values
  const free = await order(api, ada, "lic-free", { seats: 1 });
  await waitOrder(ns, free, phaseIs("Provisioned"), 60_000);
  const m2 = await modify(api, ada, free, { seats: 2, tier: "pro" });
  assert.equal(m2.statusCode, 201, m2.body);
  const mod2 = m2.json<View>().name;
  await waitOrder(ns, mod2, phaseIs("Provisioned"), 60_000);
  await waitOrder(ns, free, (o: Order) => o.status?.modifiedBy === mod2, 30_000);
  assert.deepEqual((await view(api, ada, free)).attributes, { seats: "2", tier: "pro" });
  const m3 = await modify(api, ada, free, { seats: 99 });
  assert.equal(m3.statusCode, 201, m3.body);
  const mod3 = m3.json<View>().name;
  const failed = await waitOrder(ns, mod3, phaseIs("Failed"), 60_000);
  assert.match(failed.status?.message ?? "", /step change failed/);
  const kept = await get<Order>(ns, "orders", free);
  assert.equal(kept.status?.phase, "Provisioned");
  assert.equal(kept.status?.modifiedBy, mod2, "the failed change is not shown");
  assert.deepEqual((await view(api, ada, free)).attributes, { seats: "2", tier: "pro" }, "old values kept");

  // --- refusals
  const fixed = await order(api, ada, "lic-fixed", { seats: 1 });
  await waitOrder(ns, fixed, phaseIs("Provisioned"), 60_000);
  const noRb = await modify(api, ada, fixed, { seats: 2 });
  assert.equal(noRb.statusCode, 409, noRb.body);
  assert.equal(noRb.json<{ reason: string }>().reason, "NoModifyRunbook");
  assert.match(noRb.json<{ error: string }>().error, /has no modify runbook/);
  const bad = await modify(api, ada, free, { seats: "many", colour: "red" });
  assert.equal(bad.statusCode, 400, bad.body);
  assert.equal(bad.json<{ reason: string }>().reason, "InvalidAttributes");
  const fields = bad.json<{ fields: { path: string }[] }>().fields.map((f) => f.path);
  assert.deepEqual(fields.sort(), ["body.attributes.colour", "body.attributes.seats"]);
  const same = await modify(api, ada, free, { seats: 2 });
  assert.equal(same.statusCode, 422, same.body);
  const missing = await modify(api, ada, "no-such-order", { seats: 2 });
  assert.equal(missing.statusCode, 404);
  // Someone else's order, as an employee: the same 404 as a missing one.
  const bob = await signInAsEmployee(api, "bob@example.com", "bob");
  const notOwn = await modify(api, bob, free, { seats: 5 });
  assert.equal(notOwn.statusCode, 404, notOwn.body);
  // The requester may change their own.
  const tom = await signInAsEmployee(api, "tom@example.com", "tom");
  const own = await modify(api, tom, free, { seats: 5 });
  assert.equal(own.statusCode, 201, own.body);
  // A scoped admin out of the type's scope: 404.
  const dan = await addAdmin(api, "dan", "admin", undefined, "dan@example.com");
  await addGrant(api.db, dan.id, "lic-fixed");
  const danB = await signInAs(api, "dan");
  const scoped = await modify(api, danB, gated, { seats: 5 });
  assert.equal(scoped.statusCode, 404, scoped.body);

  // --- audit: who asked, which fields; never a secret's value
  const pinChange = await modify(api, ada, gated, { pin: "9999" });
  assert.equal(pinChange.statusCode, 201, pinChange.body);
  const pinMod = await get<Order>(ns, "orders", pinChange.json<View>().name);
  assert.deepEqual(pinMod.spec.secretAttributesFrom?.keys, ["pin"]);
  assert.doesNotMatch(JSON.stringify(pinMod.spec), /9999/, "the new secret is not in the spec");
  const rows = await api.db.query<{ actor: string; data: Record<string, unknown> }>(
    "SELECT actor, data FROM audit_events WHERE action = 'order_modify_requested' ORDER BY id",
  );
  const first = rows.rows[0]!;
  assert.equal(first.actor, "admin:ada");
  assert.deepEqual(first.data.changed, ["seats"]);
  assert.deepEqual(first.data.changes, { seats: { from: "1", to: "3" } });
  const last = rows.rows.at(-1)!;
  assert.deepEqual(last.data.changed, ["pin"]);
  assert.deepEqual(last.data.secretChanged, ["pin"]);
  assert.doesNotMatch(JSON.stringify(rows.rows), /9999|1234/, "no secret value in the audit");
});
