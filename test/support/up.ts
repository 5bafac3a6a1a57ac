// `./dev up`: the whole product on this machine. A real control plane and Postgres, the CRDs
// and admission policy, the local node (standing in for the kubelet), the operator with its
// history mirror and cost check, the API and portal, a demo identity provider for employee
// sign-in, a mail sink (mailpit) for the notifications, a throw-away AD domain (Samba, when
// installed), and demo data (a catalogue whose runbooks are bash twins, one of them against the
// domain and approved by the requester's manager; employees provisioned over SCIM, bob ann's
// manager). It prints the journey of issue #22 to try. Ctrl-C stops all of it.
import { execFile, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { startControlPlane, freePort } from "../cluster/control-plane.ts";
import { startPostgres } from "./postgres.ts";
import { startLocalNode } from "../localnode/node.ts";
import { startTestIdp } from "./oidc.ts";
import { startServer } from "../../api/server.ts";
import { startOperator, OperatorEnv } from "../../operator/main.ts";
import { createPool } from "../../record/db.ts";
import { createLogger } from "../../record/log.ts";
import { seedDemoIdentity } from "../../record/identity/demo.ts";
import { CORE_USER, ENTERPRISE_USER } from "../../api/scim/schema.ts";
import { SAMBA_DEBS, createKerberosSecret, hasSamba, startAdDomain } from "./samba.ts";
import { startMailpit, type Mailpit } from "./mailpit.ts";
import { ACCOUNT_SAMPLE, KERBEROS_SECRET, catalogue } from "../integrations/ad-support.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (l: string) => process.stderr.write(`[up] ${l}\n`);
const t0 = Date.now();
const NAMESPACE = "ipsolis";
const secret = () => randomBytes(32).toString("base64url");
const stops: (() => Promise<unknown>)[] = [];

say("starting the control plane and Postgres (a cold first run builds Kubernetes: ~8 min on 2 cores)");
// The mail sink starts meanwhile (its first run builds mailpit: about a minute). Without it the
// demo goes on with no e-mail channel: managers then approve in the portal. The last lines of a
// failed build's output say why.
const mailing: Promise<Mailpit | { failed: string }> = startMailpit().catch((err: unknown) => ({
  failed: (err instanceof Error ? err.message : String(err)).trim().split("\n").slice(-2).join(" / "),
}));
const [cp, pgsrv] = await Promise.all([startControlPlane({ log: say }), startPostgres({ log: say })]);
stops.push(() => Promise.allSettled([cp.stop(), pgsrv.stop()]));

const kc = new k8s.KubeConfig();
kc.loadFromFile(cp.kubeconfig);
const objects = k8s.KubernetesObjectApi.makeApiClient(kc);

/** Server-side applies every document of a YAML file (client-node models keep CEL rules, enums, defaults). */
async function applyFile(path: string, namespace?: string) {
  for (const doc of parseAllDocuments(await readFile(path, "utf8"))) {
    if (doc.toJS() === null) continue;
    const model = k8s.loadYaml<k8s.KubernetesObject>(doc.toString());
    if (namespace && model.metadata) model.metadata.namespace = namespace;
    await objects.patch(model, undefined, undefined, "ipsolis-up", true, k8s.PatchStrategy.ServerSideApply);
  }
}

const crdFiles = (await readdir(join(root, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
for (const f of crdFiles) await applyFile(join(root, "crds", f));
await kc
  .makeApiClient(k8s.CoreV1Api)
  .createNamespace({ body: { metadata: { name: NAMESPACE } } })
  .catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  });
await applyFile(join(root, "manifests/admission/order-approvals.yaml"));
await applyFile(join(root, "manifests/api/rbac.yaml"), NAMESPACE);
await applyFile(join(root, "manifests/api/tokenreview.yaml"));
say(
  `applied ${crdFiles.length} CRDs, the approvals and order-status admission policies, the API's and the operator's RBAC`,
);

// The API and the operator run as their own ServiceAccounts, so the admission policies let each
// (and only it) write Order approvals and Order status, exactly as in a cluster.
await applyFile(join(root, "manifests/operator/rbac.yaml"), NAMESPACE);
await applyFile(join(root, "manifests/admission/order-status.yaml"));
const ca = await readFile(cp.caFile);
async function serviceAccountKubeconfig(sa: string): Promise<string> {
  const tr = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name: sa,
    namespace: NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
  });
  const file = join(cp.dir, `${sa}.kubeconfig`);
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "${cp.server}", certificate-authority-data: ${ca.toString("base64")} } }]
users: [{ name: ${sa}, user: { token: "${tr.status?.token ?? ""}" } }]
contexts: [{ name: local, context: { cluster: local, user: ${sa}, namespace: ${NAMESPACE} } }]
current-context: local
`,
    { mode: 0o600 },
  );
  return file;
}
function kubeConfigOf(file: string): k8s.KubeConfig {
  const k = new k8s.KubeConfig();
  k.loadFromFile(file);
  return k;
}
const apiKubeconfig = await serviceAccountKubeconfig("ipsolis-api");
const operatorKubeconfig = await serviceAccountKubeconfig("ipsolis-operator");

const localNode = await startLocalNode({ kubeconfig: cp.kubeconfig, log: (l) => say(`local node: ${l}`) });
stops.unshift(() => localNode.stop());

// A demo identity provider in Entra ID's URL shape, so employees can sign in to the portal.
const apiPort = await freePort();
const publicUrl = `http://127.0.0.1:${apiPort}`;
const employees = {
  ann: {
    oid: "6f1c1a52-0001-4000-8000-000000000001",
    preferred_username: "ann@corp.example",
    email: "ann@corp.example",
    name: "Ann Example",
  },
  bob: {
    oid: "6f1c1a52-0001-4000-8000-000000000002",
    preferred_username: "bob@corp.example",
    email: "bob@corp.example",
    name: "Bob Example",
  },
};
const idp = await startTestIdp({
  redirectUris: [`${publicUrl}/auth/oidc/callback`],
  users: employees,
  certDir: cp.dir,
});
stops.unshift(() => idp.stop());

