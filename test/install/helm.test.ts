// The Helm chart as a platform team uses it, against the real control plane and Postgres: helm
// (v4, built from its Go module) lints and renders it, the API server accepts every rendered
// object (server-side dry run), a wrong value is refused with its message, and `helm install`
// runs the product: the migration Job applies the schema as its owner, the chart's own operator
// and API pods run on the local node under the chart's ServiceAccounts and RBAC (projected
// tokens, in-cluster config), an Order placed through the installed API reaches Provisioned,
// kubectl cannot write approvals, `helm upgrade` changes objects and CRDs and keeps Orders,
// `helm uninstall` keeps CRDs and Orders; and upgrading from the previous chart keeps Orders.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { parse, stringify } from "yaml";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import {
  chartDir,
  helm,
  helmOk,
  kubectl,
  podsOf,
  prepareInstall,
  readyDeployment,
  root,
  run,
  withTempDir,
  type Install,
} from "./support.ts";
import { useOwnControlPlane } from "./own-cluster.ts";

await useOwnControlPlane();

const INSTALL_MS = 360_000;
const group = "ipsolis.io";
const version = "v1alpha1";
const objs = () => testKubeConfig().makeApiClient(k8s.CustomObjectsApi);
const ext = () => testKubeConfig().makeApiClient(k8s.ApiextensionsV1Api);
const apps = () => testKubeConfig().makeApiClient(k8s.AppsV1Api);
const batch = () => testKubeConfig().makeApiClient(k8s.BatchV1Api);

/** --take-ownership when the CRDs already exist (another release, another test applied them). */
async function crdOwnershipFlags(): Promise<string[]> {
  const has = await ext()
    .readCustomResourceDefinition({ name: "orders.ipsolis.io" })
    .then(
      () => true,
      () => false,
    );
  return has ? ["--take-ownership", "--force-conflicts"] : [];
}

