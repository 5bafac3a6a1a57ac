// The plain manifests: the kustomize base is the chart's defaults (generated, checked here),
// each overlay applies with a server-side dry run against the real API server, and the Argo CD
// Application example is valid for Argo CD's own CRD (../shared/fixtures/argocd).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { testKubeConfig } from "../support/kube.ts";
import { basePath, renderBase } from "./gen-manifests.ts";
import { kubectl, root } from "./support.ts";

const ensureNamespace = async (name: string) => {
  const core = testKubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  });
};

test("manifests/base is the chart's defaults (node test/install/gen-manifests.ts)", async () => {
  assert.equal(await readFile(basePath, "utf8"), await renderBase());
});

test("kubectl apply -k of the base and each overlay is accepted by the API server", async () => {
  // The base targets namespace ipsolis (its admission policies are bound to it).
  await ensureNamespace("ipsolis");
  for (const dir of ["base", "overlays/dev", "overlays/production"]) {
    const r = await kubectl([
      "apply",
      "-k",
      join(root, "manifests", dir),
      "--server-side",
      // A dry run changes nothing: take the fields the run's own CRD setup (ipsolis-test) holds.
      "--force-conflicts",
      "--dry-run=server",
    ]);
    assert.equal(r.code, 0, `${dir}: ${r.stderr}`);
    assert.match(r.stdout, /deployment.apps\/ipsolis-api serverside-applied/, dir);
  }
  const dev = await kubectl(["kustomize", join(root, "manifests", "overlays", "dev")]);
  assert.doesNotMatch(dev.stdout, /kind: PodDisruptionBudget/);
  assert.match(dev.stdout, /name: IPSOLIS_LOG_LEVEL\n\s+value: debug/);
});

test("the Argo CD Application example is valid for Argo CD's own CRD", async () => {
  const crd = join(root, "..", "..", "shared", "fixtures", "argocd", "application-crd.yaml");
  const shared = join("/work", "shared", "fixtures", "argocd", "application-crd.yaml");
  const file = await readFile(crd, "utf8").then(
    () => crd,
    () => shared,
  );
  const applied = await kubectl(["apply", "--server-side", "-f", file]);
  assert.equal(applied.code, 0, applied.stderr);
  await kubectl(["wait", "--for=condition=Established", "crd/applications.argoproj.io", "--timeout=60s"]);
  await ensureNamespace("argocd");
  const app = join(root, "manifests", "argocd", "application.yaml");
  // kubectl's discovery can lag the CRD's Established condition under load: retry the mapping.
  let dry = await kubectl(["apply", "--server-side", "--dry-run=server", "-f", app]);
  for (let i = 0; i < 20 && dry.code !== 0 && /resource mapping not found/.test(dry.stderr); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    dry = await kubectl(["apply", "--server-side", "--dry-run=server", "-f", app]);
  }
  assert.equal(dry.code, 0, dry.stderr);
  // And a broken one is refused by the same CRD (the check can fail).
  const broken = (await readFile(app, "utf8")).replace("prune: true", "prune: sometimes");
  const bad = await kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], broken);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /prune/);
});