const mailed = await mailing;
const mail = "failed" in mailed ? undefined : mailed;
const mailFailure = "failed" in mailed ? mailed.failed : "";
// mailpit's inbox page needs web assets that a build from its Go module lacks (its release
// process builds them with npm): the page is blank. Its own message views work without them.
const newestMailTo = (addr: string) => `${mail?.webUrl}/view/latest.html?query=to:${addr}`;
if (mail) {
  stops.unshift(() => mail.stop());
  say(`mail sink: mailpit, SMTP on 127.0.0.1:${mail.smtpPort}, HTTP on ${mail.webUrl}`);
} else {
  say(`mail skipped (mailpit did not start: ${mailFailure}); approvals are in the portal only`);
}

const ingestSecret = secret();
const api = await startServer({
  IPSOLIS_DATABASE_URL: pgsrv.adminUrl,
  IPSOLIS_NAMESPACE: NAMESPACE,
  IPSOLIS_KUBECONFIG: apiKubeconfig,
  IPSOLIS_SESSION_SECRET: secret(),
  IPSOLIS_LINK_SECRET: secret(),
  IPSOLIS_INGEST_SECRET: ingestSecret,
  IPSOLIS_HR_WEBHOOK_SECRET: secret(),
  IPSOLIS_SERVICENOW_WEBHOOK_SECRET: secret(),
  IPSOLIS_LISTEN_PORT: String(apiPort),
  IPSOLIS_PUBLIC_URL: publicUrl,
  IPSOLIS_LOG_LEVEL: "warn",
  IPSOLIS_OIDC_AUTHORITY: idp.authority,
  IPSOLIS_OIDC_CLIENT_ID: idp.clientId,
  IPSOLIS_OIDC_CLIENT_SECRET: idp.clientSecret,
  IPSOLIS_OIDC_CA_FILE: cp.caFile,
  // mailpit on loopback speaks no TLS: STARTTLS off is right here and nowhere else.
  ...(mail
    ? {
        IPSOLIS_SMTP_HOST: "127.0.0.1",
        IPSOLIS_SMTP_PORT: String(mail.smtpPort),
        IPSOLIS_SMTP_STARTTLS: "off",
        IPSOLIS_SMTP_FROM: "ipsolis <ipsolis@corp.example>",
      }
    : {}),
});
stops.unshift(() => api.stop());
const db = createPool(pgsrv.adminUrl, { max: 4, applicationName: "ipsolis-up" });
stops.unshift(() => db.end());
// The database is new on every run (startPostgres makes its own cluster), so the demo admin
// and token are always seeded.
const demo = await seedDemoIdentity(db);
if (!demo) throw new Error("the demo's new database already has an admin account");
// The employees arrive as Entra ID's provisioning would send them: SCIM POSTs with a token of
// the `scim` scope (the demo token has every scope). bob first: ann's enterprise `manager` is
// his SCIM id, which the API resolves to his e-mail for Manager approval.
async function provision(e: (typeof employees)[keyof typeof employees], manager?: string): Promise<string> {
  const [givenName, familyName] = e.name.split(" ");
  const r = await fetch(`${publicUrl}/scim/v2/Users`, {
    method: "POST",
    headers: { authorization: `Bearer ${demo!.token}`, "content-type": "application/scim+json" },
    body: JSON.stringify({
      schemas: [CORE_USER, ENTERPRISE_USER],
      userName: e.preferred_username,
      externalId: e.oid,
      displayName: e.name,
      name: { givenName, familyName },
      emails: [{ value: e.email, type: "work", primary: true }],
      active: true,
      [ENTERPRISE_USER]: {
        department: "Finance",
        costCenter: "CC-100",
        ...(manager ? { manager: { value: manager } } : {}),
      },
    }),
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`SCIM POST /Users for ${e.preferred_username}: ${r.status} ${body}`);
  return (JSON.parse(body) as { id: string }).id;
}
const bobId = await provision(employees.bob);
const annId = await provision(employees.ann, bobId);
say("employees over SCIM: ann and bob (bob is ann's manager)");

const log = createLogger({ level: "warn", name: "ipsolis-operator" });
const operator = await startOperator(
  OperatorEnv.parse({
    IPSOLIS_NAMESPACE: NAMESPACE,
    KUBECONFIG: operatorKubeconfig,
    IPSOLIS_OPERATOR_PORT: "0",
    IPSOLIS_OPERATOR_HOST: "127.0.0.1",
    IPSOLIS_INGEST_URL: publicUrl,
    IPSOLIS_INGEST_SECRET: ingestSecret,
    // The record's parts run in the operator, as deployed: history mirror, cost check, anchors.
    IPSOLIS_DATABASE_URL: pgsrv.adminUrl,
    LOG_LEVEL: "warn",
  }),
  { kubeConfig: kubeConfigOf(operatorKubeconfig), log },
);
stops.unshift(() => operator.stop());

// The approval schedule (reminders, escalation, expiry): in a cluster the chart's CronJob runs
// api/notify/tick.ts every five minutes; here the same program every minute, as the API's
// ServiceAccount (an expiry writes spec.approvals). A failed pass says why and the next retries.
let ticking: ChildProcess | undefined;
const tickEnv = {
  PATH: process.env.PATH ?? "",
  IPSOLIS_DATABASE_URL: pgsrv.adminUrl,
  IPSOLIS_NAMESPACE: NAMESPACE,
  IPSOLIS_KUBECONFIG: apiKubeconfig,
  IPSOLIS_LOG_LEVEL: "warn",
  ...(mail ? { IPSOLIS_NOTIFY_CHANNELS: "email" } : {}),
};
const tickTimer = setInterval(() => {
  if (ticking) return;
  ticking = execFile(
    process.execPath,
    [join(root, "api/notify/tick.ts")],
    { env: tickEnv },
    (err, _o, stderr) => {
      ticking = undefined;
      if (err) say(`approval schedule pass failed (the next one retries): ${stderr.trim() || err.message}`);
    },
  );
}, 60_000);
stops.unshift(async () => {
  clearInterval(tickTimer);
  ticking?.kill();
});

// Demo catalogue: the sample runbooks' bash twins run on this machine (no PowerShell here).
// The licence sample reads its app credentials from Secret graph-app; a runbook may read only
// Secrets labelled for runbooks (docs/security/runbook-secrets.md), so the demo one is.
await kc
  .makeApiClient(k8s.CoreV1Api)
  .createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: "graph-app", labels: { "ipsolis.io/runbook-secret": "true" } },
      stringData: { "client-secret": `demo-${randomBytes(12).toString("hex")}` },
    },
  })
  .catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  });
