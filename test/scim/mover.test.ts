// Movers (#22): attributes that follow the employee record (fromEmployee) are filled from SCIM
// when the asset is ordered and cannot be set by the orderer; a SCIM change of such a field
// (Entra's PATCH of the enterprise department, a title) becomes one Modify Order per held asset
// whose type follows that field, run by its modify runbook, audited from the SCIM write to the
// changed asset. Types without a modify runbook are reported, others are left alone, and a
// leaver's write makes no mover. Real API server, operator, local node (bash runbooks) and Postgres.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { addAdmin, addScopedAdminToken, bearer, signInAs, type Browser } from "../api/support.ts";
import {
  assetType,
  bashStep,
  create,
  phaseIs,
  runbook,
  runOperator,
  waitOrder,
} from "../operator/support.ts";
import { eventually } from "../support/kube.ts";
import { auditRows, listOrders, newScimApi, userBody, type ScimApi } from "./support.ts";
import { processMover } from "../../api/mover/process.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async function scimId(api: ScimApi, body: Record<string, unknown>): Promise<string> {
  const r = await api.scim("POST", "/Users", body);
  assert.equal(r.statusCode, 201, r.body);
  return r.json<{ id: string }>().id;
}

async function orderFor(
  api: ScimApi,
  b: Browser,
  assetTypeName: string,
  attributes: Record<string, unknown> = {},
) {
  return api.app.inject({
    method: "POST",
    url: "/orders",
    headers: b.headers,
    payload: {
      assetType: assetTypeName,
      attributes,
      requester: { id: "ann@example.com", email: "ann@example.com" },
    },
  });
}

const patch = (ops: Record<string, unknown>[]) => ({
  schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  Operations: ops,
});

