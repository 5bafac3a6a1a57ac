// The AD account through the employee lifecycle against a real Active Directory, everything
// real: a Samba AD DC on 127.0.0.4 (the other AD test files' domains are on 127.0.0.1 to
// 127.0.0.3, so this one runs beside them), the API (ingest, audit) on Postgres, the operator,
// and the local node running the runner, which does kinit from the keytab Secret and runs
// runbooks/ad-account-ldap-bash.yaml. Every outcome is read back from AD over LDAP, not taken
// from the runbook's words.
//
// Joiner: ann's account exists, disabled (as HR's feed makes it); a Provision enables it and sets
// department, title and manager (bob's DN). Mover: a Modify sets the new values; the same Modify
// again changes nothing and says so. Leaver: a Deprovision disables the account and moves it to
// OU=Leavers, her group memberships untouched; a Provision later brings her back. A leaver whose
// account was deleted by hand: Revoked, "nothing to do". A stale keytab: Failed with the KDC's
// error, AD unchanged. And the service account's rights: what the runbooks need, nothing more.
// One-time password (the helpdesk case): a joiner's Provision and a Modify that carry a password
// in the Order's Secret `<order>-attrs` (made as the API makes it) reset it in AD: the KDC then
// answers it with "Password expired" (the old one: "Password incorrect"), pwdLastSet is 0, a
// lockout is cleared, and no output line or audit row holds the value; a Modify without one
// leaves the password alone and says nothing about it.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Order } from "../../crds/generated/index.ts";
import { TARGET_LABEL, labelValue } from "../../api/orders/index.ts";
import { secretAttributesRef, storeSecretAttributes } from "../../api/orders/secret-attributes.ts";
import { applyCrds } from "../support/crds.ts";
import { createKerberosSecret, hasSamba, startAdDomain, type AdDomain } from "../support/samba.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { condition, create, INGEST_SECRET, phaseIs, runOperator, waitOrder } from "../operator/support.ts";
import { addToken, bearer, newApi } from "../api/support.ts";
import { ACCOUNT_SAMPLE, KERBEROS_SECRET, RUN_MS, catalogue, domainOrSkip, settled } from "./ad-support.ts";

const TYPE = "ad-account-ldap-bash";
const ANN = { id: "ann@example.com", email: "ann@example.com" };
const BOB = { id: "bob@example.com", email: "bob@example.com" };
const CAROL = { id: "carol@example.com", email: "carol@example.com" };
const DAVE = { id: "dave@example.com", email: "dave@example.com" };
const ERIN = { id: "erin@example.com", email: "erin@example.com" };

let ad: AdDomain | undefined;

