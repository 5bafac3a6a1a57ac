// `./dev up`: the product on this machine. A real control plane, Postgres, the CRDs, and
// (as they land) the local node, operator, API and portal with demo data. Ctrl-C stops it all.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { startControlPlane } from "../cluster/control-plane.ts";
import { startPostgres } from "./postgres.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (l: string) => process.stderr.write(`[up] ${l}\n`);
const t0 = Date.now();

say("starting the control plane and Postgres (a cold first run builds Kubernetes: ~8 min on 2 cores)");
const [cp, pgsrv] = await Promise.all([startControlPlane({ log: say }), startPostgres({ log: say })]);

const kc = new k8s.KubeConfig();
kc.loadFromFile(cp.kubeconfig);
const client = k8s.KubernetesObjectApi.makeApiClient(kc);
const crdFiles = (await readdir(join(root, "crds"))).filter((f) => f.endsWith(".yaml")).sort();
for (const f of crdFiles) {
  for (const doc of parseAllDocuments(await readFile(join(root, "crds", f), "utf8"))) {
    const obj = doc.toJS() as k8s.KubernetesObject | null;
    if (!obj) continue;
    // loadYaml gives client-node's model (xKubernetesValidations, _enum, _default); a plain
    // object would lose enums, defaults and CEL rules in client-node's serializer.
    const model = k8s.loadYaml<k8s.KubernetesObject>(doc.toString());
    await client.patch(model, undefined, undefined, "ipsolis-up", true, k8s.PatchStrategy.ServerSideApply);
  }
}
say(`applied ${crdFiles.length} CRD file(s)`);

// The local node (test/localnode): runs the runbook Jobs' pods as local processes.
const { startLocalNode } = await import("../localnode/node.ts");
const localNode = await startLocalNode({ kubeconfig: cp.kubeconfig, log: say });

// The API (issue #5) with a demo superadmin and token, in namespace `ipsolis`.
const apiNamespace = "ipsolis";
await kc
  .makeApiClient(k8s.CoreV1Api)
  .createNamespace({ body: { metadata: { name: apiNamespace } } })
  .catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  });
const { startServer } = await import("../../api/server.ts");
const { seedDemoIdentity } = await import("../../record/identity/demo.ts");
const randomSecret = () => crypto.getRandomValues(Buffer.alloc(32)).toString("base64url");
const apiServer = await startServer({
  IPSOLIS_DATABASE_URL: pgsrv.adminUrl,
  IPSOLIS_NAMESPACE: apiNamespace,
  IPSOLIS_KUBECONFIG: cp.kubeconfig,
  IPSOLIS_SESSION_SECRET: randomSecret(),
  IPSOLIS_LINK_SECRET: randomSecret(),
  IPSOLIS_LISTEN_PORT: "0",
  IPSOLIS_LOG_LEVEL: "warn",
});
const demo = await seedDemoIdentity(apiServer.app.deps.db);
say(`API listening at ${apiServer.url}`);

process.stdout.write(`
ipsolis is up (${Math.round((Date.now() - t0) / 1000)} s)
  kubeconfig:  ${cp.kubeconfig}      (export KUBECONFIG=${cp.kubeconfig}; kubectl at ${cp.binDir}/kubectl)
  API server:  ${cp.server}
  Postgres:    ${pgsrv.adminUrl}
  ipsolis API: ${apiServer.url}   (portal: ${apiServer.url}/portal/login, OpenAPI: ${apiServer.url}/openapi.json)
${demo ? `  demo login:  ${demo.username} / ${demo.password}   demo token: ${demo.token}\n` : ""}Press Ctrl-C to stop everything.
`);

let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    say("stopping…");
    void apiServer
      .stop()
      .finally(() => localNode.stop())
      .finally(() => Promise.allSettled([cp.stop(), pgsrv.stop()]))
      .then(() => process.exit(0));
  });
}
setInterval(() => undefined, 1 << 30);
