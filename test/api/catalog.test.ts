// Catalog through the API on the real API server: AssetTypes/Runbooks become CRs (server-side
// apply by ipsolis-api), changes are audited with before/after, and the admin ACL scopes what
// an admin sees, with out-of-scope objects answering byte-identically to missing ones.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, signInAs } from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("asset types become CRs owned by ipsolis-api; each change is audited with before/after", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin");
  const a = await signInAs(api, "ada");
  const put = (name: string, spec: object) =>
    api.app.inject({ method: "PUT", url: `/assettypes/${name}`, headers: a.headers, payload: { spec } });

  const created = await put("m365", assetTypeSpec());
  assert.equal(created.statusCode, 201, created.body);
  const objs = api.kc.makeApiClient(k8s.CustomObjectsApi);
  const cr = (await objs.getNamespacedCustomObject({
    group: "ipsolis.io",
    version: "v1alpha1",
    namespace: api.namespace,
    plural: "assettypes",
    name: "m365",
  })) as { spec: { displayName: string }; metadata: { managedFields: { manager: string }[] } };
  assert.equal(cr.spec.displayName, "Microsoft 365 E3");
  assert.ok(cr.metadata.managedFields.some((f) => f.manager === "ipsolis-api"));

  const updated = await put("m365", assetTypeSpec({ displayName: "M365 E5" }));
  assert.equal(updated.statusCode, 200, updated.body);
  const cloned = await api.app.inject({
    method: "POST",
    url: "/assettypes/m365/clone",
    headers: a.headers,
    payload: { name: "m365-copy" },
  });
  assert.equal(cloned.statusCode, 201, cloned.body);
  const dup = await api.app.inject({
    method: "POST",
    url: "/assettypes/m365/clone",
    headers: a.headers,
    payload: { name: "m365-copy" },
  });
  assert.equal(dup.statusCode, 409);
  const del = await api.app.inject({ method: "DELETE", url: "/assettypes/m365-copy", headers: a.headers });
  assert.equal(del.statusCode, 204);

  const rows = await api.db.query<{
    action: string;
    actor: string;
    target: string;
    data: Record<string, unknown>;
  }>("SELECT action, actor, target, data FROM audit_events WHERE target LIKE 'assettype:%' ORDER BY id");
  assert.deepEqual(
    rows.rows.map((r) => [r.action, r.actor, r.target]),
    [
      ["asset_type_created", "admin:ada", "assettype:m365"],
      ["asset_type_updated", "admin:ada", "assettype:m365"],
      ["asset_type_cloned", "admin:ada", "assettype:m365-copy"],
      ["asset_type_deleted", "admin:ada", "assettype:m365-copy"],
    ],
  );
  const upd = rows.rows[1]!.data as { before: { displayName: string }; after: { displayName: string } };
  assert.equal(upd.before.displayName, "Microsoft 365 E3");
  assert.equal(upd.after.displayName, "M365 E5");
  assert.equal((rows.rows[2]!.data as { from: string }).from, "m365");

  // The API server's own schema refusal comes back as 422 with its message.
  const bad = await put("bad", assetTypeSpec({ assignment: { model: "CapacityPooled", capacity: -1 } }));
  assert.ok([400, 422].includes(bad.statusCode), bad.body);
});

test("runbook changes are audited with secret parameters redacted", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin");
  const a = await signInAs(api, "ada");
  const spec = runbookSpec();
  // A second step passes the same secret parameter inline: its value must not reach the audit log.
  spec.steps.push({
    name: "verify",
    shell: "bash",
    script: "echo verify",
    parameters: [{ name: "apiKey", value: "hunter2-inline" }],
  } as never);
  const r = await api.app.inject({
    method: "PUT",
    url: "/runbooks/m365-provision",
    headers: a.headers,
    payload: { spec },
  });
  assert.equal(r.statusCode, 201, r.body);
  spec.steps[0]!.script = "echo changed";
  const r2 = await api.app.inject({
    method: "PUT",
    url: "/runbooks/m365-provision",
    headers: a.headers,
    payload: { spec },
  });
  assert.equal(r2.statusCode, 200, r2.body);
  const row = await api.db.query<{ data: string }>(
    "SELECT data::text AS data FROM audit_events WHERE action = 'runbook_updated'",
  );
  assert.equal(row.rows.length, 1);
  assert.match(row.rows[0]!.data, /echo changed/);
  assert.ok(!row.rows[0]!.data.includes("hunter2-inline"), row.rows[0]!.data);
  assert.match(row.rows[0]!.data, /\[redacted\]/);
});

