// The Job (and its ingest-token Secret) for one attempt of one Order, and the pod template that
// scheduled runbooks (CronJobs) share. Pure: the caller passes the token, the time and config.
import type * as k8s from "@kubernetes/client-node";
import { ENV, SECRET_ENV_PREFIX, type RunPlanInput } from "../runner/plan.ts";
import type { Order, Runbook, RunbookStep } from "./model.ts";
import { ingestSecretNameFor } from "./names.ts";

export const LABEL_ORDER = "ipsolis.io/order";
export const LABEL_ATTEMPT = "ipsolis.io/attempt";
export const LABEL_RUNNER = "ipsolis.io/runner";
export const LABEL_RUNBOOK = "ipsolis.io/runbook";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "ipsolis-operator" } as const;
/**
 * Only Secrets carrying this label (value "true") may be referenced by a runbook (parameters'
 * secretKeyRef, the Kerberos keytab): a runbook must not reach another Job's ingest token or
 * another team's keytab (issue #15 item 9).
 */
export const LABEL_RUNBOOK_SECRET = "ipsolis.io/runbook-secret";

/** Every Secret a runbook's pod would read, sorted and unique. */
export function secretRefsOf(rb: Runbook): string[] {
  const names = new Set<string>();
  if (rb.spec.kerberos) names.add(rb.spec.kerberos.secretName);
  for (const s of rb.spec.steps)
    for (const p of s.parameters ?? []) if (p.valueFrom) names.add(p.valueFrom.secretKeyRef.name);
  return [...names].sort();
}

/**
 * A labelled Secret may be kept to some asset types (one team's): a comma list of AssetType
 * names. Then only runs for those types may read it: an Order of one of them, or a scheduled
 * runbook that only those types reference (#15 item 9: a scoped admin, who may change the
 * runbooks of their own types, cannot reach another team's Secret through them).
 */
export const ANNOTATION_SECRET_ASSET_TYPES = "ipsolis.io/runbook-secret-asset-types";

/** What the operator reads of a referenced Secret (metadata only); null when it does not exist. */
export type SecretMeta = { labels?: Record<string, string>; annotations?: Record<string, string> } | null;

/**
 * Pure: the runbook's Secret references that are not allowed (missing, or without the runbook
 * label, or kept to asset types this run does not serve), as one sentence for a condition and a
 * Warning event; undefined when all are allowed. `servesAssetTypes`: the asset types this run is
 * for (an Order's type; for a scheduled runbook, every type that references it).
 */
export function refusedSecretRefs(
  rb: Runbook,
  metaOf: (name: string) => SecretMeta | undefined,
  servesAssetTypes: readonly string[] = [],
): string | undefined {
  const refs = secretRefsOf(rb);
  const bad = refs.filter((n) => metaOf(n)?.labels?.[LABEL_RUNBOOK_SECRET] !== "true");
  const out: string[] = [];
  if (bad.length > 0)
    out.push(
      `runbook ${rb.metadata.name} references Secret${bad.length > 1 ? "s" : ""} ${bad.join(", ")} that ${bad.length > 1 ? "are" : "is"} missing or not labelled ${LABEL_RUNBOOK_SECRET}="true"`,
    );
  for (const n of refs) {
    if (bad.includes(n)) continue;
    const scope = metaOf(n)?.annotations?.[ANNOTATION_SECRET_ASSET_TYPES];
    if (scope === undefined) continue;
    const allowed = new Set(
      scope
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    );
    const outside = servesAssetTypes.filter((t) => !allowed.has(t));
    if (servesAssetTypes.length === 0 || outside.length > 0)
      out.push(
        `Secret ${n} is kept to asset type${allowed.size === 1 ? "" : "s"} ${[...allowed].join(", ") || "(none)"} (${ANNOTATION_SECRET_ASSET_TYPES}) and runbook ${rb.metadata.name} runs ${servesAssetTypes.length === 0 ? "for no asset type" : `for ${outside.join(", ")}`}`,
      );
  }
  return out.length === 0 ? undefined : `${out.join("; ")}; no Job is started`;
}

/** The asset types whose runbooks (provision, modify or deprovision) name this runbook. */
export function assetTypesUsing(
  runbook: string,
  assetTypes: readonly {
    metadata: { name?: string | undefined };
    spec: { runbooks: Record<string, unknown> };
  }[],
): string[] {
  return assetTypes
    .filter((a) => Object.values(a.spec.runbooks).includes(runbook))
    .map((a) => a.metadata.name ?? "")
    .filter(Boolean)
    .sort();
}

