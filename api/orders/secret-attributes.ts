// Secret attributes (#15 item 4): an attribute marked `secret: true` never goes into an Order's
// spec, the record or any response. Its value goes into a Secret `<order>-attrs` that the Order
// owns (ownerReference from the first moment: no orphan can outlive a deleted Order), labelled
// with the Order's name; the Order names it in spec.secretAttributesFrom (keys only). The
// operator mounts it into the runner as files, the runner masks the values in all output, and
// the operator deletes the Secret when the Order finishes (operator/order/decide.ts).
//
// The Order is created first (its uid owns the Secret), then the Secret; the operator waits a
// short while for a young Order's Secret (operator/runbook/secret-refs.ts). If the Secret cannot
// be made, the Order just created is deleted again, so nothing is half-written.
import * as k8s from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { translateKubeError } from "../../operator/index.ts";
import type { AttributeDef } from "../policy/attributes.ts";
import type { Cr } from "../plugins/resources.ts";
import { FIELD_MANAGER } from "../plugins/resources.ts";
import { LABEL_ORDER_ATTRIBUTES } from "../../operator/order/job.ts";

/** The Secret holding an Order's secret attribute values. */
export function secretAttributesNameFor(order: string): string {
  return `${order}-attrs`;
}

/** Validated values split by the schema: what the spec may hold, and what only a Secret may. */
export function splitSecretAttributes(
  defs: readonly Pick<AttributeDef, "name" | "secret">[] | undefined,
  values: Record<string, string>,
): { plain: Record<string, string>; secret: Record<string, string> } {
  const secretNames = new Set((defs ?? []).filter((d) => d.secret).map((d) => d.name));
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) (secretNames.has(k) ? secret : plain)[k] = v;
  return { plain, secret };
}

/** The spec field naming the Secret, or nothing when no secret attribute was given. */
export function secretAttributesRef(
  order: string,
  secret: Record<string, string>,
): { secretAttributesFrom?: { secretName: string; keys: string[] } } {
  const keys = Object.keys(secret).sort();
  return keys.length > 0
    ? { secretAttributesFrom: { secretName: secretAttributesNameFor(order), keys } }
    : {};
}

/**
 * Creates the Order by `create`, then its secret attributes' Secret owned by it. When the Secret
 * fails, the new Order is deleted and the error thrown (nothing half-written).
 */
export async function createWithSecretAttributes<O extends Cr<unknown, unknown>>(
  deps: { kc: KubeConfig; namespace: string },
  secret: Record<string, string>,
  create: () => Promise<O>,
  remove: (name: string) => Promise<void>,
): Promise<O> {
  const made = await create();
  await storeSecretAttributes(deps, made, secret, remove);
  return made;
}

/**
 * The secret attributes' Secret of an Order just created, owned by it; when it fails, the Order
 * is deleted by `remove` and the error thrown. Nothing to do without secret values.
 */
export async function storeSecretAttributes(
  deps: { kc: KubeConfig; namespace: string },
  made: { apiVersion?: string; metadata?: { name?: string; uid?: string } },
  secret: Record<string, string>,
  remove: (name: string) => Promise<void>,
): Promise<void> {
  if (Object.keys(secret).length === 0) return;
  const name = made.metadata?.name ?? "";
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  try {
    await core.createNamespacedSecret({
      namespace: deps.namespace,
      fieldManager: FIELD_MANAGER,
      body: {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        immutable: true,
        metadata: {
          name: secretAttributesNameFor(name),
          namespace: deps.namespace,
          labels: {
            [LABEL_ORDER_ATTRIBUTES]: name,
            "app.kubernetes.io/managed-by": "ipsolis",
          },
          ownerReferences: [
            {
              apiVersion: made.apiVersion ?? "ipsolis.io/v1alpha1",
              kind: "Order",
              name,
              uid: made.metadata?.uid ?? "",
            },
          ],
        },
        stringData: secret,
      },
    });
  } catch (raw) {
    await remove(name).catch(() => undefined);
    // The error names the Secret, never its values (the client's message carries none).
    throw translateKubeError(raw, `storing the secret attributes of order ${name}`);
  }
}
