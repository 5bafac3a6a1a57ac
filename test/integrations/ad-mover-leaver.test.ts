// Mover and leaver against a real Active Directory, everything real: a Samba AD DC on 127.0.0.2
// (so this file can run beside ad-joiner.test.ts, whose domain is on 127.0.0.1), the API (SCIM,
// HR webhook, ingest, audit) on Postgres, the operator, and the local node running the runner,
// which does kinit from the keytab Secret and runs runbooks/ad-group-ldap-bash.yaml, one asset
// type per AD group. Every outcome is read back from AD over LDAP.
//
// Joiner: ann (SCIM: Sales, Engineer, manager bob) gets her AD account (runbooks/ad-account-ldap-
// bash.yaml: enabled, department, title and manager filled from the record) and three groups.
// Mover (issue #22): Entra's SCIM PATCH moves her to Finance as Lead; the mover makes a Modify of
// the account, whose runbook sets the AD attributes; her group change (Sales → Finance) is an
// Order for the new group's type and a Deprovision of the old one.
// Leaver: SCIM active=false fans out one Deprovision per AD-backed asset she holds (three groups
// and the account): every membership is gone from AD, the account is disabled and in the leavers
// OU, bob's membership is untouched, four deprovisions are audited, the leaver report says the
// directory was reached, and ann can no longer order.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createKerberosSecret, hasSamba, startAdDomain, type AdDomain } from "../support/samba.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { create, INGEST_SECRET, phaseIs, runOperator, waitOrder } from "../operator/support.ts";
import { addAdmin, addToken, bearer, signInAs } from "../api/support.ts";
import { isOrderingBlocked } from "../../record/employees/store.ts";
import { auditRows, newScimApi, userBody } from "../scim/support.ts";
import {
  ACCOUNT_SAMPLE,
  KERBEROS_SECRET,
  RUN_MS,
  adOrder,
  catalogue,
  domainOrSkip,
  settled,
} from "./ad-support.ts";
import { eventually } from "../support/kube.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ANN = { id: "ann@example.com", email: "ann@example.com" };
const BOB = { id: "bob@example.com", email: "bob@example.com" };
// Asset type suffix → AD group.
const GROUPS = { vpn: "VPN-Users", sales: "Sales", finance: "Finance", print: "Printers" } as const;
type Kind = keyof typeof GROUPS;
const typeOf = (k: Kind) => `vpn-access-ldap-bash-${k}`;

let ad: AdDomain | undefined;

before(async () => {
  await applyCrds();
  if (!(await hasSamba())) return;
  ad = await startAdDomain({
    address: "127.0.0.2",
    users: [
      { name: "ann", mail: ANN.email },
      { name: "bob", mail: BOB.email },
    ],
    groups: Object.values(GROUPS),
  });
});
after(() => ad?.stop());

async function setup(t: TestContext, domain: AdDomain) {
  const api = await newScimApi(t, { config: { IPSOLIS_INGEST_SECRET: INGEST_SECRET } });
  const ns = api.namespace;
  const base = await api.app.listen({ host: "127.0.0.1", port: 0 });
  await runLocalNodeIn(t, ns, 40);
  await runOperator(t, ns, { IPSOLIS_INGEST_URL: base, IPSOLIS_INGEST_SECRET: INGEST_SECRET });
  await createKerberosSecret(api.kc, ns, KERBEROS_SECRET, domain);
  for (const [k, group] of Object.entries(GROUPS)) {
    for (const obj of await catalogue(domain, { group, suffix: k }))
      await create(ns, obj.kind === "AssetType" ? "assettypes" : "runbooks", obj);
  }
  for (const obj of await catalogue(domain, { file: ACCOUNT_SAMPLE }))
    await create(ns, obj.kind === "AssetType" ? "assettypes" : "runbooks", obj);
  return { api, ns };
}

/** The groups (of ours) a user is a member of, read from AD. */
async function groupsOf(domain: AdDomain, user: string): Promise<string[]> {
  const dn = domain.userDn(user);
  const out: string[] = [];
  for (const g of Object.values(GROUPS)) if ((await domain.membersOf(g)).includes(dn)) out.push(g);
  return out.sort();
}