/** The label saying which Order a secret-attributes Secret belongs to (crds/orders.yaml). */
export const LABEL_ORDER_ATTRIBUTES = "ipsolis.io/order-attributes";
/** Where an Order's secret attributes are mounted (read-only, one file per attribute). */
export const SECRET_ATTRIBUTES_DIR = "/var/run/ipsolis/secret-attributes";

/** Where the Kerberos Secret is mounted (read-only) and where the runner keeps its ticket cache. */
export const KERBEROS_DIR = "/var/run/ipsolis/kerberos";
export const CCACHE_DIR = "/var/run/ipsolis/ccache";
/** The runner's private scratch (memory): it moves its credentials here at start (runner/scrub.ts). */
export const RUNNER_DIR = "/var/run/ipsolis/runner";
/** Finished Jobs stay a week, so a restarted operator still sees how the last attempts ended. */
export const JOB_TTL_SECONDS = 7 * 24 * 3600;
/** Slack on top of the step budget: image pull, kinit, the runner's own start and summary. */
export const DEADLINE_SLACK_SECONDS = 120;

export type JobConfig = {
  namespace: string;
  /** The API's ingest endpoint base URL (e.g. http://ipsolis-api:8080); omit to disable ingest. */
  ingestUrl?: string;
  serviceAccountName?: string;
};

const stepTimeout = (s: RunbookStep) => s.timeoutSeconds ?? 300;
const stepRetries = (s: RunbookStep) => s.retries ?? 0;
const stepDelay = (s: RunbookStep) => s.retryDelaySeconds ?? 5;

/** Σ timeout × (retries + 1) + retry delays, plus slack: a run can never outlive its budget. */
export function activeDeadlineFor(rb: Runbook): number {
  const budget = rb.spec.steps.reduce(
    (sum, s) => sum + stepTimeout(s) * (stepRetries(s) + 1) + stepDelay(s) * stepRetries(s),
    0,
  );
  return budget + DEADLINE_SLACK_SECONDS;
}

/**
 * The runner's environment. Step parameters backed by Secrets are `secretKeyRef`s, never
 * values: the Job spec holds no secret. Env names follow operator/runner/README.md.
 */
export function runnerEnv(input: {
  runbook: Runbook;
  order?: Order;
  attempt?: number;
  ingestSecretName?: string;
  ingestUrl?: string;
}): k8s.V1EnvVar[] {
  const { runbook, order } = input;
  const plan: RunPlanInput = {
    runbook: runbook.metadata.name,
    steps: runbook.spec.steps.map((s, i) => ({
      name: s.name,
      shell: s.shell ?? "pwsh",
      ...(s.script !== undefined
        ? { script: s.script }
        : { scriptFile: `/var/run/ipsolis/scripts/${i}-dir/script` }),
      timeoutSeconds: stepTimeout(s),
      retries: stepRetries(s),
      retryDelaySeconds: stepDelay(s),
      critical: s.critical ?? true,
      parameters: (s.parameters ?? []).map((p, j) =>
        p.valueFrom
          ? { name: p.name, env: paramEnvName(i, j), secret: true }
          : { name: p.name, value: p.value ?? "" },
      ),
    })),
  };
  const env: k8s.V1EnvVar[] = [
    { name: ENV.plan, value: JSON.stringify(plan) },
    { name: ENV.terminationLog, value: "/dev/termination-log" },
    { name: ENV.runnerDir, value: RUNNER_DIR },
  ];
  if (order) {
    env.push(
      { name: ENV.order, value: order.metadata.name },
      { name: ENV.attempt, value: String(input.attempt ?? 1) },
      { name: ENV.action, value: order.spec.action ?? "Provision" },
      { name: ENV.requesterId, value: order.spec.requester.id },
      { name: ENV.requesterEmail, value: order.spec.requester.email },
      { name: ENV.attributes, value: JSON.stringify(order.spec.attributes ?? {}) },
    );
    // Secret attributes: a path, never a value (the Secret is a volume, see podTemplateFor).
    if (order.spec.secretAttributesFrom)
      env.push({ name: ENV.secretAttributesDir, value: SECRET_ATTRIBUTES_DIR });
  }
  runbook.spec.steps.forEach((s, i) =>
    (s.parameters ?? []).forEach((p, j) => {
      if (p.valueFrom) {
        env.push({
          name: paramEnvName(i, j),
          valueFrom: {
            secretKeyRef: { name: p.valueFrom.secretKeyRef.name, key: p.valueFrom.secretKeyRef.key },
          },
        });
      }
    }),
  );
  const krb = runbook.spec.kerberos;
  if (krb) {
    env.push(
      { name: ENV.krb5Principal, value: krb.principal },
      { name: ENV.krb5Keytab, value: `${KERBEROS_DIR}/${krb.keytabKey ?? "keytab"}` },
      { name: ENV.krb5Config, value: `${KERBEROS_DIR}/${krb.krb5ConfKey ?? "krb5.conf"}` },
      { name: ENV.krb5Ccache, value: `FILE:${CCACHE_DIR}/krb5cc` },
    );
  }
  if (input.ingestUrl && input.ingestSecretName) {
    env.push(
      { name: ENV.ingestUrl, value: input.ingestUrl },
      {
        name: ENV.ingestToken,
        valueFrom: { secretKeyRef: { name: input.ingestSecretName, key: "token" } },
      },
    );
  }
  return env;
}

