// What the install tests share: helm (built from its Go module, cached), kubectl, a namespace
// with the Secrets and the Postgres roles the chart expects (a schema owner and the
// least-privileged role), and the local node running the chart's own pods.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { freePort } from "../cluster/control-plane.ts";
import { adminUrl } from "../support/db.ts";
import { testEnv } from "../support/env.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { startLocalNode } from "../localnode/node.ts";

export const root = join(import.meta.dirname, "..", "..");
export const chartDir = join(root, "charts", "ipsolis");

export type Run = { code: number; stdout: string; stderr: string };

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // A program that never reads stdin may exit first: its EPIPE is no failure.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

let helmPath: Promise<string> | undefined;
/** Builds helm once (test/install/build-helm.sh, cached outside the repo) and returns its path. */
export function helmBinary(): Promise<string> {
  helmPath ??= run("bash", [join(root, "test", "install", "build-helm.sh")]).then((r) => {
    if (r.code !== 0) throw new Error(`building helm failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
    const path = r.stdout.trim().split("\n").at(-1);
    if (!path) throw new Error("build-helm.sh printed no path");
    return path;
  });
  return helmPath;
}

let helmHome: string | undefined;
/** Runs helm against the test API server, with its own config/cache dirs (never the user's). */
export async function helm(args: string[]): Promise<Run> {
  const bin = await helmBinary();
  helmHome ??= await mkdtemp(join(tmpdir(), "ipsolis-helm-"));
  // `helm template` and `lint` need no cluster: the kubeconfig only when test/run.ts gave one.
  const kube = process.env.IPSOLIS_TEST_KUBECONFIG ? ["--kubeconfig", testEnv().kubeconfig] : [];
  return run(bin, [...args, ...kube], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: helmHome,
      HELM_CACHE_HOME: join(helmHome, "cache"),
      HELM_CONFIG_HOME: join(helmHome, "config"),
      HELM_DATA_HOME: join(helmHome, "data"),
    },
  });
}

/** helm that must succeed: throws with its output otherwise. */
export async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0)
    throw new Error(`helm ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`.slice(0, 6000));
  return r.stdout;
}

export function kubectl(args: string[], input?: string, kubeconfig = testEnv().kubeconfig): Promise<Run> {
  return run(join(testEnv().binDir, "kubectl"), [...args, "--kubeconfig", kubeconfig], {
    ...(input === undefined ? {} : { input }),
  });
}

export type Install = {
  ns: string;
  values: string[];
  apiPort: number;
  operatorPort: number;
  apiMetricsPort: number;
  adminKey: string;
  /** The Postgres URLs: the least-privileged role's and the schema owner's. */
  appUrl: string;
  ownerUrl: string;
  localNodeLog: string[];
};

/**
 * A namespace ready for `helm install`: the Secrets the chart references (database URLs of a
 * schema owner and a least-privileged member of ipsolis_app, API secrets with an admin key, the
 * ingest key), a fresh database owned by the owner, free loopback ports for the pods, and the
 * local node running the chart's pods (and the runner Jobs) of the namespace.
 */
export async function prepareInstall(t: TestContext, prefix: string): Promise<Install> {
  const ns = await newNamespace(t, prefix);
  const id = randomBytes(4).toString("hex");
  const owner = `ipsolis_owner_${id}`;
  const app = `ipsolis_api_${id}`;
  const db = `ipsolis_${id}`;
  const pw = randomBytes(12).toString("hex");
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    // ipsolis_app is cluster-wide and made by migration 0001 when missing; a non-superuser
    // owner without CREATEROLE cannot make it, so the DBA creates it once (docs/install.md).
    await admin.query(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipsolis_app') THEN CREATE ROLE ipsolis_app NOLOGIN; END IF;
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
    );
    await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${pw}'`);
    await admin.query(`CREATE ROLE ${app} LOGIN PASSWORD '${pw}' IN ROLE ipsolis_app`);
    await admin.query(`CREATE DATABASE ${db} OWNER ${owner}`);
  } finally {
    await admin.end();
  }
  t.after(async () => {
    const c = new pg.Client({ connectionString: adminUrl() });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${app}`);
      await c.query(`DROP ROLE IF EXISTS ${owner}`);
    } finally {
      await c.end();
    }
  });
  const url = (user: string) => {
    const u = new URL(adminUrl(db));
    u.username = user;
    u.password = pw;
    return u.toString();
  };
  const appUrl = url(app);
  const ownerUrl = url(owner);
  const adminKey = randomBytes(24).toString("hex");
  const core = testKubeConfig().makeApiClient(k8s.CoreV1Api);
  const secret = (name: string, data: Record<string, string>) =>
    core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
  await secret("ipsolis-database", { url: appUrl, "migrate-url": ownerUrl });
  await secret("ipsolis-api", {
    "session-secret": randomBytes(24).toString("hex"),
    "link-secret": randomBytes(24).toString("hex"),
    "admin-key": adminKey,
  });
  await secret("ipsolis-ingest", { secret: randomBytes(24).toString("hex") });
  const [apiPort, operatorPort, apiMetricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const localNodeLog: string[] = [];
  const node = await startLocalNode({
    kubeconfig: testEnv().kubeconfig,
    namespace: ns,
    workloads: true,
    log: (l) => localNodeLog.push(l),
  });
  t.after(() => node.stop());
  t.after(() => t.diagnostic(`local node log:\n${localNodeLog.slice(-40).join("\n")}`));
  await eventually("default ServiceAccount", async () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: ns }).then(
      () => true,
      () => undefined,
    ),
  );
  const values = [
    "--set",
    `api.port=${apiPort},api.metricsPort=${apiMetricsPort},operator.metricsPort=${operatorPort},api.replicaCount=1,operator.replicaCount=1`,
    "--set",
    `api.publicUrl=http://127.0.0.1:${apiPort},api.logLevel=warn,operator.logLevel=warn`,
  ];
  return { ns, values, apiPort, operatorPort, apiMetricsPort, adminKey, appUrl, ownerUrl, localNodeLog };
}

/** The chart's pod logs as the local node kept them are gone with the pod; this reads status. */
export async function podsOf(ns: string): Promise<k8s.V1Pod[]> {
  return (await testKubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: ns })).items;
}

export async function readyDeployment(ns: string, name: string, ms = 120_000): Promise<k8s.V1Deployment> {
  const apps = testKubeConfig().makeApiClient(k8s.AppsV1Api);
  return eventually(
    `Deployment ${name} available`,
    async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace: ns });
      const want = d.spec?.replicas ?? 1;
      return d.status?.readyReplicas === want &&
        d.status.updatedReplicas === want &&
        (d.status.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0)
        ? d
        : undefined;
    },
    ms,
    500,
  );
}

export async function withTempDir(t: Pick<TestContext, "after">): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-install-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
