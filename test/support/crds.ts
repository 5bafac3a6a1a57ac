// Installs our CRDs (crds/*.yaml) on the test API server once per test process, with
// server-side apply (idempotent, so parallel test processes may all call it), and waits until
// each is Established so objects can be created right away.
import * as k8s from "@kubernetes/client-node";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { testKubeConfig, eventually } from "./kube.ts";

const crdDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "crds");

let applied: Promise<string[]> | undefined;

/**
 * The CRD objects from crds/*.yaml, in file-name order, as client-node models. The models name
 * fields in camelCase (`xKubernetesValidations`, `_enum`, `_default`); client-node serializes
 * from those names, so a plain parsed YAML object would silently lose enums, defaults and CEL
 * rules on the way to the server.
 */
export async function readCrds(): Promise<k8s.V1CustomResourceDefinition[]> {
  const files = (await readdir(crdDir)).filter((f) => f.endsWith(".yaml")).sort();
  return Promise.all(
    files.map(async (f) =>
      k8s.loadYaml<k8s.V1CustomResourceDefinition>(await readFile(join(crdDir, f), "utf8")),
    ),
  );
}

/** Applies every CRD once per process and resolves with their names when all are Established. */
export function applyCrds(): Promise<string[]> {
  applied ??= (async () => {
    const kc = testKubeConfig();
    const client = k8s.KubernetesObjectApi.makeApiClient(kc);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const crds = await readCrds();
    for (const crd of crds) {
      await client.patch(crd, undefined, undefined, "ipsolis-test", true, k8s.PatchStrategy.ServerSideApply);
    }
    const names = crds.map((c) => c.metadata?.name ?? "");
    for (const name of names) {
      await eventually(`CRD ${name} Established`, async () => {
        const crd = await ext.readCustomResourceDefinition({ name });
        const established = crd.status?.conditions?.some(
          (c) => c.type === "Established" && c.status === "True",
        );
        // Established for the newest generation: a re-apply with a new schema must be served too.
        return established && crd.status?.storedVersions?.length ? true : undefined;
      });
    }
    return names;
  })();
  return applied;
}
