// A joiner against a real Active Directory, everything real: a Samba AD DC (test/support/samba.ts),
// the API (ingest, audit) on Postgres, the operator, and the local node running the runner, which
// does kinit from the keytab Secret and runs runbooks/ad-group-ldap-bash.yaml (ldapmodify -Y
// GSSAPI). The Order ends Provisioned and LDAP shows the membership; the step output in the
// audit log names the Kerberos principal, never the keytab; a Deprovision removes the membership.
// A stale keytab fails the Order with the KDC's "Preauthentication failed" and changes nothing.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Order } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { createKerberosSecret, hasSamba, startAdDomain, type AdDomain } from "../support/samba.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { condition, create, INGEST_SECRET, phaseIs, runOperator, waitOrder } from "../operator/support.ts";
import { addToken, bearer, newApi } from "../api/support.ts";
import { KERBEROS_SECRET, RUN_MS, adOrder, catalogue, domainOrSkip, settled } from "./ad-support.ts";

const ANN = { id: "ann@example.com", email: "ann@example.com" };
const BOB = { id: "bob@example.com", email: "bob@example.com" };

let ad: AdDomain | undefined;

before(async () => {
  await applyCrds();
  // Like the browser tests without chromium: said, not silently passed. ./dev installs samba.
  if (!(await hasSamba())) return;
  ad = await startAdDomain({
    users: [
      { name: "ann", mail: ANN.email },
      { name: "bob", mail: BOB.email },
    ],
    groups: ["VPN-Users"],
  });
});
after(() => ad?.stop());

async function setup(t: TestContext, domain: AdDomain, keytab?: Buffer) {
  const api = await newApi(t, { config: { IPSOLIS_INGEST_SECRET: INGEST_SECRET }, people: false });
  const ns = api.namespace;
  const base = await api.app.listen({ host: "127.0.0.1", port: 0 });
  await runLocalNodeIn(t, ns, 40);
  await runOperator(t, ns, { IPSOLIS_INGEST_URL: base, IPSOLIS_INGEST_SECRET: INGEST_SECRET });
  await createKerberosSecret(api.kc, ns, KERBEROS_SECRET, domain, keytab);
  for (const obj of await catalogue(domain))
    await create(ns, obj.kind === "AssetType" ? "assettypes" : "runbooks", obj);
  return { api, ns };
}

const vpnOrder = (
  name: string,
  requester: { id: string; email: string },
  more: Partial<Order["spec"]> = {},
) => adOrder(name, "vpn-access-ldap-bash", requester, more);

test("joiner: an AD-group order is Provisioned, LDAP shows the membership, the log names the principal and never the keytab; Deprovision removes it", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  t.diagnostic(
    `AD domain ${domain.realm}: provisioned in ${domain.timings.provisionMs} ms, LDAP ready in ${domain.timings.readyMs} ms`,
  );
  const { api, ns } = await setup(t, domain);
  const annDn = domain.userDn("ann");
  assert.deepEqual(await domain.membersOf("VPN-Users"), [], "nobody in the group yet");

  const t0 = Date.now();
  await create(ns, "orders", vpnOrder("ann-vpn", ANN));
  const o = await settled(ns, "ann-vpn", "Provisioned");
  const joinMs = Date.now() - t0;
  t.diagnostic(`joiner: order created → Provisioned in ${joinMs} ms`);
  assert.equal(condition(o, "Ready")?.status, "True");
  assert.deepEqual(
    o.status?.steps?.map((s) => [s.name, s.state, s.attempts]),
    [
      ["add-member", "Succeeded", 1],
      ["verify", "Succeeded", 1],
    ],
  );
  assert.deepEqual(await domain.membersOf("VPN-Users"), [annDn], "ann is in VPN-Users in AD");

  // What an auditor reads: the runner's lines, as ingested into the record.
  const auditor = await addToken(api, "auditor", ["audit:read"]);
  const log = await api.app.inject({
    method: "GET",
    url: "/audit/orders/ann-vpn/log",
    headers: bearer(auditor),
  });
  assert.equal(log.statusCode, 200, log.body);
  const lines = log.json<{ lines: { kind: string; step?: string; text?: string }[] }>().lines;
  const texts = lines.filter((l) => l.kind === "line").map((l) => `${l.step ?? ""}: ${l.text ?? ""}`);
  assert.ok(
    texts.includes(
      `add-member: authenticating as ${domain.service.principal} (Kerberos) to ldap://${domain.address}`,
    ),
    texts.join("\n"),
  );
  assert.ok(
    texts.some((l) =>
      l.startsWith(`add-member: added ${ANN.id} (${annDn}) to ${domain.groupDn("VPN-Users")}`),
    ),
  );
  assert.ok(texts.includes(`verify: verified: ${ANN.id} is a member of ${domain.groupDn("VPN-Users")}`));
  const everything = log.body;
  const keytab = domain.service.keytab;
  for (const form of [
    keytab.toString("base64"),
    keytab.toString("hex"),
    keytab.subarray(-32).toString("base64"),
  ])
    assert.ok(!everything.includes(form), "no keytab bytes in the log");
  const rows = await api.app.inject({ method: "GET", url: "/audit?order=ann-vpn", headers: bearer(auditor) });
  const actions = rows.json<{ items: { action: string }[] }>().items.map((r) => r.action);
  assert.ok(actions.filter((a) => a === "step_succeeded").length >= 2, actions.join(", "));
  assert.ok(!rows.body.includes(keytab.toString("base64")));

  // Leaving the group: the deprovision runbook removes the membership in AD.
  const t1 = Date.now();
  await create(
    ns,
    "orders",
    vpnOrder("ann-vpn-deprovision", ANN, { action: "Deprovision", target: "ann-vpn" }),
  );
  const d = await settled(ns, "ann-vpn-deprovision", "Revoked");
  t.diagnostic(`deprovision: order created → Revoked in ${Date.now() - t1} ms`);
  assert.deepEqual(
    d.status?.steps?.map((s) => [s.name, s.state]),
    [["remove-member", "Succeeded"]],
  );
  await waitOrder(ns, "ann-vpn", phaseIs("Revoked"), RUN_MS);
  assert.deepEqual(await domain.membersOf("VPN-Users"), [], "the membership is gone from AD");
});

// Last in this file: it changes the service account's password (the old keytab goes stale).
test("a stale keytab: the order Fails with the KDC's Preauthentication failed, no step runs, AD unchanged", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  const stale = await domain.staleKeytab();
  const { ns } = await setup(t, domain, stale);
  const before = await domain.membersOf("VPN-Users");
  await create(ns, "orders", vpnOrder("bob-vpn", BOB));
  const o = await waitOrder(ns, "bob-vpn", phaseIs("Failed"), RUN_MS);
  const msg = condition(o, "Ready")?.message ?? "";
  assert.match(msg, /kinit/);
  assert.match(msg, /Preauthentication failed/);
  assert.ok(msg.includes(domain.service.principal), msg);
  assert.deepEqual(
    o.status?.steps?.map((s) => [s.name, s.state]),
    [
      ["add-member", "Skipped"],
      ["verify", "Skipped"],
    ],
  );
  assert.deepEqual(await domain.membersOf("VPN-Users"), before, "nothing changed in AD");
  assert.ok(!before.includes(domain.userDn("bob")));
});