test("joiner, mover and leaver in AD: the account follows a SCIM department change through the mover; SCIM active=false disables and moves the account and removes all of ann's memberships, bob keeps his", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  t.diagnostic(
    `AD domain ${domain.realm} on ${domain.address}: provisioned in ${domain.timings.provisionMs} ms, LDAP ready in ${domain.timings.readyMs} ms`,
  );
  const { api, ns } = await setup(t, domain);
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const bob = await api.scim("POST", "/Users", userBody(BOB.id));
  assert.equal(bob.statusCode, 201, bob.body);
  const made = await api.scim(
    "POST",
    "/Users",
    userBody(ANN.id, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
      title: "Engineer",
      [ENT]: { department: "Sales", manager: { value: bob.json<{ id: string }>().id } },
    }),
  );
  assert.equal(made.statusCode, 201, made.body);
  const annId = made.json<{ id: string }>().id;
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  // Bob is in VPN-Users already (outside ipsolis): the leaver of ann must not touch him.
  await domain.addMember("VPN-Users", "bob");

  // Joiner: ann gets VPN, Sales and Printers (three orders at once).
  for (const k of ["vpn", "sales", "print"] as const)
    await create(ns, "orders", adOrder(`ann-${k}`, typeOf(k), ANN));
  // Her account, ordered through the API: department, title and manager come from SCIM.
  const acc = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "ad-account-ldap-bash", requester: ANN, reason: "joiner" },
  });
  assert.equal(acc.statusCode, 201, acc.body);
  const account = acc.json<{ name: string; attributes: Record<string, string> }>();
  assert.deepEqual(account.attributes, { department: "Sales", title: "Engineer", manager: BOB.email });
  for (const k of ["vpn", "sales", "print"] as const) await settled(ns, `ann-${k}`, "Provisioned");
  await settled(ns, account.name, "Provisioned");
  mark("joiner: the account and three AD-group orders Provisioned");
  assert.deepEqual(await groupsOf(domain, "ann"), ["Printers", "Sales", "VPN-Users"]);
  let ann = await domain.account("ann");
  assert.equal(ann?.enabled, true);
  assert.equal(ann?.department, "Sales");
  assert.equal(ann?.title, "Engineer");
  assert.equal(ann?.manager, domain.userDn("bob"));

  // Mover in the record: Entra's PATCH of department and title → a Modify of her account.
  const tr = Date.now();
  const moved = await api.scim("PATCH", `/Users/${annId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      { op: "Replace", path: `${ENT}:department`, value: "Finance" },
      { op: "Replace", path: "title", value: "Lead" },
    ],
  });
  assert.equal(moved.statusCode, 200, moved.body);
  const processed = await eventually(
    "the mover processed",
    async () => (await auditRows(api, "action = 'mover_processed'"))[0],
    RUN_MS,
  );
  const mods = processed.data.modifyOrders as string[];
  assert.equal(mods.length, 1, JSON.stringify(processed.data));
  await settled(ns, mods[0]!, "Provisioned");
  ann = await domain.account("ann");
  mark(`mover: SCIM PATCH to AD department ${ann?.department} in ${Date.now() - tr} ms`);
  assert.equal(ann?.department, "Finance", "the mover runbook set the AD department");
  assert.equal(ann?.title, "Lead");
  assert.equal(ann?.manager, domain.userDn("bob"), "the manager did not change");

  // Mover: Sales → Finance. The new group first, then the old one goes.
  const tm = Date.now();
  await create(ns, "orders", adOrder("ann-finance", typeOf("finance"), ANN));
  await settled(ns, "ann-finance", "Provisioned");
  await create(
    ns,
    "orders",
    adOrder("ann-sales-deprovision", typeOf("sales"), ANN, { action: "Deprovision", target: "ann-sales" }),
  );
  await settled(ns, "ann-sales-deprovision", "Revoked");
  await waitOrder(ns, "ann-sales", phaseIs("Revoked"), RUN_MS);
  mark(`mover: Finance added and Sales removed in ${Date.now() - tm} ms`);
  assert.deepEqual(
    await groupsOf(domain, "ann"),
    ["Finance", "Printers", "VPN-Users"],
    "ann moved to Finance",
  );
  assert.deepEqual(await domain.membersOf("Sales"), [], "nobody left in Sales");

  // Leaver: SCIM active=false fans out one Deprovision per asset ann still holds.
  const tl = Date.now();
  const r = await api.scim("PATCH", `/Users/${annId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: false }],
  });
  assert.equal(r.statusCode, 200, r.body);
  const lead = await addToken(api, "admin", ["leavers:read"], "it-lead");
  const events = await api.app.inject({ method: "GET", url: "/leavers", headers: bearer(lead) });
  const id = events.json<{ items: { id: string }[] }>().items[0]!.id;
  assert.equal(await isOrderingBlocked(api.db, ANN, api.clock.now), true, "ann can no longer order");
  const held = ["vpn", "finance", "print"] as const;
  for (const k of held) {
    const d = await settled(ns, `ann-${k}-deprovision`, "Revoked");
    assert.deepEqual(
      d.status?.steps?.map((s) => [s.name, s.state]),
      [["remove-member", "Succeeded"]],
    );
    await waitOrder(ns, `ann-${k}`, phaseIs("Revoked"), RUN_MS);
  }
  const off = await settled(ns, `${account.name}-deprovision`, "Revoked");
  await waitOrder(ns, account.name, phaseIs("Revoked"), RUN_MS);
  mark(`leaver: SCIM active=false → four Deprovisions Revoked in ${Date.now() - tl} ms`);
  assert.ok(
    off.status?.steps?.every((s) => s.state === "Succeeded"),
    JSON.stringify(off.status?.steps),
  );
  ann = await domain.account("ann");
  assert.equal(ann?.enabled, false, "ann's account is disabled");
  assert.equal(ann?.parent, domain.leaversOu, "and in the leavers OU");
  // Read by her current DN (she moved): no group of ours lists her any more.
  const ours = new Set(Object.values(GROUPS).map((g) => domain.groupDn(g).toLowerCase()));
  assert.deepEqual(
    (ann?.memberOf ?? []).filter((g) => ours.has(g.toLowerCase())),
    [],
    "every membership of ann is gone from AD",
  );
  assert.deepEqual(await domain.membersOf("VPN-Users"), [domain.userDn("bob")], "bob keeps his");

  const rep = await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(lead) });
  assert.equal(rep.statusCode, 200, rep.body);
  assert.deepEqual(rep.json<{ summary: Record<string, number> }>().summary, {
    queued: 0,
    inProgress: 0,
    revoked: 4,
    failed: 0,
    cancelled: 0,
    total: 4,
  });
  // One directory, reached: every runbook here logs in as the realm's service account.
  assert.deepEqual(
    rep
      .json<{ systems: { name: string; state: string; revoked: number }[] }>()
      .systems.map((x) => [x.name, x.state, x.revoked]),
    [[`kerberos:${domain.realm}`, "reached", 4]],
  );
  const audited = await auditRows(api, "action = 'deprovision_queued'");
  assert.deepEqual(
    audited.map((a) => a.order).sort(),
    [...held.map((k) => `ann-${k}-deprovision`), `${account.name}-deprovision`].sort(),
  );
});
