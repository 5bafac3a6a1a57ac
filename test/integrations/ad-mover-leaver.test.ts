// Mover and leaver against a real Active Directory, everything real: a Samba AD DC on 127.0.0.2
// (so this file can run beside ad-joiner.test.ts, whose domain is on 127.0.0.1), the API (SCIM,
// HR webhook, ingest, audit) on Postgres, the operator, and the local node running the runner,
// which does kinit from the keytab Secret and runs runbooks/ad-group-ldap-bash.yaml, one asset
// type per AD group. Every outcome is read back from AD over LDAP.
//
// Mover (issue #22): ann changes department, Sales → Finance, as the platform does it today: an
// Order for the new group's asset type and a Deprovision of the old one. The mover runbook for
// AD attributes (department, manager, title from a SCIM change) does not exist yet.
// Leaver: the HR webhook for ann fans out one Deprovision per AD-backed asset she holds (three);
// every one of her memberships is gone from AD, bob's are untouched, three deprovisions are
// audited and ann can no longer order.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createKerberosSecret, hasSamba, startAdDomain, type AdDomain } from "../support/samba.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { create, INGEST_SECRET, phaseIs, runOperator, waitOrder } from "../operator/support.ts";
import { addToken, bearer } from "../api/support.ts";
import { signBody } from "../../api/leaver/signature.ts";
import { isOrderingBlocked } from "../../record/employees/store.ts";
import { HR_SECRET, auditRows, newScimApi, userBody } from "../scim/support.ts";
import { KERBEROS_SECRET, RUN_MS, adOrder, catalogue, domainOrSkip, settled } from "./ad-support.ts";

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
  return { api, ns };
}

/** The groups (of ours) a user is a member of, read from AD. */
async function groupsOf(domain: AdDomain, user: string): Promise<string[]> {
  const dn = domain.userDn(user);
  const out: string[] = [];
  for (const g of Object.values(GROUPS)) if ((await domain.membersOf(g)).includes(dn)) out.push(g);
  return out.sort();
}

test("mover then leaver in AD: Sales → Finance moves the membership; the leaver removes all three of ann's memberships and leaves bob's", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  t.diagnostic(
    `AD domain ${domain.realm} on ${domain.address}: provisioned in ${domain.timings.provisionMs} ms, LDAP ready in ${domain.timings.readyMs} ms`,
  );
  const { api, ns } = await setup(t, domain);
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  assert.equal((await api.scim("POST", "/Users", userBody(ANN.id))).statusCode, 201);
  // Bob is in VPN-Users already (outside ipsolis): the leaver of ann must not touch him.
  await domain.addMember("VPN-Users", "bob");

  // Joiner: ann gets VPN, Sales and Printers (three orders at once).
  for (const k of ["vpn", "sales", "print"] as const)
    await create(ns, "orders", adOrder(`ann-${k}`, typeOf(k), ANN));
  for (const k of ["vpn", "sales", "print"] as const) await settled(ns, `ann-${k}`, "Provisioned");
  mark("joiner: three AD-group orders Provisioned");
  assert.deepEqual(await groupsOf(domain, "ann"), ["Printers", "Sales", "VPN-Users"]);

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

  // Leaver: the HR webhook fans out one Deprovision per asset ann still holds.
  const tl = Date.now();
  const body = JSON.stringify({ upn: ANN.id });
  const r = await api.app.inject({
    method: "POST",
    url: "/hr/leaver",
    headers: { "content-type": "application/json", "x-hub-signature-256": signBody(HR_SECRET, body) },
    payload: body,
  });
  assert.equal(r.statusCode, 202, r.body);
  const id = r.json<{ id: string }>().id;
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
  mark(`leaver: webhook → three Deprovisions Revoked in ${Date.now() - tl} ms`);
  assert.deepEqual(await groupsOf(domain, "ann"), [], "every membership of ann is gone from AD");
  assert.deepEqual(await domain.membersOf("VPN-Users"), [domain.userDn("bob")], "bob keeps his");

  const lead = await addToken(api, "admin", ["leavers:read"], "it-lead");
  const rep = await api.app.inject({ method: "GET", url: `/leavers/${id}`, headers: bearer(lead) });
  assert.equal(rep.statusCode, 200, rep.body);
  assert.deepEqual(rep.json<{ summary: Record<string, number> }>().summary, {
    queued: 0,
    inProgress: 0,
    revoked: 3,
    failed: 0,
    cancelled: 0,
    total: 3,
  });
  const audited = await auditRows(api, "action = 'deprovision_queued'");
  assert.deepEqual(audited.map((a) => a.order).sort(), held.map((k) => `ann-${k}-deprovision`).sort());
});
