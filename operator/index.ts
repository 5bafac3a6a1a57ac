// The operator's public surface for other processes (the API): nothing else of operator/ may
// be imported from outside it. Importing this module starts nothing.
export { loadKubeConfig, translateKubeError } from "./kube/client.ts";
