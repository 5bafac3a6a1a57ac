// Start the local control plane alone and keep it up until Ctrl-C:
//   node test/cluster/main.ts [--no-controller-manager] [--dir DIR]
// Prints the kubeconfig path and the kubectl to use. With --dir the certificates, etcd data and
// logs stay in DIR after stopping (without it they live in a temp dir that is removed).
import { parseArgs } from "node:util";
import { startControlPlane } from "./control-plane.ts";

const { values } = parseArgs({
  options: { "no-controller-manager": { type: "boolean" }, dir: { type: "string" } },
});
const cp = await startControlPlane({
  controllerManager: !values["no-controller-manager"],
  ...(values.dir ? { dir: values.dir, keepDir: true } : {}),
  log: (l) => process.stderr.write(`${l}\n`),
});
process.stdout.write(
  `control plane up at ${cp.server}\n  export KUBECONFIG=${cp.kubeconfig}\n  kubectl: ${cp.binDir}/kubectl\n  logs: ${cp.dir}/*.log\nCtrl-C stops it.\n`,
);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void cp.stop().then(() => process.exit(0));
  });
}
setInterval(() => undefined, 1 << 30);
