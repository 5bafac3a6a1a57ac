// A scoped admin reaches only their asset types (issue #15 item 8): the audit log (by target,
// action or order) and the cost report show nothing of other teams' types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { appendAudit } from "../../record/audit.ts";
import { addAdmin, newApi, signInAs } from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";

test("a scoped admin's audit log and cost report cover their asset types only", async (t) => {
  await applyCrds();
  const api = await newApi(t, { now: new Date("2026-06-15T00:00:00Z") });
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  for (const name of ["mine", "other"]) {
    const spec = assetTypeSpec({
      runbooks: { provision: `${name}-rb` },
      cost: { amountPerMonth: "10.00", currency: "EUR", costCenter: "CC-1" },
    });
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: root.headers,
      payload: { spec },
    });
    assert.equal(r.statusCode, 201, r.body);
    await appendAudit(api.db, {
      actor: "admin:root",
      action: "order_created",
      target: `order:o-${name}`,
      order: `o-${name}`,
      source: "api",
      data: { assetType: name },
    });
    await appendAudit(api.db, {
      actor: "system:operator",
      action: "step_started",
      order: `o-${name}`,
      source: "operator",
    });
    await appendAudit(api.db, {
      actor: "admin:root",
      action: "runbook_updated",
      target: `runbook:${name}-rb`,
      source: "api",
    });
    await api.db.query(
      `INSERT INTO orders (uid, namespace, name, asset_type, action, requester_id, requester_email, phase, provisioned_at)
       VALUES ($1, $2, $3, $4, 'Provision', 'u@example.com', 'u@example.com', 'Provisioned', '2026-06-01T00:00:00Z')`,
      [`uid-${name}`, api.namespace, `o-${name}`, name],
    );
  }
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["mine"] },
  });
  assert.equal(g.statusCode, 200, g.body);
  const s = await signInAs(api, "sam");
  const audit = async (q: string) => {
    const r = await api.app.inject({ method: "GET", url: `/audit${q}`, headers: s.headers });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<{ items: { target: string | null; order: string | null }[] }>().items;
  };
  const all = await audit("");
  assert.ok(all.length >= 4, JSON.stringify(all));
  for (const i of all) assert.doesNotMatch(`${i.target} ${i.order}`, /other/, JSON.stringify(i));
  assert.deepEqual(await audit("?target=assettype:other"), []);
  assert.deepEqual(await audit("?order=o-other"), []);
  assert.deepEqual(await audit("?target=runbook:other-rb"), []);
  assert.equal((await audit("?action=step_started")).length, 1);
  assert.equal((await audit("?target=runbook:mine-rb")).length, 1);
  const csv = await api.app.inject({ method: "GET", url: "/audit?format=csv", headers: s.headers });
  assert.doesNotMatch(csv.body, /other/);
  // The superadmin still sees everything.
  const rootAll = await api.app.inject({ method: "GET", url: "/audit?order=o-other", headers: root.headers });
  assert.equal(rootAll.json<{ items: unknown[] }>().items.length, 2);

  const cost = await api.app.inject({ method: "GET", url: "/cost?groupBy=assetType", headers: s.headers });
  assert.equal(cost.statusCode, 200, cost.body);
  assert.doesNotMatch(cost.body, /other/);
  assert.match(cost.body, /mine/);
  const byCc = await api.app.inject({ method: "GET", url: "/cost?groupBy=costCenter", headers: s.headers });
  const rootCc = await api.app.inject({
    method: "GET",
    url: "/cost?groupBy=costCenter",
    headers: root.headers,
  });
  assert.notEqual(byCc.body, rootCc.body, "the cost centre total counts the scoped admin's types only");
});

test("runbooks are scoped by the asset types that run them: own ones changed, shared ones read, the rest 404", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  const put = (b: typeof root, path: string, spec: object) =>
    api.app.inject({ method: "PUT", url: path, headers: b.headers, payload: { spec } });
  for (const rb of ["mine-rb", "shared-rb", "theirs-rb", "scheduled-rb"])
    assert.equal((await put(root, `/runbooks/${rb}`, runbookSpec())).statusCode, 201);
  const types = {
    mine: { provision: "mine-rb", deprovision: "shared-rb" },
    other: { provision: "theirs-rb", deprovision: "shared-rb" },
  };
  for (const [name, runbooks] of Object.entries(types))
    assert.equal((await put(root, `/assettypes/${name}`, assetTypeSpec({ runbooks }))).statusCode, 201);
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["mine"] },
  });
  assert.equal(g.statusCode, 200, g.body);
  const s = await signInAs(api, "sam");

  const list = await api.app.inject({ method: "GET", url: "/runbooks", headers: s.headers });
  assert.deepEqual(
    list
      .json<{ items: { name: string }[] }>()
      .items.map((i) => i.name)
      .sort(),
    ["mine-rb", "shared-rb"],
  );
  // Another team's runbook and a standalone one: the missing runbook's 404, byte for byte.
  const missing = await api.app.inject({ method: "GET", url: "/runbooks/no-such-rb", headers: s.headers });
  for (const rb of ["theirs-rb", "scheduled-rb"]) {
    const r = await api.app.inject({ method: "GET", url: `/runbooks/${rb}`, headers: s.headers });
    assert.equal(r.statusCode, 404);
    assert.equal(r.body.replace(rb, "X"), missing.body.replace("no-such-rb", "X"));
    const w = await put(s, `/runbooks/${rb}`, runbookSpec());
    assert.equal(w.statusCode, 404, w.body);
  }
  // Their own runbook: changed. The shared one: read, not changed, not deleted.
  assert.equal((await put(s, "/runbooks/mine-rb", runbookSpec())).statusCode, 200);
  const shared = await put(s, "/runbooks/shared-rb", runbookSpec());
  assert.equal(shared.statusCode, 403, shared.body);
  assert.match(shared.body, /also run by asset types outside your grants/);
  const del = await api.app.inject({ method: "DELETE", url: "/runbooks/shared-rb", headers: s.headers });
  assert.equal(del.statusCode, 403, del.body);
  // Creating a runbook is for unscoped admins; nor can their type newly name a hidden one.
  assert.equal((await put(s, "/runbooks/new-rb", runbookSpec())).statusCode, 404);
  const grab = await put(s, "/assettypes/mine", assetTypeSpec({ runbooks: { provision: "scheduled-rb" } }));
  assert.equal(grab.statusCode, 422, grab.body);
  assert.match(grab.body, /not run by any of your asset types/);
  const fine = await put(s, "/assettypes/mine", assetTypeSpec({ runbooks: { provision: "shared-rb" } }));
  assert.equal(fine.statusCode, 200, fine.body);
});
