// Request schemas of AssetType and Runbook specs (the shapes of crds/*.yaml). The API server
// still validates everything the CRD says (CEL rules, patterns); its refusals come back as 422
// with its own message.
import { EMPLOYEE_FIELDS } from "../../policy/mover.ts";
import { z } from "zod";

const Duration = z
  .string()
  .regex(
    /^(\d{1,4}d)?(\d{1,4}h)?(\d{1,4}m)?$/,
    'a duration of days, hours and minutes such as "24h" or "1d12h"',
  )
  .min(2);
export const K8sName = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "a DNS subdomain name (lower case)",
  );

export const AssetTypeSpecSchema = z.object({
  displayName: z.string().min(1),
  description: z.string().optional(),
  category: z.string().min(1),
  assignment: z.object({
    model: z.enum(["CapacityPooled", "DedicatedShared", "AssignedPersonal"]),
    capacity: z.number().int().min(0).optional(),
    maxPerUser: z.number().int().min(1).optional(),
  }),
  approval: z.object({
    policy: z.enum(["None", "Manager", "Approvers"]),
    approvers: z.array(z.string().min(1)).optional(),
    quorum: z.number().int().min(1).optional(),
    onModify: z
      .object({
        policy: z.enum(["Same", "None", "Manager", "Approvers"]),
        approvers: z.array(z.string().min(1)).optional(),
        quorum: z.number().int().min(1).optional(),
      })
      .optional(),
    // Reminders, escalation and expiry (api/policy/approvals.ts parseDuration, crds/assettypes.yaml).
    remindAfter: Duration.optional(),
    maxReminders: z.number().int().min(0).max(20).optional(),
    escalateAfter: Duration.optional(),
    escalateTo: z.array(z.email()).max(20).optional(),
    expireAfter: Duration.optional(),
    channels: z
      .array(z.enum(["email", "teams", "webhook"]))
      .max(3)
      .optional(),
  }),
  cost: z.object({
    amountPerMonth: z.string().regex(/^\d+(\.\d{1,4})?$/, 'a decimal amount such as "12.50"'),
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR"),
    costCenter: z.string().min(1),
  }),
  runbooks: z.object({ provision: K8sName, modify: K8sName.optional(), deprovision: K8sName.optional() }),
  attributes: z
    .array(
      z.object({
        name: z.string().min(1),
        type: z.enum(["string", "number", "integer", "boolean", "enum"]),
        required: z.boolean().optional(),
        enum: z.array(z.string()).optional(),
        description: z.string().optional(),
        secret: z.boolean().optional(),
        fromEmployee: z.enum(EMPLOYEE_FIELDS).optional(),
        generated: z
          .object({
            kind: z.enum(["OneTimePassword"]),
            deliverTo: z.enum(["Manager"]),
            length: z.number().int().min(12).max(64).optional(),
          })
          .optional(),
      }),
    )
    .optional(),
  entitlement: z
    .object({
      everyone: z.boolean().optional(),
      groups: z.array(z.string()).optional(),
      departments: z.array(z.string()).optional(),
    })
    .optional(),
  leaseDuration: z.string().optional(),
});
export type AssetTypeSpecInput = z.infer<typeof AssetTypeSpecSchema>;

const KeyRef = z.object({ name: z.string().min(1), key: z.string().min(1) });
export const RunbookSpecSchema = z.object({
  description: z.string().optional(),
  image: z.string().min(1),
  kerberos: z
    .object({
      secretName: z.string().min(1),
      principal: z.string().min(1),
      keytabKey: z.string().optional(),
      krb5ConfKey: z.string().optional(),
    })
    .optional(),
  steps: z
    .array(
      z.object({
        name: z.string().min(1),
        shell: z.enum(["pwsh", "bash"]).optional(),
        script: z.string().optional(),
        scriptFrom: z.object({ configMapKeyRef: KeyRef }).optional(),
        parameters: z
          .array(
            z.object({
              name: z.string().min(1),
              value: z.string().optional(),
              valueFrom: z.object({ secretKeyRef: KeyRef }).optional(),
            }),
          )
          .optional(),
        timeoutSeconds: z.number().int().min(1).optional(),
        retries: z.number().int().min(0).optional(),
        retryDelaySeconds: z.number().int().min(0).optional(),
        critical: z.boolean().optional(),
      }),
    )
    .min(1),
  schedule: z
    .object({ cron: z.string().min(1), timeZone: z.string().optional(), suspend: z.boolean().optional() })
    .optional(),
});
export type RunbookSpecInput = z.infer<typeof RunbookSpecSchema>;
