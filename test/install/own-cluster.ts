// helm.test.ts installs, upgrades and downgrades the product's CRDs (cluster-scoped) as a real
// install does, including the previous chart's older CRDs. On the run's shared control plane that
// would change the schema under every other test running at the same time, so this file gets a
// control plane of its own (the binaries are cached: it starts in seconds). Everything in
// test/support reads the kubeconfig from the environment lazily, so pointing the environment at
// the private control plane before the first test is enough.
import { after } from "node:test";
import { startControlPlane } from "../cluster/control-plane.ts";

export async function useOwnControlPlane(): Promise<void> {
  const started = Date.now();
  const cp = await startControlPlane({ log: (l) => process.stderr.write(`[own-cp] ${l}\n`) });
  process.env.IPSOLIS_TEST_KUBECONFIG = cp.kubeconfig;
  process.env.IPSOLIS_TEST_CP_DIR = cp.dir;
  process.env.IPSOLIS_TEST_BIN_DIR = cp.binDir;
  process.stderr.write(`[own-cp] control plane ${cp.server} ready in ${Date.now() - started} ms\n`);
  after(() => cp.stop());
}
