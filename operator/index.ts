// The operator's public surface for other processes (the API): nothing else of operator/ may
// be imported from outside it. Importing this module starts nothing.
export { loadKubeConfig, translateKubeError } from "./kube/client.ts";
// The operator itself, for `./dev up` and tests that run it in-process (starts only when called).
export { startOperator, OperatorEnv, type Operator, type OperatorConfig, type OperatorDeps } from "./main.ts";
// Deterministic names other parts may need to find an Order's children (e.g. the API's revoke).
export { jobNameFor, assetKeyOf } from "./order/names.ts";
