// CLI for the local node (tests and the local demo only):
//   node test/localnode/main.ts --kubeconfig <file> [--namespace <ns>] [--node-name <name>]
// Runs until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { startLocalNode } from "./node.ts";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "node-name": { type: "string" },
  },
});
const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
if (!kubeconfig) {
  process.stderr.write(
    "usage: node test/localnode/main.ts --kubeconfig <file> [--namespace <ns>] [--node-name <name>]\n",
  );
  process.exit(2);
}
const node = await startLocalNode({
  kubeconfig,
  namespace: values.namespace,
  nodeName: values["node-name"],
  log: (l) => process.stderr.write(`${l}\n`),
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void node.stop().then(() => process.exit(0));
  });
}
