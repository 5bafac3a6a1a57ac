// What test/run.ts hands the test processes. Tests read the environment only through here.
export type TestEnv = {
  kubeconfig: string;
  pgAdminUrl: string;
  cpDir: string;
  binDir: string;
};

export function testEnv(): TestEnv {
  const e = process.env;
  const kubeconfig = e.IPSOLIS_TEST_KUBECONFIG;
  const pgAdminUrl = e.IPSOLIS_TEST_PG_URL;
  const cpDir = e.IPSOLIS_TEST_CP_DIR;
  const binDir = e.IPSOLIS_TEST_BIN_DIR;
  if (!kubeconfig || !pgAdminUrl || !cpDir || !binDir) {
    throw new Error(
      "integration tests need the real servers: run them through `npm test` (test/run.ts), which starts them",
    );
  }
  return { kubeconfig, pgAdminUrl, cpDir, binDir };
}