before(async () => {
  await applyCrds();
  if (!(await hasSamba())) return;
  ad = await startAdDomain({
    address: "127.0.0.4",
    users: [
      { name: "ann", mail: ANN.email, disabled: true },
      { name: "bob", mail: BOB.email },
      { name: "carol", mail: CAROL.email, disabled: true },
      { name: "dave", mail: DAVE.email, disabled: true },
      { name: "erin", mail: ERIN.email, disabled: true },
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
  for (const obj of await catalogue(domain, { file: ACCOUNT_SAMPLE, keepApproval: true }))
    await create(ns, obj.kind === "AssetType" ? "assettypes" : "runbooks", obj);
  const auditor = await addToken(api, "auditor", ["audit:read"]);
  /** The runner's output lines of an Order, as ingested into the record: `<step>: <text>`. */
  const linesOf = async (order: string): Promise<string[]> => {
    const r = await api.app.inject({
      method: "GET",
      url: `/audit/orders/${order}/log`,
      headers: bearer(auditor),
    });
    assert.equal(r.statusCode, 200, r.body);
    return r
      .json<{ lines: { kind: string; step?: string; text?: string }[] }>()
      .lines.filter((l) => l.kind === "line")
      .map((l) => `${l.step ?? ""}: ${l.text ?? ""}`);
  };
  /** The raw bodies a user (an auditor) can read about an Order: its log and its audit rows. */
  const recordOf = async (order: string): Promise<string> => {
    const bodies: string[] = [];
    for (const url of [`/audit/orders/${order}/log`, `/audit?order=${order}&limit=1000`]) {
      const r = await api.app.inject({ method: "GET", url, headers: bearer(auditor) });
      assert.equal(r.statusCode, 200, r.body);
      bodies.push(r.body);
    }
    return bodies.join("\n");
  };
  return { api, ns, linesOf, recordOf };
}

type Requester = { id: string; email: string };

const accountOrder = (
  name: string,
  requester: Requester,
  attributes: Record<string, string>,
  more: Partial<Order["spec"]> = {},
): Order => ({
  apiVersion: "ipsolis.io/v1alpha1",
  kind: "Order",
  metadata: { name },
  spec: { assetType: TYPE, requester, attributes, ...more },
});

/** A Modify of `target` with the full new set of values, labelled as the API makes one. */
const modifyOrder = (
  name: string,
  target: string,
  requester: Requester,
  attributes: Record<string, string>,
) => {
  const o = accountOrder(name, requester, attributes, { action: "Modify", target });
  return {
    ...o,
    metadata: {
      name,
      labels: {
        "ipsolis.io/asset-type": labelValue(TYPE),
        "ipsolis.io/requester": labelValue(requester.id),
        [TARGET_LABEL]: labelValue(target),
      },
    },
  };
};

const deprovisionOrder = (target: string, requester: Requester) =>
  accountOrder(`${target}-deprovision`, requester, {}, { action: "Deprovision", target });

/** Creates an Order and waits for its end phase; the time it took goes to the test's diagnostics. */
async function run(
  t: TestContext,
  ns: string,
  o: Order,
  want: "Provisioned" | "Revoked" | "Failed",
): Promise<Order> {
  const t0 = Date.now();
  await create(ns, "orders", o);
  const done = await settled(ns, o.metadata?.name ?? "", want);
  t.diagnostic(
    `${o.spec.action ?? "Provision"} ${o.metadata?.name ?? ""}: created → ${want} in ${Date.now() - t0} ms`,
  );
  return done;
}

const stepsOf = (o: Order) => o.status?.steps?.map((s) => [s.name, s.state]);

/** A password that meets AD's complexity rule, like the API's OneTimePassword (16 characters). */
const newPassword = () => `Aa1!${randomBytes(9).toString("base64url")}`;
/** unicodePwd's value for a password: the UTF-16LE of it in double quotes. */
const unicodePwdOf = (password: string) => Buffer.from(`"${password}"`, "utf16le");
/** Every form of a password the record must not hold: as is, base64, base64url, the LDIF value. */
const formsOf = (password: string) => [
  password,
  Buffer.from(password).toString("base64"),
  Buffer.from(password).toString("base64url"),
  unicodePwdOf(password).toString("base64"),
];

/**
 * What the DC's KDC says to `kinit <user>` with `password` (stdin), in a ticket cache of its own,
 * with the fixture's krb5.conf: "Password expired" proves the password was right but must change
 * (KDC_ERR_KEY_EXPIRED); a wrong one gets "Password incorrect" (KDC_ERR_PREAUTH_FAILED).
 */
async function kinitAs(domain: AdDomain, user: string, password: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-kinit-"));
  try {
    return await new Promise<string>((resolve) => {
      const p = execFile(
        "kinit",
        [`${user}@${domain.realm}`],
        {
          env: {
            PATH: process.env.PATH ?? "",
            KRB5_CONFIG: domain.krb5ConfPath,
            KRB5CCNAME: `FILE:${join(dir, "cc")}`,
          },
          timeout: 30_000,
        },
        (err, stdout, stderr) => resolve(`${err ? "failed" : "ok"}: ${stdout}${stderr}`),
      );
      p.stdin?.end(`${password}\n`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Now as an AD FILETIME (100 ns since 1601). */
const fileTimeNow = () => (BigInt(Date.now()) * 10_000n + 116_444_736_000_000_000n).toString();

// First, and without Orders: it changes nothing (every write it tries must be refused).
test("the service account's delegated rights: the runbooks' writes only, nothing broader", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  t.diagnostic(
    `AD domain ${domain.realm} on ${domain.address}: provisioned in ${domain.timings.provisionMs} ms, LDAP ready in ${domain.timings.readyMs} ms`,
  );
  for (const r of domain.service.rights) t.diagnostic(`granted on ${r.ou}: ${r.sddl} (${r.why})`);
  const outsider = await domain.addUser("outsider", { container: "CN=Users" });
  const leaver = await domain.addUser("lee", { container: "OU=Leavers", disabled: true });
  const spare = await domain.addUser("spare");
  const svc = `CN=${domain.service.name},CN=Users,${domain.baseDn}`;
  const set = (dn: string, attr: string, value: string) =>
    `dn: ${dn}\nchangetype: modify\nreplace: ${attr}\n${attr}: ${value}\n`;
  const resetPw = (dn: string) =>
    `dn: ${dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: ${unicodePwdOf(newPassword()).toString("base64")}\n`;
  const move = (dn: string, to: string) =>
    `dn: ${dn}\nchangetype: modrdn\nnewrdn: ${dn.split(",")[0] ?? ""}\ndeleteoldrdn: 1\nnewsuperior: ${to}\n`;
  const refused: [string, string][] = [
    ["another attribute of a user in Managed (description)", set(domain.userDn("bob"), "description", "x")],
    ["department of a user outside Managed (CN=Users)", set(outsider, "department", "Sales")],
    ["department of a user in Leavers", set(leaver, "department", "Sales")],
    [
      "userAccountControl of a user in Leavers (enabling a leaver in place)",
      set(leaver, "userAccountControl", "512"),
    ],
    ["its own userAccountControl", set(svc, "userAccountControl", "66048")],
    ["a move out of CN=Users into Leavers", move(outsider, domain.leaversOu)],
    ["a move out of Managed into CN=Users", move(spare, `CN=Users,${domain.baseDn}`)],
    ["a move of a group into Leavers", move(domain.groupDn("VPN-Users"), domain.leaversOu)],
    [
      "the password of a user outside Managed (Administrator)",
      resetPw(`CN=Administrator,CN=Users,${domain.baseDn}`),
    ],
    ["its own password", resetPw(svc)],
    ["the password of a user in Leavers", resetPw(leaver)],
    ["pwdLastSet of a user outside Managed", set(outsider, "pwdLastSet", "0")],
    ["lockoutTime of a user in Leavers", set(leaver, "lockoutTime", "0")],
    [
      "membership of Domain Admins",
      `dn: CN=Domain Admins,CN=Users,${domain.baseDn}\nchangetype: modify\nadd: member\nmember: ${svc}\n`,
    ],
  ];
  for (const [what, ldif] of refused) {
    const r = await domain.modifyAsService(ldif);
    assert.equal(r.ok, false, `${what}: refused`);
    assert.match(r.ok ? "" : r.message, /Insufficient access \(50\)/, what);
  }
  assert.equal((await domain.account("spare"))?.parent, domain.managedOu, "nothing moved");
  assert.equal((await domain.account("outsider"))?.department, undefined, "nothing written");
});

test("joiner, mover, leaver: Provision enables ann's account with her HR attributes, Modify follows a change (and changes nothing when nothing changed), Deprovision disables it and moves it to Leavers; a Provision brings her back", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  const { ns, linesOf } = await setup(t, domain);
  const bobDn = domain.userDn("bob");
  const vpn = domain.groupDn("VPN-Users");
  // A membership she has outside this asset: the leaver's move must keep it.
  await domain.addMember("VPN-Users", "ann");
  const before = await domain.account("ann");
  assert.equal(before?.enabled, false, "ann's account starts disabled");
  assert.equal(before?.department, undefined);

  // Joiner.
  const p = await run(
    t,
    ns,
    accountOrder("ann-account", ANN, { department: "Sales", title: "Engineer", manager: BOB.id }),
    "Provisioned",
  );
  assert.deepEqual(stepsOf(p), [
    ["move-to-managed", "Succeeded"],
    ["enable", "Succeeded"],
    ["set-attributes", "Succeeded"],
  ]);
  let acct = await domain.account("ann");
  assert.equal(acct?.enabled, true, "enabled in AD");
  assert.equal(
    (acct?.userAccountControl ?? 0) & ~0x2,
    (before?.userAccountControl ?? 0) & ~0x2,
    "other bits kept",
  );
  assert.equal(acct?.parent, domain.managedOu);
  assert.equal(acct?.department, "Sales");
  assert.equal(acct?.title, "Engineer");
  assert.equal(acct?.manager, bobDn, "manager is bob's DN");
  const joined = await linesOf("ann-account");
  assert.ok(
    joined.includes(
      `enable: authenticating as ${domain.service.principal} (Kerberos) to ldap://${domain.address}`,
    ),
    joined.join("\n"),
  );
  assert.ok(joined.some((l) => l.startsWith(`enable: enabled ${ANN.id} (${domain.userDn("ann")})`)));
  assert.ok(
    joined.includes(`set-attributes: ${ANN.id}: manager set to ${bobDn} (was empty)`),
    joined.join("\n"),
  );
  const keytab = domain.service.keytab.toString("base64");
  assert.ok(!joined.join("\n").includes(keytab), "no keytab bytes in the log");

  // Mover: Sales → Finance, Engineer → Lead, same manager.
  const moved = { department: "Finance", title: "Lead", manager: BOB.id };
  const m1 = await run(t, ns, modifyOrder("ann-account-m-1", "ann-account", ANN, moved), "Provisioned");
  assert.deepEqual(stepsOf(m1), [["set-attributes", "Succeeded"]]);
  acct = await domain.account("ann");
  assert.equal(acct?.department, "Finance");
  assert.equal(acct?.title, "Lead");
  assert.equal(acct?.manager, bobDn);
  assert.equal(acct?.enabled, true);
  const changed = await linesOf("ann-account-m-1");
  assert.ok(
    changed.includes(`set-attributes: ${ANN.id}: department set to Finance (was Sales)`),
    changed.join("\n"),
  );
  assert.ok(changed.includes(`set-attributes: ${ANN.id}: manager already ${bobDn}`), changed.join("\n"));

  // The same change again: nothing to do, and the output says so.
  const m2 = await run(t, ns, modifyOrder("ann-account-m-2", "ann-account", ANN, moved), "Provisioned");
  assert.deepEqual(stepsOf(m2), [["set-attributes", "Succeeded"]]);
  assert.deepEqual(await domain.account("ann"), acct, "AD unchanged");
  const same = await linesOf("ann-account-m-2");
  assert.ok(same.includes(`set-attributes: ${ANN.id}: department already Finance`), same.join("\n"));
  assert.ok(
    same.includes(`set-attributes: nothing changed for ${ANN.id} (${domain.userDn("ann")})`),
    same.join("\n"),
  );

  // Leaver.
  const d = await run(t, ns, deprovisionOrder("ann-account", ANN), "Revoked");
  assert.deepEqual(stepsOf(d), [
    ["disable", "Succeeded"],
    ["move-to-leavers", "Succeeded"],
  ]);
  await waitOrder(ns, "ann-account", phaseIs("Revoked"), RUN_MS);
  acct = await domain.account("ann");
  const leaverDn = `CN=ann,${domain.leaversOu}`;
  assert.equal(acct?.enabled, false, "disabled in AD");
  assert.equal(acct?.dn, leaverDn, "under OU=Leavers");
  assert.deepEqual(acct?.memberOf, [vpn], "her group memberships are untouched");
  assert.ok((await domain.membersOf("VPN-Users")).includes(leaverDn), "the group follows the move");
  const left = await linesOf("ann-account-deprovision");
  assert.ok(
    left.some((l) => l.startsWith(`disable: disabled ${ANN.id} (${domain.userDn("ann")})`)),
    left.join("\n"),
  );
  assert.ok(
    left.some((l) =>
      l.startsWith(`move-to-leavers: moved ${ANN.id} (${domain.userDn("ann")}) to ${domain.leaversOu}`),
    ),
  );

  // She comes back: out of Leavers first, then enabled, then her attributes.
  const back = await run(
    t,
    ns,
    accountOrder("ann-account-2", ANN, { department: "Finance", title: "Lead" }),
    "Provisioned",
  );
  assert.deepEqual(stepsOf(back), [
    ["move-to-managed", "Succeeded"],
    ["enable", "Succeeded"],
    ["set-attributes", "Succeeded"],
  ]);
  acct = await domain.account("ann");
  assert.equal(acct?.dn, domain.userDn("ann"), "back in Managed");
  assert.equal(acct?.enabled, true);
  assert.equal(acct?.department, "Finance", "already Finance: kept");
  assert.equal(acct?.manager, undefined, "no manager given: cleared");
  const returned = await linesOf("ann-account-2");
  assert.ok(returned.includes(`set-attributes: ${ANN.id}: department already Finance`), returned.join("\n"));
});

test("a manager without an AD account clears manager and says so; a leaver whose account is gone: Revoked, nothing to do", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  const { ns, linesOf } = await setup(t, domain);
  await run(
    t,
    ns,
    accountOrder("carol-account", CAROL, { department: "Sales", manager: "nobody@example.com" }),
    "Provisioned",
  );
  const acct = await domain.account("carol");
  assert.equal(acct?.enabled, true);
  assert.equal(acct?.department, "Sales");
  assert.equal(acct?.title, undefined);
  assert.equal(acct?.manager, undefined);
  const lines = await linesOf("carol-account");
  assert.ok(
    lines.includes(
      `set-attributes: ${CAROL.id}: manager nobody@example.com has no AD account under ${domain.baseDn}: clearing manager`,
    ),
    lines.join("\n"),
  );

  // An admin deleted her account by hand before she left.
  await domain.deleteUser("carol");
  const d = await run(t, ns, deprovisionOrder("carol-account", CAROL), "Revoked");
  assert.deepEqual(stepsOf(d), [
    ["disable", "Succeeded"],
    ["move-to-leavers", "Succeeded"],
  ]);
  assert.equal(await domain.account("carol"), undefined);
  const left = await linesOf("carol-account-deprovision");
  for (const step of ["disable", "move-to-leavers"])
    assert.ok(
      left.includes(`${step}: no account found for ${CAROL.id} under ${domain.baseDn}; nothing to do`),
      left.join("\n"),
    );
});

test("one-time password: a joiner's Provision sets it, a Modify with one resets it (must change at next sign-in, lockout cleared, the old one refused), a Modify without one leaves it alone; the value is in no line or audit row", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  const { api, ns, linesOf, recordOf } = await setup(t, domain);
  const erinDn = domain.userDn("erin");
  /** Creates the Order, then its Secret as the API does (owned by it, labelled, immutable). */
  const runWith = async (o: Order, password: string) => {
    const name = o.metadata?.name ?? "";
    const secret = { password };
    const t0 = Date.now();
    const made = await create(ns, "orders", {
      ...o,
      spec: { ...o.spec, ...secretAttributesRef(name, secret) },
    });
    await storeSecretAttributes({ kc: api.kc, namespace: ns }, made, secret, () => Promise.resolve());
    const done = await settled(ns, name, "Provisioned");
    t.diagnostic(
      `${o.spec.action ?? "Provision"} ${name} with a password: created → Provisioned in ${Date.now() - t0} ms`,
    );
    return done;
  };
  const noLeak = async (order: string, done: Order, passwords: string[]) => {
    const record = `${await recordOf(order)}\n${JSON.stringify(done)}`;
    for (const pw of passwords)
      for (const form of formsOf(pw))
        assert.ok(!record.includes(form), `${order}: no form of the password in the record`);
  };
  const attrs = { department: "Sales", title: "Engineer", manager: BOB.id };

  // Joiner with a first password.
  const first = newPassword();
  const p = await runWith(accountOrder("erin-account", ERIN, attrs), first);
  assert.deepEqual(stepsOf(p), [
    ["move-to-managed", "Succeeded"],
    ["enable", "Succeeded"],
    ["set-attributes", "Succeeded"],
  ]);
  let acct = await domain.account("erin");
  assert.equal(acct?.enabled, true);
  assert.equal(acct?.pwdLastSet, "0", "must change at the next sign-in");
  assert.equal(acct?.department, "Sales");
  assert.match(await kinitAs(domain, "erin", first), /Password expired/, "the KDC knows the first password");
  const joined = await linesOf("erin-account");
  assert.ok(
    joined.includes(`set-attributes: ${ERIN.id}: password reset; it must be changed at the next sign-in`),
    joined.join("\n"),
  );
  assert.ok(!joined.some((l) => /unlocked/.test(l)), "she was not locked out");
  await noLeak("erin-account", p, [first]);

  // She signed in and chose her own password (pwdLastSet -1: "now"), then locked herself out.
  const set = (attr: string, value: string) =>
    domain.modifyAsService(`dn: ${erinDn}\nchangetype: modify\nreplace: ${attr}\n${attr}: ${value}\n`);
  assert.deepEqual(await set("pwdLastSet", "-1"), { ok: true });
  assert.deepEqual(await set("lockoutTime", fileTimeNow()), { ok: true });
  acct = await domain.account("erin");
  assert.notEqual(acct?.pwdLastSet, "0");
  assert.equal(acct?.lockedOut, true, "locked out");

  // The helpdesk case: her manager orders a reset (a Modify with the full values and a password).
  const second = newPassword();
  const m1 = await runWith(modifyOrder("erin-account-m-1", "erin-account", ERIN, attrs), second);
  assert.deepEqual(stepsOf(m1), [["set-attributes", "Succeeded"]]);
  acct = await domain.account("erin");
  assert.equal(acct?.pwdLastSet, "0", "must change at the next sign-in");
  assert.equal(acct?.lockedOut, false, "unlocked");
  assert.equal(acct?.lockoutTime, "0");
  assert.equal(acct?.enabled, true);
  assert.match(await kinitAs(domain, "erin", second), /Password expired/, "the new password is set");
  assert.match(await kinitAs(domain, "erin", first), /Password incorrect/, "the old one no longer works");
  const reset = await linesOf("erin-account-m-1");
  for (const line of [
    `set-attributes: ${ERIN.id}: password reset; it must be changed at the next sign-in`,
    `set-attributes: nothing changed for ${ERIN.id} (${erinDn})`,
  ])
    assert.ok(reset.includes(line), reset.join("\n"));
  assert.ok(
    reset.some((l) => l.startsWith(`set-attributes: ${ERIN.id}: unlocked (lockoutTime was `)),
    reset.join("\n"),
  );
  await noLeak("erin-account-m-1", m1, [first, second]);

  // A mover's Modify without a password: the password and pwdLastSet stay as they are.
  assert.deepEqual(await set("pwdLastSet", "-1"), { ok: true });
  const before = await domain.account("erin");
  const m2 = await run(
    t,
    ns,
    modifyOrder("erin-account-m-2", "erin-account", ERIN, { ...attrs, title: "Lead" }),
    "Provisioned",
  );
  assert.deepEqual(stepsOf(m2), [["set-attributes", "Succeeded"]]);
  acct = await domain.account("erin");
  assert.equal(acct?.title, "Lead");
  assert.equal(acct?.pwdLastSet, before?.pwdLastSet, "pwdLastSet unchanged");
  // pwdLastSet is "now" again: the password she has works, without a change.
  assert.match(await kinitAs(domain, "erin", second), /^ok: /, "her password is the one she had");
  const moved = await linesOf("erin-account-m-2");
  assert.ok(!moved.some((l) => /password|unlocked/i.test(l)), moved.join("\n"));
});

// Last in this file: it changes the service account's password (the old keytab goes stale).
test("a stale keytab: the Provision Fails with the KDC's Preauthentication failed, no step runs, AD unchanged", async (t) => {
  const domain = domainOrSkip(t, ad);
  if (!domain) return;
  const stale = await domain.staleKeytab();
  const { ns } = await setup(t, domain, stale);
  const before = await domain.account("dave");
  const o = await run(
    t,
    ns,
    accountOrder("dave-account", DAVE, { department: "Sales", title: "Engineer" }),
    "Failed",
  );
  const msg = condition(o, "Ready")?.message ?? "";
  t.diagnostic(`Ready: ${msg}`);
  assert.match(msg, /kinit/);
  assert.match(msg, /Preauthentication failed/);
  assert.ok(msg.includes(domain.service.principal), msg);
  assert.deepEqual(stepsOf(o), [
    ["move-to-managed", "Skipped"],
    ["enable", "Skipped"],
    ["set-attributes", "Skipped"],
  ]);
  const after = await domain.account("dave");
  assert.deepEqual(after, before, "nothing changed in AD");
  assert.equal(after?.enabled, false);
});