test("ACL: a scoped admin sees only granted types; others answer byte-identically to missing ones", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const scopedUser = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  for (const name of ["granted", "hidden"]) {
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: root.headers,
      payload: { spec: assetTypeSpec() },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${scopedUser.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["granted"] },
  });
  assert.equal(g.statusCode, 200, g.body);

  const sam = await signInAs(api, "sam");
  const list = await api.app.inject({ method: "GET", url: "/assettypes", headers: sam.headers });
  assert.deepEqual(
    list.json<{ items: { name: string }[] }>().items.map((i) => i.name),
    ["granted"],
  );
  const rootList = await api.app.inject({ method: "GET", url: "/assettypes", headers: root.headers });
  assert.equal(rootList.json<{ items: unknown[] }>().items.length, 2, "superadmin bypasses grants");

  // Every verb on the hidden type, captured now while it exists ...
  const calls = [
    { method: "GET" as const, url: "/assettypes/hidden" },
    { method: "PUT" as const, url: "/assettypes/hidden", payload: { spec: assetTypeSpec() } },
    { method: "DELETE" as const, url: "/assettypes/hidden" },
    { method: "POST" as const, url: "/assettypes/hidden/clone", payload: { name: "stolen" } },
  ];
  const hidden = await Promise.all(calls.map((c) => api.app.inject({ ...c, headers: sam.headers })));
  // ... then for real missing ids, after the superadmin deleted it.
  const gone = await api.app.inject({ method: "DELETE", url: "/assettypes/hidden", headers: root.headers });
  assert.equal(gone.statusCode, 204);
  for (const [i, c] of [calls[0]!, calls[2]!, calls[3]!].entries()) {
    const missing = await api.app.inject({ ...c, headers: sam.headers });
    const h = hidden[[0, 2, 3][i]!]!;
    assert.equal(h.statusCode, 404, `${c.method} ${c.url}`);
    assert.equal(h.body, missing.body, `${c.method} ${c.url}: byte-identical body`);
    assert.equal(h.headers["content-type"], missing.headers["content-type"]);
    assert.equal(h.headers["content-length"], missing.headers["content-length"]);
  }
  // PUT of an existing hidden type is the same 404 as GET of a missing one.
  const missingGet = await api.app.inject({ method: "GET", url: "/assettypes/hidden", headers: sam.headers });
  assert.equal(hidden[1]!.statusCode, 404);
  assert.equal(hidden[1]!.body, missingGet.body);

  // A scoped admin does not create types (catalogue-wide): a new name outside the grants is the
  // GET's 404 (test/api/security-gaps.test.ts covers the probe in full).
  const mine = await api.app.inject({
    method: "PUT",
    url: "/assettypes/mine",
    headers: sam.headers,
    payload: { spec: assetTypeSpec() },
  });
  assert.equal(mine.statusCode, 404, mine.body);
  const after = await api.app.inject({ method: "GET", url: "/assettypes", headers: sam.headers });
  assert.deepEqual(
    after
      .json<{ items: { name: string }[] }>()
      .items.map((i) => i.name)
      .sort(),
    ["granted"],
  );

  // An admin with zero grants sees everything, and creating does not scope them.
  await addAdmin(api, "una", "admin");
  const una = await signInAs(api, "una");
  await api.app.inject({
    method: "PUT",
    url: "/assettypes/unas",
    headers: una.headers,
    payload: { spec: assetTypeSpec() },
  });
  const unaList = await api.app.inject({ method: "GET", url: "/assettypes", headers: una.headers });
  assert.deepEqual(
    unaList
      .json<{ items: { name: string }[] }>()
      .items.map((i) => i.name)
      .sort(),
    ["granted", "unas"],
  );
});