function paramEnvName(step: number, param: number): string {
  return `${SECRET_ENV_PREFIX}${step}_${param}`;
}

/** The pod template both order Jobs and scheduled-runbook CronJobs use. */
export function podTemplateFor(input: {
  runbook: Runbook;
  /** Order Jobs: the order's secret attributes Secret, mounted at SECRET_ATTRIBUTES_DIR. */
  secretAttributes?: { secretName: string; keys: string[] } | undefined;
  env: k8s.V1EnvVar[];
  labels: Record<string, string>;
  serviceAccountName?: string;
}): k8s.V1PodTemplateSpec {
  const { runbook } = input;
  const volumes: k8s.V1Volume[] = [
    { name: "ccache", emptyDir: { medium: "Memory" } },
    { name: "runner", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
  ];
  const mounts: k8s.V1VolumeMount[] = [
    { name: "ccache", mountPath: CCACHE_DIR },
    { name: "runner", mountPath: RUNNER_DIR },
  ];
  if (runbook.spec.kerberos) {
    volumes.push({
      name: "kerberos",
      secret: { secretName: runbook.spec.kerberos.secretName, defaultMode: 0o400 },
    });
    mounts.push({ name: "kerberos", mountPath: KERBEROS_DIR, readOnly: true });
  }
  if (input.secretAttributes) {
    volumes.push({
      name: "secret-attributes",
      secret: {
        secretName: input.secretAttributes.secretName,
        items: input.secretAttributes.keys.map((k) => ({ key: k, path: k })),
        defaultMode: 0o400,
      },
    });
    mounts.push({ name: "secret-attributes", mountPath: SECRET_ATTRIBUTES_DIR, readOnly: true });
  }
  runbook.spec.steps.forEach((s, i) => {
    if (!s.scriptFrom) return;
    const ref = s.scriptFrom.configMapKeyRef;
    volumes.push({
      name: `script-${i}`,
      configMap: { name: ref.name, items: [{ key: ref.key, path: "script" }] },
    });
    mounts.push({ name: `script-${i}`, mountPath: `/var/run/ipsolis/scripts/${i}-dir`, readOnly: true });
  });
  return {
    metadata: { labels: { ...input.labels, [LABEL_RUNNER]: "true" } },
    spec: {
      restartPolicy: "Never",
      ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      volumes,
      containers: [
        {
          name: "runner",
          image: runbook.spec.image,
          env: input.env,
          volumeMounts: mounts,
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
        },
      ],
    },
  };
}

export function buildJob(input: {
  order: Order;
  runbook: Runbook;
  attempt: number;
  jobName: string;
  config: JobConfig;
}): k8s.V1Job {
  const { order, runbook, attempt, jobName, config } = input;
  const labels = { [LABEL_ORDER]: order.metadata.name, [LABEL_ATTEMPT]: String(attempt) };
  const env = runnerEnv({
    runbook,
    order,
    attempt,
    ingestUrl: config.ingestUrl,
    ingestSecretName: config.ingestUrl ? ingestSecretNameFor(jobName) : undefined,
  });
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobName,
      namespace: config.namespace,
      labels: { ...labels, [LABEL_RUNBOOK]: runbook.metadata.name, ...MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: "ipsolis.io/v1alpha1",
          kind: "Order",
          name: order.metadata.name,
          uid: order.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: activeDeadlineFor(runbook),
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: podTemplateFor({
        runbook,
        env,
        labels,
        serviceAccountName: config.serviceAccountName,
        secretAttributes: order.spec.secretAttributesFrom,
      }),
    },
  };
}

/**
 * The Secret holding one Job's ingest token. Created before the Job (the pod needs it to
 * start), so owned by the Order; the token itself expires with the Job's deadline.
 */
export function buildIngestSecret(input: {
  owner: { name: string; uid: string };
  jobName: string;
  namespace: string;
  token: string;
}): k8s.V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: ingestSecretNameFor(input.jobName),
      namespace: input.namespace,
      labels: { [LABEL_ORDER]: input.owner.name, "ipsolis.io/job": input.jobName, ...MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: "ipsolis.io/v1alpha1",
          kind: "Order",
          name: input.owner.name,
          uid: input.owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    stringData: { token: input.token },
  };
}
