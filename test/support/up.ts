// `./dev up`: the whole product on this machine. A real control plane and Postgres, the CRDs
// and admission policy, the local node (standing in for the kubelet), the operator with its
// history mirror and cost check, the API and portal, a demo identity provider for employee
// sign-in, a throw-away AD domain (Samba, when installed), and demo data (a catalogue whose
// runbooks are bash twins, one of them against the domain; employees; an order).
// Ctrl-C stops all of it.
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
import { createEmployee, findEmployee } from "../../record/employees/store.ts";
import { SAMBA_DEBS, createKerberosSecret, hasSamba, startAdDomain } from "./samba.ts";
import { KERBEROS_SECRET, catalogue } from "../integrations/ad-support.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (l: string) => process.stderr.write(`[up] ${l}\n`);
const t0 = Date.now();
const NAMESPACE = "ipsolis";
const secret = () => randomBytes(32).toString("base64url");
const stops: (() => Promise<unknown>)[] = [];

say("starting the control plane and Postgres (a cold first run builds Kubernetes: ~8 min on 2 cores)");
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
});
stops.unshift(() => api.stop());
const db = createPool(pgsrv.adminUrl, { max: 4, applicationName: "ipsolis-up" });
stops.unshift(() => db.end());
const demo = await seedDemoIdentity(db);
for (const e of Object.values(employees)) {
  if (await findEmployee(db, e.preferred_username)) continue;
  await createEmployee(
    db,
    {
      userName: e.preferred_username,
      externalId: e.oid,
      employeeNumber: null,
      displayName: e.name,
      emails: [e.email],
      active: true,
      department: "Finance",
      costCenter: "CC-100",
      manager: null,
    },
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: e.preferred_username,
      externalId: e.oid,
    },
    new Date(),
  );
}

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
// ad-group-ldap-bash.yaml talks to a real AD domain: the demo starts one (Samba AD DC on
// 127.0.0.1, issue #22) with ann and bob in it, when Samba is installed and the LDAP ports are free.
const NEEDS_AD = new Set(["ad-group-ldap-bash.yaml"]);
const samples = (await readdir(join(root, "runbooks")))
  .filter((f) => f.endsWith("-bash.yaml") && !NEEDS_AD.has(f))
  .sort();
for (const f of samples) await applyFile(join(root, "runbooks", f), NAMESPACE);
say(`demo catalogue: ${samples.join(", ")}`);
let adHelp = "";
if (await hasSamba()) {
  say("starting an AD domain (Samba AD DC on 127.0.0.1; about 10 s)");
  try {
    const ad = await startAdDomain({
      users: Object.entries(employees).map(([name, e]) => ({ name, mail: e.email })),
      groups: ["VPN-Users"],
    });
    stops.unshift(() => ad.stop());
    await createKerberosSecret(kc, NAMESPACE, KERBEROS_SECRET, ad);
    for (const o of await catalogue(ad)) {
      await objects.patch(
        { ...o, metadata: { ...o.metadata, namespace: NAMESPACE } },
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
      `AD domain ${ad.realm} up in ${Math.round((ad.timings.provisionMs + ad.timings.readyMs) / 1000)} s; catalogue: vpn-access-ldap-bash (AD group VPN-Users)`,
    );
    adHelp = `  AD domain:   ${ad.realm} at ${ad.ldapUrl} (ann, bob in ${ad.managedOu}); order "VPN access (AD over LDAP)" as ann, then:
               KRB5_CONFIG=${ad.krb5ConfPath} KRB5CCNAME=${join(ad.dir, "ccache")} kinit -kt ${keytab} ${ad.service.principal}
               KRB5_CONFIG=${ad.krb5ConfPath} KRB5CCNAME=${join(ad.dir, "ccache")} ldapsearch -Y GSSAPI -N -Q -LLL -H ${ad.ldapUrl} -b "${ad.groupDn("VPN-Users")}" member
`;
  } catch (err) {
    say(`AD domain skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
} else {
  say(`AD domain skipped: Samba is not installed (apt-get install -y --no-install-recommends ${SAMBA_DEBS})`);
}

process.stdout.write(`
ipsolis is up (${Math.round((Date.now() - t0) / 1000)} s)
  portal:      ${publicUrl}/portal/login      (employees: ${publicUrl}/auth/oidc/login as "ann" or "bob", any password)
  console:     ${publicUrl}/console            (IT staff: sign in at ${publicUrl}/portal/login with the admin login below)
  API:         ${publicUrl}   (reference: ${publicUrl}/docs/api, OpenAPI: ${publicUrl}/openapi.json, SCIM: ${publicUrl}/scim/v2)
  kubeconfig:  ${cp.kubeconfig}   (export KUBECONFIG=${cp.kubeconfig}; kubectl: ${cp.binDir}/kubectl get orders -n ${NAMESPACE})
  Postgres:    ${pgsrv.adminUrl}
  operator:    metrics and health on http://127.0.0.1:${operator.port}/metrics
${adHelp}${
  demo
    ? `  admin login: ${demo.username} / ${demo.password}
  demo token:  ${demo.token}   (superadmin, every scope: curl -H "Authorization: Bearer …" ${publicUrl}/auth/me)
`
    : ""
}Press Ctrl-C to stop everything.
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
