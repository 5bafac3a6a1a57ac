// The runner's contract with the operator (see README.md): the environment variables the Job's
// pod sets and the run plan in IPSOLIS_PLAN. Pure: parsing and validation only, no I/O. The
// operator may import the types and ENV names from here.
import { z } from "zod";

/** Environment variable names the runner reads. */
export const ENV = {
  plan: "IPSOLIS_PLAN",
  order: "IPSOLIS_ORDER",
  attempt: "IPSOLIS_ATTEMPT",
  action: "IPSOLIS_ORDER_ACTION",
  requesterId: "IPSOLIS_REQUESTER_ID",
  requesterEmail: "IPSOLIS_REQUESTER_EMAIL",
  attributes: "IPSOLIS_ATTRIBUTES",
  /** Where the Order's secret attributes are mounted, one file per attribute (never env values). */
  secretAttributesDir: "IPSOLIS_ATTRIBUTES_DIR",
  terminationLog: "IPSOLIS_TERMINATION_LOG",
  /** A private writable directory (memory emptyDir) where the runner moves its credentials. */
  runnerDir: "IPSOLIS_RUNNER_DIR",
  ingestUrl: "IPSOLIS_INGEST_URL",
  ingestToken: "IPSOLIS_INGEST_TOKEN",
  krb5Principal: "IPSOLIS_KRB5_PRINCIPAL",
  krb5Keytab: "IPSOLIS_KRB5_KEYTAB",
  krb5Config: "KRB5_CONFIG",
  krb5Ccache: "KRB5CCNAME",
} as const;

/** Prefix of the env vars carrying secret parameter values (valueFrom.secretKeyRef in the pod). */
export const SECRET_ENV_PREFIX = "IPSOLIS_SECRET_";

const name = z.string().min(1).max(128);

export const PlanParameter = z.union([
  z.strictObject({ name, value: z.string() }),
  /** A secret: its value is in the pod env var `env` (a secretKeyRef), never in the plan. */
  z.strictObject({ name, env: z.string().min(1), secret: z.literal(true) }),
]);
export type PlanParameter = z.infer<typeof PlanParameter>;

export const PlanStep = z
  .strictObject({
    name: z.string().min(1).max(63),
    shell: z.enum(["pwsh", "bash"]).default("pwsh"),
    script: z.string().min(1).optional(),
    /** Absolute path of a mounted ConfigMap key holding the script. */
    scriptFile: z.string().startsWith("/").optional(),
    timeoutSeconds: z.number().int().min(1).max(86400).default(300),
    retries: z.number().int().min(0).max(10).default(0),
    retryDelaySeconds: z.number().min(0).max(3600).default(5),
    critical: z.boolean().default(true),
    parameters: z.array(PlanParameter).default([]),
  })
  .refine((s) => (s.script === undefined) !== (s.scriptFile === undefined), {
    message: "exactly one of script and scriptFile must be set",
  });
export type PlanStep = z.infer<typeof PlanStep>;
/** A step as the operator writes it (defaults may be omitted). */
export type PlanStepInput = z.input<typeof PlanStep>;

export const RunPlan = z.strictObject({
  runbook: z.string().min(1),
  steps: z.array(PlanStep).min(1).max(50),
});
export type RunPlan = z.infer<typeof RunPlan>;
export type RunPlanInput = z.input<typeof RunPlan>;

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx): z.infer<T> => {
    let raw: unknown;
    try {
      raw = JSON.parse(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `not JSON: ${(err as Error).message}` });
      return z.NEVER;
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      ctx.addIssue({ code: "custom", message: z.prettifyError(r.error) });
      return z.NEVER;
    }
    return r.data;
  });

