// The KDC goes down during a run, against a real Samba AD DC on 127.0.0.3 (beside the other AD
// test files' domains on .1 and .2), with the API, the operator and the local node all real.
// The runner's kinit still gets its ticket; the KDC then stops answering (a proxy in front of it
// cuts the service-ticket requests), so the step's ldapsearch -Y GSSAPI cannot get a ticket for
// ldap/<dc>. The step fails with the Kerberos error, is retried as the runbook says (retries: 2 →
// 3 attempts), the Order ends Failed with that error in its status, and AD is unchanged. With the
// KDC back, the same order for the same person goes through.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createKerberosSecret, hasSamba, startAdDomain, type AdDomain } from "../support/samba.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { condition, create, INGEST_SECRET, runOperator } from "../operator/support.ts";
import { newApi } from "../api/support.ts";
import {
  KERBEROS_SECRET,
  adOrder,
  catalogue,
  domainOrSkip,
  settled,
  startKdcProxy,
  withKdc,
  type KdcProxy,
} from "./ad-support.ts";

const BOB = { id: "bob@example.com", email: "bob@example.com" };

let ad: AdDomain | undefined;
let proxy: KdcProxy | undefined;

before(async () => {
  await applyCrds();
  if (!(await hasSamba())) return;
  ad = await startAdDomain({
    address: "127.0.0.3",
    users: [{ name: "bob", mail: BOB.email }],
    groups: ["VPN-Users"],
  });
  proxy = await startKdcProxy({ host: ad.address, port: ad.kdcPort });
});
after(async () => {
  await proxy?.stop();
  await ad?.stop();
});

async function setup(t: TestContext, domain: AdDomain, kdc: KdcProxy) {
  const api = await newApi(t, { config: { IPSOLIS_INGEST_SECRET: INGEST_SECRET }, people: false });
  const ns = api.namespace;
  const base = await api.app.listen({ host: "127.0.0.1", port: 0 });
  await runLocalNodeIn(t, ns, 40);
  await runOperator(t, ns, { IPSOLIS_INGEST_URL: base, IPSOLIS_INGEST_SECRET: INGEST_SECRET });
  await createKerberosSecret(api.kc, ns, KERBEROS_SECRET, withKdc(domain, `127.0.0.1:${kdc.port}`));
  for (const obj of await catalogue(domain))
    await create(ns, obj.kind === "AssetType" ? "assettypes" : "runbooks", obj);
  return { ns };
}

test("KDC down after kinit: the step fails with the Kerberos error after its 3 attempts, the Order is Failed, AD unchanged; KDC back: it goes through", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain || !proxy) return;
  const { ns } = await setup(t, domain, proxy);
  const retries = (await catalogue(domain)).flatMap((d) =>
    d.kind === "Runbook" && d.metadata?.name === "ad-group-add-ldap-bash" ? d.spec.steps : [],
  )[0]?.retries;
  assert.equal(retries, 2, "the sample retries add-member twice");

  proxy.mode = "asOnly";
  const t0 = Date.now();
  await create(ns, "orders", adOrder("bob-vpn", "vpn-access-ldap-bash", BOB));
  const o = await settled(ns, "bob-vpn", "Failed");
  t.diagnostic(
    `KDC down: order created → Failed in ${Date.now() - t0} ms (${proxy.cut} KDC connections cut)`,
  );
  const msg = condition(o, "Ready")?.message ?? "";
  t.diagnostic(`Ready: ${msg}`);
  assert.match(msg, /add-member/);
  assert.ok(
    msg.includes(`Cannot contact any KDC for realm '${domain.realm}'`),
    "the Kerberos error is in the status",
  );
  assert.match(msg, /\(after 3 attempts\)$/);
  assert.deepEqual(
    o.status?.steps?.map((s) => [s.name, s.state, s.attempts]),
    [
      ["add-member", "Failed", (retries ?? 0) + 1],
      ["verify", "Skipped", 0],
    ],
  );
  assert.ok(proxy.cut >= (retries ?? 0) + 1, "each attempt asked the KDC and was cut off");
  assert.deepEqual(await domain.membersOf("VPN-Users"), [], "nothing was written to AD");

  proxy.mode = "up";
  const t1 = Date.now();
  await create(ns, "orders", adOrder("bob-vpn-again", "vpn-access-ldap-bash", BOB));
  await settled(ns, "bob-vpn-again", "Provisioned");
  t.diagnostic(`KDC back: order created → Provisioned in ${Date.now() - t1} ms`);
  assert.deepEqual(await domain.membersOf("VPN-Users"), [domain.userDn("bob")]);
});