test("mover: fromEmployee attributes are filled at order time, and a SCIM department/title change modifies every asset that follows them", async (t) => {
  const api = await newScimApi(t);
  const ns = api.namespace;
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  const seen = join(await mkdtemp(join(tmpdir(), "ipsolis-mover-")), "changes");

  await create(
    ns,
    "runbooks",
    runbook("acct-grant", [bashStep("grant", `echo "granted $IPSOLIS_ATTRIBUTES"`)]),
  );
  await create(ns, "runbooks", runbook("acct-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    ns,
    "runbooks",
    runbook("acct-change", [bashStep("change", `echo "$IPSOLIS_ATTRIBUTES" >> ${seen}; echo changed`)]),
  );
  const follows = [
    { name: "department", type: "string", required: true, fromEmployee: "department" },
    { name: "title", type: "string", fromEmployee: "title" },
    { name: "manager", type: "string", fromEmployee: "manager" },
    { name: "note", type: "string" },
  ] as const;
  // The directory account follows department, title and manager and can be changed.
  await create(
    ns,
    "assettypes",
    assetType("dir-account", {
      approval: { policy: "None", onModify: { policy: "None" } },
      runbooks: { provision: "acct-grant", modify: "acct-change", deprovision: "acct-revoke" },
      attributes: [...follows],
      entitlement: { everyone: true },
    }),
  );
  // A badge printed with the department: it follows it but nothing can change it.
  await create(
    ns,
    "assettypes",
    assetType("dir-badge", {
      runbooks: { provision: "acct-grant", deprovision: "acct-revoke" },
      attributes: [{ name: "department", type: "string", fromEmployee: "department" }],
      entitlement: { everyone: true },
    }),
  );
  // A licence that follows nothing: a mover leaves it alone.
  await create(
    ns,
    "assettypes",
    assetType("plain-lic", {
      approval: { policy: "None", onModify: { policy: "None" } },
      runbooks: { provision: "acct-grant", modify: "acct-change", deprovision: "acct-revoke" },
      attributes: [{ name: "seats", type: "integer" }],
      entitlement: { everyone: true },
    }),
  );

  const bobId = await scimId(api, userBody("bob@example.com"));
  const annId = await scimId(
    api,
    userBody("ann@example.com", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
      title: "Engineer",
      [ENT]: { department: "Sales", manager: { value: bobId } },
    }),
  );

  // --- order time: the record fills them, the orderer cannot set them
  const refused = await orderFor(api, ada, "dir-account", { department: "Finance" });
  assert.equal(refused.statusCode, 400, refused.body);
  assert.match(refused.body, /follows the employee record's department \(\\"Sales\\"\) and cannot be set/);
  // The value the record has is accepted (a form echoing it back is not an error).
  const echoed = await orderFor(api, ada, "dir-badge", { department: "Sales" });
  assert.equal(echoed.statusCode, 201, echoed.body);
  const made = await orderFor(api, ada, "dir-account", { note: "joiner" });
  assert.equal(made.statusCode, 201, made.body);
  const account = made.json<{ name: string; attributes: Record<string, string> }>();
  assert.deepEqual(account.attributes, {
    department: "Sales",
    title: "Engineer",
    manager: "bob@example.com",
    note: "joiner",
  });
  const lic = await orderFor(api, ada, "plain-lic", { seats: 2 });
  assert.equal(lic.statusCode, 201, lic.body);
  const badge = echoed.json<{ name: string }>().name;
  const licName = lic.json<{ name: string }>().name;
  for (const n of [account.name, badge, licName]) await waitOrder(ns, n, phaseIs("Provisioned"), 30_000);

  // --- the mover: Entra's PATCH of department and title (manager unchanged)
  const r = await api.scim(
    "PATCH",
    `/Users/${annId}`,
    patch([
      { op: "Replace", path: `${ENT}:department`, value: "Finance" },
      { op: "Replace", path: "title", value: "Lead" },
    ]),
  );
  assert.equal(r.statusCode, 200, r.body);
  const processed = await eventually(
    "the mover processed",
    async () =>
      (await auditRows(api, "action = 'mover_processed' AND target = $1", [`employee:${annId}`]))[0],
    30_000,
  );
  const recorded = await auditRows(api, "action = 'mover_recorded' AND target = $1", [`employee:${annId}`]);
  assert.equal(recorded.length, 1);
  assert.deepEqual(recorded[0]!.data.changes, {
    department: { from: "Sales", to: "Finance" },
    title: { from: "Engineer", to: "Lead" },
  });
  assert.equal(recorded[0]!.source, "scim");
  const mods = processed.data.modifyOrders as string[];
  assert.equal(mods.length, 1, JSON.stringify(processed.data));
  assert.deepEqual(
    processed.data.noModifyRunbook,
    [badge],
    "the badge follows department but cannot be changed",
  );
  const mod = await waitOrder(ns, mods[0]!, phaseIs("Provisioned"), 30_000);
  assert.equal(mod.spec.action, "Modify");
  assert.equal(mod.spec.target, account.name);
  assert.equal(mod.metadata?.labels?.["ipsolis.io/reason"], "mover");
  assert.match(mod.spec.reason ?? "", /department Sales → Finance, title Engineer → Lead/);
  // The asset now shows the new values; the runbook was given them.
  // The target takes the values on its own reconcile, which the Modify's success enqueues.
  const target = await waitOrder(ns, account.name, (o) => o.status?.modifiedBy === mods[0], 30_000);
  assert.deepEqual(target.status?.attributes, {
    department: "Finance",
    title: "Lead",
    manager: "bob@example.com",
    note: "joiner",
  });
  const lines = (await readFile(seen, "utf8")).trim().split("\n");
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]!), target.status?.attributes);
  const asked = await auditRows(api, "action = 'order_modify_requested' AND order_name = $1", [mods[0]]);
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.source, "scim");
  assert.deepEqual(asked[0]!.data.changes, {
    department: { from: "Sales", to: "Finance" },
    title: { from: "Engineer", to: "Lead" },
  });
  // Nothing targets the licence.
  assert.equal((await listOrders(api)).filter((o) => o.spec.target === licName).length, 0);
  // GET /movers (leavers:read) shows the event and what it made.
  const list = await api.app.inject({ method: "GET", url: "/movers", headers: ada.headers });
  assert.equal(list.statusCode, 200, list.body);
  const item = list.json<{
    items: {
      id: string;
      state: string;
      employee: { userName: string };
      result: { modifyOrders: string[] };
    }[];
  }>().items[0]!;
  assert.equal(item.id, processed.data.moverEvent);
  assert.equal(item.state, "processed");
  assert.equal(item.employee.userName, "ann@example.com");
  assert.deepEqual(item.result.modifyOrders, mods);
  // A scoped admin (only plain-lic) is never told about the other teams' asset types.
  const sue = await addScopedAdminToken(api, "sue", ["plain-lic"]);
  const scoped = await api.app.inject({ method: "GET", url: `/movers/${item.id}`, headers: bearer(sue) });
  assert.equal(scoped.statusCode, 200, scoped.body);
  const sr = scoped.json<{ result: Record<string, unknown> }>().result;
  assert.deepEqual([sr.modifyOrders, sr.noModifyRunbook, sr.assetTypes], [[], [], {}]);
  assert.doesNotMatch(scoped.body, /dir-account|dir-badge/);
  const one = await api.app.inject({ method: "GET", url: `/movers/${item.id}`, headers: ada.headers });
  assert.equal(one.statusCode, 200, one.body);
  assert.equal(
    (await api.app.inject({ method: "GET", url: `/movers/${annId}`, headers: ada.headers })).statusCode,
    404,
  );
  // Processing the same event again makes nothing twice.
  assert.equal(await processMover(api.app.deps, processed.data.moverEvent as string), undefined);

  // --- a write that changes none of the followed fields records no mover
  const same = await api.scim(
    "PATCH",
    `/Users/${annId}`,
    patch([{ op: "Replace", path: "nickName", value: "Annie" }]),
  );
  assert.equal(same.statusCode, 200, same.body);
  // A new manager (carol): the manager attribute follows.
  const carolId = await scimId(api, userBody("carol@example.com"));
  const mgr = await api.scim(
    "PATCH",
    `/Users/${annId}`,
    patch([{ op: "Replace", path: `${ENT}:manager`, value: carolId }]),
  );
  assert.equal(mgr.statusCode, 200, mgr.body);
  const second = await eventually(
    "the manager mover processed",
    async () =>
      (await auditRows(api, "action = 'mover_processed' AND target = $1", [`employee:${annId}`]))[1],
    30_000,
  );
  assert.deepEqual(second.data.changes, { manager: { from: "bob@example.com", to: "carol@example.com" } });
  const mod2 = await waitOrder(
    ns,
    (second.data.modifyOrders as string[])[0]!,
    phaseIs("Provisioned"),
    30_000,
  );
  assert.equal(mod2.spec.attributes?.manager, "carol@example.com");
  assert.equal(
    (await auditRows(api, "action = 'mover_recorded'")).length,
    2,
    "the nickName write was no mover",
  );

  // --- the manager renamed (a new UPN): only carol's record is written, ann's attribute follows
  const renamed = await api.scim(
    "PATCH",
    `/Users/${carolId}`,
    patch([{ op: "Replace", path: "userName", value: "carol.chief@example.com" }]),
  );
  assert.equal(renamed.statusCode, 200, renamed.body);
  const third = await eventually(
    "the report's mover processed",
    async () =>
      (await auditRows(api, "action = 'mover_processed' AND target = $1", [`employee:${annId}`]))[2],
    30_000,
  );
  assert.deepEqual(third.data.changes, {
    manager: { from: "carol@example.com", to: "carol.chief@example.com" },
  });
  const mod3 = await waitOrder(ns, (third.data.modifyOrders as string[])[0]!, phaseIs("Provisioned"), 30_000);
  assert.equal(mod3.spec.attributes?.manager, "carol.chief@example.com");
  assert.equal(mod3.spec.target, account.name);
  // Her own rename is a mover of hers too (attributes may follow userName); she holds nothing.
  const own = await auditRows(api, "action = 'mover_recorded' AND target = $1", [`employee:${carolId}`]);
  assert.deepEqual(
    own.map((r) => r.data.changes),
    [{ userName: { from: "carol@example.com", to: "carol.chief@example.com" } }],
  );

  // --- a leaver's write (active=false with a department change) is a leaver, not a mover
  const gone = await api.scim(
    "PATCH",
    `/Users/${annId}`,
    patch([
      { op: "Replace", path: "active", value: false },
      { op: "Replace", path: `${ENT}:department`, value: "Legal" },
    ]),
  );
  assert.equal(gone.statusCode, 200, gone.body);
  assert.equal((await auditRows(api, "action = 'mover_recorded'")).length, 4, "no mover for a leaver");
});