/** The runner's configuration: one schema, parsed once at start (STYLE.md). */
export const RunnerConfig = z
  .object({
    IPSOLIS_PLAN: jsonOf(RunPlan),
    IPSOLIS_ORDER: z.string().optional(),
    IPSOLIS_ATTEMPT: z.coerce.number().int().min(1).default(1),
    IPSOLIS_ORDER_ACTION: z.string().optional(),
    IPSOLIS_REQUESTER_ID: z.string().optional(),
    IPSOLIS_REQUESTER_EMAIL: z.string().optional(),
    IPSOLIS_ATTRIBUTES: jsonOf(z.record(z.string(), z.string())).optional(),
    IPSOLIS_ATTRIBUTES_DIR: z.string().min(1).optional(),
    IPSOLIS_TERMINATION_LOG: z.string().min(1).default("/dev/termination-log"),
    IPSOLIS_INGEST_URL: z.url().optional(),
    IPSOLIS_INGEST_TOKEN: z.string().min(1).optional(),
    /** Lines per POST. */
    IPSOLIS_INGEST_BATCH_LINES: z.coerce.number().int().min(1).max(5000).default(200),
    /** Batches travelling at once (plain output lines only; a step start/end travels alone). */
    IPSOLIS_INGEST_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(4).default(2),
    /** Lines held while the ingest endpoint pushes back; reading step output pauses when full. */
    IPSOLIS_INGEST_BUFFER_LINES: z.coerce.number().int().min(10).default(10000),
    /** How long the runner waits at exit for unsent lines to be accepted. */
    IPSOLIS_INGEST_FLUSH_SECONDS: z.coerce.number().min(0).default(60),
    /** Grace between SIGTERM and SIGKILL of a timed-out step's process group. */
    IPSOLIS_KILL_GRACE_SECONDS: z.coerce.number().min(0).default(5),
    IPSOLIS_KRB5_PRINCIPAL: z.string().min(1).optional(),
    IPSOLIS_KRB5_KEYTAB: z.string().min(1).optional(),
    KRB5_CONFIG: z.string().min(1).optional(),
    KRB5CCNAME: z.string().min(1).optional(),
  })
  .refine((c) => (c.IPSOLIS_INGEST_URL === undefined) === (c.IPSOLIS_INGEST_TOKEN === undefined), {
    message: "IPSOLIS_INGEST_URL and IPSOLIS_INGEST_TOKEN must be set together",
    path: ["IPSOLIS_INGEST_TOKEN"],
  })
  .refine((c) => (c.IPSOLIS_KRB5_PRINCIPAL === undefined) === (c.IPSOLIS_KRB5_KEYTAB === undefined), {
    message: "IPSOLIS_KRB5_PRINCIPAL and IPSOLIS_KRB5_KEYTAB must be set together",
    path: ["IPSOLIS_KRB5_KEYTAB"],
  });
export type RunnerConfig = z.infer<typeof RunnerConfig>;

export type ResolvedParameter = { name: string; value: string; secret: boolean };

/**
 * Each step's parameters with their values: literals from the plan, secrets from the env var
 * the plan names. A missing secret env var is a configuration error (listed, all at once).
 */
export function resolveParameters(
  plan: RunPlan,
  env: Record<string, string | undefined>,
): { ok: true; steps: ResolvedParameter[][] } | { ok: false; message: string } {
  const missing: string[] = [];
  const steps = plan.steps.map((s) =>
    s.parameters.map((p): ResolvedParameter => {
      if ("value" in p) return { name: p.name, value: p.value, secret: false };
      const v = env[p.env];
      if (v === undefined) missing.push(`${s.name}.${p.name} (env ${p.env})`);
      return { name: p.name, value: v ?? "", secret: true };
    }),
  );
  if (missing.length > 0)
    return { ok: false, message: `secret parameter values missing: ${missing.join(", ")}` };
  return { ok: true, steps };
}

/**
 * Variables holding the runner's credentials: moved out of the process environment at start
 * (scrub.ts), so a step cannot read them back through /proc/$PPID/environ.
 */
export function isRunnerSecretEnv(key: string): boolean {
  return key === ENV.ingestToken || key.startsWith(SECRET_ENV_PREFIX);
}

/** Variables the runner keeps to itself: never passed to a step. */
export function isRunnerOnlyEnv(key: string): boolean {
  return (
    key === ENV.plan ||
    key === ENV.ingestToken ||
    key === ENV.ingestUrl ||
    key === ENV.krb5Keytab ||
    key === ENV.secretAttributesDir ||
    key.startsWith(SECRET_ENV_PREFIX) ||
    key.startsWith("IPSOLIS_INGEST_")
  );
}