/** The URL of the installed API: its Ready pod's own loopback address (the local node's pod IP). */
async function apiBase(inst: Install): Promise<string> {
  return eventually(
    "a Ready API pod",
    async () => {
      const pod = (await podsOf(inst.ns)).find(
        (p) =>
          p.metadata?.labels?.["app.kubernetes.io/name"] === "ipsolis-api" &&
          !p.metadata.deletionTimestamp &&
          p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return pod?.status?.podIP ? `http://${pod.status.podIP}:${inst.apiPort}` : undefined;
    },
    60_000,
    500,
  );
}

async function call(inst: Install, method: string, path: string, body?: unknown) {
  const r = await fetch(`${await apiBase(inst)}${path}`, {
    method,
    headers: { "x-admin-key": inst.adminKey, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Signs in an admin account (session cookie + CSRF token) and calls the API as that person. */
async function asUser(inst: Install, username: string, password: string) {
  const base = await apiBase(inst);
  const login = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const jar = login.headers.getSetCookie().map((c) => c.split(";")[0]);
  const csrfRes = await fetch(`${base}/auth/csrf`, { headers: { cookie: jar.join("; ") } });
  const cookie = [...jar, ...csrfRes.headers.getSetCookie().map((c) => c.split(";")[0])].join("; ");
  const { csrfToken } = (await csrfRes.json()) as { csrfToken: string };
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { cookie, "x-csrf-token": csrfToken, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}

const catalog = (approval: Record<string, unknown>) => ({
  displayName: "VPN access",
  category: "Access",
  assignment: { model: "AssignedPersonal" },
  approval,
  cost: { amountPerMonth: "1.00", currency: "EUR", costCenter: "IT" },
  runbooks: { provision: "vpn-grant", deprovision: "vpn-revoke" },
});
const bash = (script: string) => ({
  description: "test runbook",
  image: "ghcr.io/ipsolis/runner:test",
  steps: [{ name: "do", shell: "bash", script }],
});

async function orderPhase(inst: Install, name: string): Promise<string | undefined> {
  const o = (await objs().getNamespacedCustomObject({
    group,
    version,
    namespace: inst.ns,
    plural: "orders",
    name,
  })) as { status?: { phase?: string } };
  return o.status?.phase;
}

test("helm lint passes and every object helm template renders is valid for the API server", async (t) => {
  const lint = await helm(["lint", chartDir]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const ns = await newNamespace(t, "tpl");
  for (const extra of [
    [] as string[],
    [
      "--set",
      "ingress.enabled=true,ingress.tls.enabled=true,ingress.className=nginx,migrations.enabled=false",
    ],
  ]) {
    const rendered = await helmOk(["template", "ipsolis", chartDir, "--namespace", ns, ...extra]);
    const kinds: string[] = rendered.match(/^kind: \w+/gm) ?? [];
    for (const k of [
      "CustomResourceDefinition",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
      "Deployment",
      "Service",
      "Role",
      "RoleBinding",
      "ServiceAccount",
      "PodDisruptionBudget",
      "NetworkPolicy",
    ])
      assert.ok(kinds.includes(`kind: ${k}`), `renders a ${k}`);
    const dry = await kubectl(["apply", "--server-side", "--dry-run=server", "-n", ns, "-f", "-"], rendered);
    assert.equal(dry.code, 0, `server-side dry run: ${dry.stderr}`);
    const applied = dry.stdout.split("\n").filter((l) => /serverside-applied|created|configured/.test(l));
    assert.equal(applied.length, kinds.length, `every rendered object accepted:\n${dry.stdout}`);
  }
});

test("a values file with a wrong type or an unknown key is refused with a readable message", async (t) => {
  const dir = await withTempDir(t);
  const cases: [string, unknown, RegExp][] = [
    [
      "wrong-type.yaml",
      { api: { replicaCount: "two" } },
      /at '\/api\/replicaCount': got string, want integer/,
    ],
    ["typo.yaml", { operator: { replicas: 2 } }, /additional properties 'replicas' not allowed/],
    ["bad-url.yaml", { api: { publicUrl: "ipsolis.example.com" } }, /\/api\/publicUrl/],
  ];
  for (const [file, values, message] of cases) {
    await writeFile(join(dir, file), stringify(values));
    const r = await helm(["template", "ipsolis", chartDir, "-f", join(dir, file)]);
    assert.notEqual(r.code, 0, `${file} is refused`);
    assert.match(r.stderr, message, file);
  }
});

test(
  "helm install runs the product from the chart; upgrade changes objects and CRDs and keeps Orders; uninstall keeps CRDs and Orders",
  { timeout: INSTALL_MS * 2 },
  async (t) => {
    const inst = await prepareInstall(t, "helm");
    const installed = await helm([
      "install",
      "ipsolis",
      chartDir,
      "--namespace",
      inst.ns,
      "--wait",
      "--timeout",
      "4m",
      ...inst.values,
      ...(await crdOwnershipFlags()),
    ]);
    assert.equal(
      installed.code,
      0,
      `helm install: ${installed.stderr}\n${inst.localNodeLog.slice(-30).join("\n")}`,
    );
    assert.match(installed.stdout, /port-forward svc\/ipsolis-api/, "NOTES.txt says how to reach the portal");

    // The migration Job (pre-install hook) completed, as the schema owner; the least-privileged
    // role sees every migration applied and owns nothing.
    const job = await batch().readNamespacedJob({ name: "ipsolis-migrate", namespace: inst.ns });
    assert.ok(job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True"));
    const migrateJobUid = job.metadata?.uid;
    const db = new pg.Client({ connectionString: inst.appUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: string; owner: string }>(
        "SELECT count(*)::text AS n, (SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events') AS owner FROM schema_migrations",
      );
      assert.ok(Number(rows[0]?.n) > 5, "migrations applied");
      assert.match(
        rows[0]?.owner ?? "",
        /^ipsolis_owner_/,
        "the schema belongs to the owner, not to the app role",
      );
      await assert.rejects(db.query("CREATE TABLE sneaky (id int)"), /permission denied/);
    } finally {
      await db.end();
    }

    // Both Deployments Ready (helm --wait saw it too), running as the chart's ServiceAccounts.
    for (const name of ["ipsolis-api", "ipsolis-operator"]) await readyDeployment(inst.ns, name);
    const pods = await podsOf(inst.ns);
    for (const [name, sa] of [
      ["ipsolis-api", "ipsolis-api"],
      ["ipsolis-operator", "ipsolis-operator"],
    ]) {
      const p = pods.find((x) => x.metadata?.labels?.["app.kubernetes.io/name"] === name);
      assert.equal(p?.spec?.serviceAccountName, sa);
      assert.equal(p?.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(p?.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    }

    // The catalog through the installed API, then an Order that reaches Provisioned.
    for (const [path, spec] of [
      ["/runbooks/vpn-grant", bash("echo granted")],
      ["/runbooks/vpn-revoke", bash("echo revoked")],
      ["/assettypes/vpn", catalog({ policy: "None" })],
    ] as const) {
      const r = await call(inst, "PUT", path, { spec });
      assert.equal(r.status, 201, `PUT ${path}: ${JSON.stringify(r.body)}`);
    }
    // The gated AssetType and its runbooks come from the platform team's GitOps (kubectl), not
    // from the approver: whoever changed an AssetType or a runbook it runs may not approve its
    // Orders (separation of duties).
    for (const [name, script] of [
      ["vpn-gitops-grant", "echo granted"],
      ["vpn-gitops-revoke", "echo revoked"],
    ] as const) {
      await objs().createNamespacedCustomObject({
        group,
        version,
        namespace: inst.ns,
        plural: "runbooks",
        body: { apiVersion: `${group}/${version}`, kind: "Runbook", metadata: { name }, spec: bash(script) },
      });
    }
    await objs().createNamespacedCustomObject({
      group,
      version,
      namespace: inst.ns,
      plural: "assettypes",
      body: {
        apiVersion: `${group}/${version}`,
        kind: "AssetType",
        metadata: { name: "vpn-approved" },
        spec: {
          ...catalog({ policy: "Approvers", approvers: ["legacy_key"], quorum: 1 }),
          runbooks: { provision: "vpn-gitops-grant", deprovision: "vpn-gitops-revoke" },
        },
      },
    });
    // On-behalf orders are for people the directory knows (#15 item 3): SCIM provisions them.
    for (const userName of ["boss", "jdoe", "mmuster"]) {
      const made = await call(inst, "POST", "/scim/v2/Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName,
        active: true,
        emails: [{ value: `${userName}@example.com`, type: "work", primary: true }],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    const requester = { id: "jdoe", email: "jdoe@example.com" };
    const placed = await call(inst, "POST", "/orders", { assetType: "vpn", requester });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const orderName = placed.body.name as string;
    await eventually(
      `Order ${orderName} Provisioned`,
      async () => ((await orderPhase(inst, orderName)) === "Provisioned" ? true : undefined),
      120_000,
      500,
    );
    const seen = await call(inst, "GET", `/orders/${orderName}`);
    assert.equal(
      seen.body.phase ?? (seen.body.status as { phase?: string } | undefined)?.phase,
      "Provisioned",
    );
    // The API's /metrics on the chart's metrics port (not on the public one), counting that order.
    const apiUrl = new URL(await apiBase(inst));
    const prom = await (await fetch(`http://${apiUrl.hostname}:${inst.apiMetricsPort}/metrics`)).text();
    assert.match(
      prom,
      /^ipsolis_api_http_request_duration_seconds_count\{method="POST",route="\/orders",status="201"\} \d+$/m,
    );
    assert.equal((await fetch(`${apiUrl.origin}/metrics`)).status, 404);

    // The approval schedule's CronJob runs a pass as an admin would by hand (`kubectl create job
    // --from=cronjob/ipsolis-approvals`): the tick reaches Postgres and the cluster with the
    // chart's settings and its ServiceAccount, and completes.
    const cron = await batch().readNamespacedCronJob({ name: "ipsolis-approvals", namespace: inst.ns });
    assert.equal(cron.spec?.concurrencyPolicy, "Forbid");
    await batch().createNamespacedJob({
      namespace: inst.ns,
      body: {
        metadata: {
          name: "ipsolis-approvals-now",
          annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
          labels: cron.spec?.jobTemplate.metadata?.labels ?? {},
          ownerReferences: [
            {
              apiVersion: "batch/v1",
              kind: "CronJob",
              name: "ipsolis-approvals",
              uid: cron.metadata!.uid!,
              controller: true,
            },
          ],
        },
        spec: cron.spec.jobTemplate.spec!,
      },
    });
    await eventually(
      "the approvals pass Complete",
      async () => {
        const j = await batch().readNamespacedJob({ name: "ipsolis-approvals-now", namespace: inst.ns });
        const failed = j.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
        if (failed)
          assert.fail(
            `the approvals pass failed: ${failed.message}\n${inst.localNodeLog.slice(-20).join("\n")}`,
          );
        return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") || undefined;
      },
      60_000,
      500,
    );

    // Separation of duties in a Helm install: the cluster admin's kubectl cannot write approvals;
    // the API (its ServiceAccount, the chart's RBAC) can.
    // Placed by a helpdesk-desk admin, so the approver (the legacy key) is not its placer.
    const desk = await call(inst, "POST", "/admin/users", {
      username: "desk",
      role: "admin",
      password: "a long enough password",
    });
    assert.equal(desk.status, 201, JSON.stringify(desk.body));
    const asDesk = await asUser(inst, "desk", "a long enough password");

    // kubectl ipsolis with a kubeconfig identity: the installed API reviews a ServiceAccount's
    // token with the cluster (the chart's ClusterRole for tokenreviews) and acts as the account
    // the identity is mapped to.
    const core = testKubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: inst.ns,
      body: { metadata: { name: "desk-kubectl" } },
    });
    const review = await core.createNamespacedServiceAccountToken({
      name: "desk-kubectl",
      namespace: inst.ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const deskId = (desk.body.user as { id: string }).id;
    const kubeUser = `system:serviceaccount:${inst.ns}:desk-kubectl`;
    const mapped = await call(inst, "PUT", `/admin/users/${deskId}/kube-identities`, {
      usernames: [kubeUser],
    });
    assert.equal(mapped.status, 200, JSON.stringify(mapped.body));
    const whoami = await fetch(`${await apiBase(inst)}/auth/me`, {
      headers: { authorization: `Bearer ${review.status!.token!}` },
    });
    assert.equal(whoami.status, 200, await whoami.clone().text());
    assert.deepEqual(
      { ...((await whoami.json()) as Record<string, unknown>) },
      {
        actor: "admin:desk",
        kind: "kube",
        role: "admin",
        scopes: null,
        username: "desk",
        kubeUsername: kubeUser,
      },
    );
    const gated = await asDesk("POST", "/orders", { assetType: "vpn-approved", requester });
    assert.equal(gated.status, 201, JSON.stringify(gated.body));
    const gatedName = gated.body.name as string;
    await eventually("PendingApproval", async () =>
      (await orderPhase(inst, gatedName)) === "PendingApproval" ? true : undefined,
    );
    const patch = JSON.stringify({
      spec: { approvals: [{ approver: "legacy_key", decision: "Approved", at: new Date().toISOString() }] },
    });
    const denied = await kubectl(["patch", "order", gatedName, "-n", inst.ns, "--type=merge", "-p", patch]);
    assert.notEqual(denied.code, 0, "kubectl may not write approvals");
    assert.match(
      denied.stderr,
      new RegExp(
        `spec.approvals of an Order can be written only by system:serviceaccount:${inst.ns}:ipsolis-api`,
      ),
    );
    const approved = await call(inst, "POST", `/orders/${gatedName}/approve`, {});
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await eventually(
      "approved Order Provisioned",
      async () => ((await orderPhase(inst, gatedName)) === "Provisioned" ? true : undefined),
      120_000,
      500,
    );

    // helm upgrade: the next chart version (an extra printer column on Orders) with changed values.
    const next = await withTempDir(t);
    await cp(chartDir, join(next, "ipsolis"), { recursive: true, dereference: true });
    const crdFile = join(next, "ipsolis", "files", "crds", "orders.yaml");
    const crd = parse(await readFile(crdFile, "utf8")) as {
      spec: { versions: { additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[] }[] };
    };
    for (const v of crd.spec.versions)
      (v.additionalPrinterColumns ??= []).push({
        name: "Requester",
        type: "string",
        jsonPath: ".spec.requester.email",
      });
    await writeFile(crdFile, stringify(crd));
    const chartYaml = join(next, "ipsolis", "Chart.yaml");
    await writeFile(
      chartYaml,
      (await readFile(chartYaml, "utf8")).replace(/^version: .*$/m, "version: 9.9.9"),
    );
    const upgraded = await helm([
      "upgrade",
      "ipsolis",
      join(next, "ipsolis"),
      "--namespace",
      inst.ns,
      "--wait",
      "--timeout",
      "4m",
      ...inst.values,
      "--set",
      "operator.concurrency=4,api.logLevel=info",
    ]);
    assert.equal(
      upgraded.code,
      0,
      `helm upgrade: ${upgraded.stderr}\n${inst.localNodeLog.slice(-30).join("\n")}`,
    );
    const op = await readyDeployment(inst.ns, "ipsolis-operator");
    const env = op.spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(
      env.find((e) => e.name === "IPSOLIS_OPERATOR_CONCURRENCY")?.value,
      "4",
      "values changed the Deployment",
    );
    await readyDeployment(inst.ns, "ipsolis-api");
    const liveCrd = await ext().readCustomResourceDefinition({ name: "orders.ipsolis.io" });
    assert.ok(
      liveCrd.spec.versions.every((v) => v.additionalPrinterColumns?.some((c) => c.name === "Requester")),
      "helm upgrade updated the CRD",
    );
    assert.equal(liveCrd.metadata?.labels?.["helm.sh/chart"], "ipsolis-9.9.9");
    const rerun = await batch().readNamespacedJob({ name: "ipsolis-migrate", namespace: inst.ns });
    assert.notEqual(rerun.metadata?.uid, migrateJobUid, "the migration Job ran again before the upgrade");
    for (const n of [orderName, gatedName])
      assert.equal(await orderPhase(inst, n), "Provisioned", `${n} survived`);
    const placedAfter = await call(inst, "POST", "/orders", {
      assetType: "vpn",
      requester: { id: "mmuster", email: "mmuster@example.com" },
    });
    assert.equal(placedAfter.status, 201, "the upgraded API takes orders");

    // helm uninstall: the workloads and policies go; CRDs (resource-policy keep) and Orders stay.
    const gone = await helm(["uninstall", "ipsolis", "--namespace", inst.ns, "--wait", "--timeout", "2m"]);
    assert.equal(gone.code, 0, gone.stderr);
    await eventually("Deployments gone", async () => {
      const list = await apps().listNamespacedDeployment({ namespace: inst.ns });
      return list.items.length === 0 ? true : undefined;
    });
    const vaps = await kubectl(["get", "validatingadmissionpolicies", "-o", "name"]);
    assert.doesNotMatch(
      vaps.stdout,
      new RegExp(`ipsolis-order-approvals-${inst.ns}`),
      "the policy went with the release",
    );
    await ext().readCustomResourceDefinition({ name: "orders.ipsolis.io" });
    for (const n of [orderName, gatedName])
      assert.equal(await orderPhase(inst, n), "Provisioned", `${n} kept`);
  },
);

test(
  "upgrading from the previous chart version (0.1.0) keeps the Orders",
  { timeout: INSTALL_MS },
  async (t) => {
    // The previous release of the chart, from git: its CRDs sat in crds/ (installed once, never
    // owned by the release), so the first upgrade takes ownership of them (docs/install.md).
    const dir = await withTempDir(t);
    await mkdir(join(dir, "old"));
    const archive = await run("bash", [
      "-c",
      `git -C "${root}" archive 04e2484 charts/ipsolis crds | tar -x -C "${join(dir, "old")}"`,
    ]);
    assert.equal(archive.code, 0, archive.stderr);
    const oldChart = join(dir, "old", "charts", "ipsolis");
    assert.match(await readFile(join(oldChart, "Chart.yaml"), "utf8"), /^version: 0\.1\.0$/m);
    const inst = await prepareInstall(t, "upg");
    const oldInstall = await helm([
      "install",
      "ipsolis",
      oldChart,
      "--namespace",
      inst.ns,
      "--set",
      `api.replicaCount=1,operator.replicaCount=1,api.port=${inst.apiPort}`,
    ]);
    assert.equal(oldInstall.code, 0, oldInstall.stderr);
    await objs().createNamespacedCustomObject({
      group,
      version,
      namespace: inst.ns,
      plural: "orders",
      body: {
        apiVersion: `${group}/${version}`,
        kind: "Order",
        metadata: { name: "made-with-0-1-0" },
        spec: { assetType: "vpn", requester: { id: "jdoe", email: "jdoe@example.com" } },
      },
    });
    const upgraded = await helm([
      "upgrade",
      "ipsolis",
      chartDir,
      "--namespace",
      inst.ns,
      "--take-ownership",
      "--force-conflicts",
      "--wait",
      "--timeout",
      "4m",
      ...inst.values,
    ]);
    assert.equal(
      upgraded.code,
      0,
      `helm upgrade from 0.1.0: ${upgraded.stderr}\n${inst.localNodeLog.slice(-30).join("\n")}`,
    );
    await readyDeployment(inst.ns, "ipsolis-api");
    await readyDeployment(inst.ns, "ipsolis-operator");
    const kept = (await objs().getNamespacedCustomObject({
      group,
      version,
      namespace: inst.ns,
      plural: "orders",
      name: "made-with-0-1-0",
    })) as { spec: { requester: { email: string } } };
    assert.equal(kept.spec.requester.email, "jdoe@example.com");
    const crd = await ext().readCustomResourceDefinition({ name: "orders.ipsolis.io" });
    assert.equal(
      crd.metadata?.annotations?.["meta.helm.sh/release-namespace"],
      inst.ns,
      "the release owns the CRDs now",
    );
    assert.equal(crd.metadata?.annotations?.["helm.sh/resource-policy"], "keep");
  },
);