// The *-ldap-bash samples talk to a real AD domain: the demo starts one (Samba AD DC, issue #22)
// with ann and bob in it, when Samba is installed and an LDAP port is free.
const NEEDS_AD = new Set(["ad-group-ldap-bash.yaml", "ad-account-ldap-bash.yaml"]);
const samples = (await readdir(join(root, "runbooks")))
  .filter((f) => f.endsWith("-bash.yaml") && !NEEDS_AD.has(f))
  .sort();
for (const f of samples) await applyFile(join(root, "runbooks", f), NAMESPACE);
say(`demo catalogue: ${samples.join(", ")}`);
/** Whether nothing listens on the LDAP port of this loopback address. */
function isLdapFree(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(389, address, () => srv.close(() => resolve(true)));
  });
}
let adHelp = "";
let journey = "";
// LDAP's ports are fixed, so there is one domain per loopback address. The AD tests take
// 127.0.0.1–127.0.0.3: the demo stays off them, so `./dev test` runs beside `./dev up`.
const AD_ADDRESSES = ["127.0.0.9", "127.0.0.10", "127.0.0.11"];
let adAddress: string | undefined;
for (const a of AD_ADDRESSES) if (!adAddress && (await isLdapFree(a))) adAddress = a;
const skipAd = (why: string) => {
  say(`AD domain skipped: ${why}`);
  adHelp = `  AD domain:   none (${why}), so no VPN journey\n`;
};
if (!(await hasSamba())) {
  skipAd(`Samba is not installed (apt-get install -y --no-install-recommends ${SAMBA_DEBS})`);
} else if (!adAddress) {
  skipAd(`port 389 is taken on ${AD_ADDRESSES.join(", ")} (other domains?)`);
} else {
  say(`starting an AD domain (Samba AD DC on ${adAddress}; about 10 s)`);
  try {
    const ad = await startAdDomain({
      address: adAddress,
      users: Object.entries(employees).map(([name, e]) => ({ name, mail: e.email })),
      groups: ["VPN-Users"],
    });
    stops.unshift(() => ad.stop());
    await createKerberosSecret(kc, NAMESPACE, KERBEROS_SECRET, ad);
    // The group sample and the account sample (enable; department, title and manager follow SCIM;
    // disable and move to OU=Leavers), both pointed at this domain, with their own approvals:
    // VPN access waits for ann's manager, the account needs none.
    const objs = [
      ...(await catalogue(ad, { keepApproval: true })),
      ...(await catalogue(ad, { file: ACCOUNT_SAMPLE, keepApproval: true })),
    ];
    for (const o of objs) {
      const spec = o.spec;
      await objects.patch(
        { ...o, spec, metadata: { ...o.metadata, namespace: NAMESPACE } },
        undefined,
        undefined,
        "ipsolis-up",
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    }
    const keytab = join(ad.dir, "svc.keytab");
    await writeFile(keytab, ad.service.keytab, { mode: 0o600 });
    say(
      `AD domain ${ad.realm} up in ${Math.round((ad.timings.provisionMs + ad.timings.readyMs) / 1000)} s; catalogue: vpn-access-ldap-bash (AD group VPN-Users), ad-account-ldap-bash (ann's account)`,
    );
    adHelp = `  AD domain:   ${ad.realm} at ${ad.ldapUrl} (ann, bob in ${ad.managedOu}; group VPN-Users)\n`;
    const krb = `KRB5_CONFIG=${ad.krb5ConfPath} KRB5CCNAME=${join(ad.dir, "ccache")}`;
    journey = `
Try it: ann orders VPN access, bob (her manager) approves from his mail, ann leaves.
  1. Sign in as ann: ${publicUrl}/auth/oidc/login, login "ann", any password. The sign-in page's
     certificate is from this run's CA (${cp.caFile}): accept the browser's warning.
  2. Order "VPN access (AD over LDAP)" with a justification:
     ${publicUrl}/portal/catalogue/vpn-access-ldap-bash/order   (it waits for bob's approval)
  3. ${
    mail
      ? `Open bob's newest mail, "Approval requested: VPN access (AD over LDAP) for Ann Example …":
     ${newestMailTo("bob@corp.example")}
     Click Approve, then confirm on the page it opens. (Or sign in as "bob": ${publicUrl}/portal/approvals.)`
      : `No mail here (see "mail" above): sign in as "bob" and approve at ${publicUrl}/portal/approvals.`
  }
  4. Seconds later the order is Provisioned and ann is in VPN-Users (the LDAP query shows her DN):
     ${krb} kinit -kt ${keytab} ${ad.service.principal}
     ${krb} ldapsearch -Y GSSAPI -N -Q -LLL -H ${ad.ldapUrl} -b "${ad.groupDn("VPN-Users")}" member
  5. A mover: order "Active Directory account (over LDAP)" as ann (no approval; department, title
     and manager come from her SCIM record): ${publicUrl}/portal/catalogue/ad-account-ldap-bash/order
     Then move her to Sales as Entra would (SCIM PATCH with the demo token):
     curl -s -X PATCH -H "Authorization: Bearer ${demo.token}" -H 'content-type: application/scim+json' -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}' ${publicUrl}/scim/v2/Users/${annId}
     A Modify order follows (curl -H "Authorization: Bearer ${demo.token}" ${publicUrl}/movers
     lists the mover event and what it made); AD says department: Sales:
     ${krb} ldapsearch -Y GSSAPI -N -Q -LLL -H ${ad.ldapUrl} -b "${ad.managedOu}" "(sAMAccountName=ann)" department title manager userAccountControl
  6. A password reset (the helpdesk case): on ann's account order (step 5; ${publicUrl}/portal/orders)
     press "Reset password". The new one-time password goes to bob, not ann: ${
       mail
         ? `his mail "A one-time password for Ann Example …" (${newestMailTo("bob@corp.example")})
     links to the portal page;`
         : `sign in as "bob" at ${publicUrl}/portal/secrets;`
     } as "bob", once the change is done, "Reveal the password" shows it once. It is set in AD and
     must be changed at the first sign-in (kinit says "Password expired"):
     ${krb} kinit ann@${ad.realm}
  7. Make ann a leaver (the HR webhook, authenticated with the demo token):
     curl -s -H "Authorization: Bearer ${demo.token}" -H 'content-type: application/json' -d '{"email":"ann@corp.example"}' ${publicUrl}/hr/leaver
     Her VPN order and her account are revoked (Deprovision orders run the remove runbooks); the
     ldapsearch of step 4 shows no member any more, and her account is disabled in ${ad.leaversOu}. The leaver event and each asset's outcome: ${publicUrl}/console/leavers
`;
  } catch (err) {
    skipAd(err instanceof Error ? err.message : String(err));
  }
}

process.stdout.write(`
ipsolis is up (${Math.round((Date.now() - t0) / 1000)} s)
  portal:      ${publicUrl}/portal/login      (employees: ${publicUrl}/auth/oidc/login as "ann" or "bob", any password)
  console:     ${publicUrl}/console            (IT staff: sign in at ${publicUrl}/portal/login with the admin login below)
  API:         ${publicUrl}   (reference: ${publicUrl}/docs/api, OpenAPI: ${publicUrl}/openapi.json, SCIM: ${publicUrl}/scim/v2)
  kubeconfig:  ${cp.kubeconfig}   (export KUBECONFIG=${cp.kubeconfig}; kubectl: ${cp.binDir}/kubectl get orders -n ${NAMESPACE})
  Postgres:    ${pgsrv.adminUrl}
  operator:    metrics and health on http://127.0.0.1:${operator.port}/metrics
  approvals:   reminders, escalation and expiry: a pass of api/notify/tick.ts every minute (the chart's CronJob)
  mail:        ${
    mail
      ? `mailpit (SMTP 127.0.0.1:${mail.smtpPort}) keeps every mail ipsolis sends. A person's newest: ${newestMailTo("ann@corp.example")}
               all of them: ${mail.webUrl}/api/v1/search?query=to:ann@corp.example   (its inbox page is blank: this build has no web UI assets)`
      : `none (mailpit did not start: ${mailFailure})`
  }
${adHelp}  admin login: ${demo.username} / ${demo.password}
  demo token:  ${demo.token}   (superadmin, every scope: curl -H "Authorization: Bearer …" ${publicUrl}/auth/me)
${journey}
Press Ctrl-C to stop everything.
`);

const STOP_STEP_MS = 3000;
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    say("stopping…");
    void (async () => {
      // Ctrl-C in a terminal reaches the whole process group: the control plane and Postgres
      // may already be gone, so each part gets a few seconds to stop, not its network timeouts.
      for (const stop of stops) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          stop().catch((err: unknown) => say(`stop failed: ${String(err)}`)),
          new Promise<void>((r) => (timer = setTimeout(r, STOP_STEP_MS))),
        ]);
        clearTimeout(timer);
      }
      process.exit(0);
    })();
  });
}
setInterval(() => undefined, 1 << 30);
