// Route area: ServiceNow inbound (issue #6). A request item (RITM) becomes an Order:
//   POST /servicenow/v1/requests   X-Hub-Signature-256 (HMAC of the raw body) or a token with `servicenow`
// Idempotent on the RITM number (the Order is named `snow-<ritm>`); the catalog item maps to an
// AssetType by the annotation `ipsolis.io/servicenow-catalog-item`, its name or its display
// name; `requested_for` must be a known, not blocked employee. Each refusal names the field.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { appendAudit } from "../../../record/audit.ts";
import { UnprocessableError } from "../../../record/errors.ts";
import { findEmployee, isOrderingBlocked, type Employee } from "../../../record/employees/store.ts";
import type { AssetType } from "../../../crds/generated/index.ts";
import { createOrder, listAssetTypes } from "../../leaver/orders.ts";
import { validateAttributes } from "../../policy/attributes.ts";
import type { EmployeeFacts } from "../../policy/mover.ts";
import { employeeFacts, managerRecord } from "../../mover/facts.ts";
import {
  secretAttributesRef,
  splitSecretAttributes,
  storeSecretAttributes,
} from "../../orders/secret-attributes.ts";
import { isVisible } from "../../policy/acl.ts";
import { aclScopeFor } from "../../plugins/acl.ts";
import { resourcesOf } from "../../plugins/resources.ts";
import { entitlementOf } from "../orders/index.ts";
import { authenticateWebhook, keepRawJsonBody, parseBody } from "../../leaver/webhook.ts";

export const CATALOG_ITEM_ANNOTATION = "ipsolis.io/servicenow-catalog-item";
export const RITM_ANNOTATION = "ipsolis.io/servicenow-ritm";

const ref = (field: string) =>
  z.union([
    z.string().trim().min(1).max(320),
    z
      .object({
        value: z.string().max(320).optional(),
        display_value: z.string().max(320).optional(),
        name: z.string().max(320).optional(),
        user_name: z.string().max(320).optional(),
        email: z.string().max(320).optional(),
        employee_number: z.string().max(320).optional(),
        sys_id: z.string().max(64).optional(),
      })
      .refine((o) => Object.values(o).some((v) => typeof v === "string" && v.trim() !== ""), {
        message: `${field} needs at least one identifying value`,
      }),
  ]);

export const RequestItem = z.object({
  number: z.string().regex(/^RITM\d{4,20}$/i, "a request item number like RITM0010001"),
  sys_id: z.string().max(64).optional(),
  requested_for: ref("requested_for"),
  cat_item: ref("cat_item"),
  variables: z
    .record(z.string().max(128), z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]))
    .optional(),
  short_description: z.string().max(1000).optional(),
  justification: z.string().max(1000).optional(),
});
type RequestItem = z.infer<typeof RequestItem>;

function candidates(v: RequestItem["requested_for"]): string[] {
  if (typeof v === "string") return [v];
  return [v.user_name, v.email, v.employee_number, v.value, v.display_value, v.name]
    .filter((x): x is string => typeof x === "string" && x.trim() !== "")
    .map((x) => x.trim());
}

function matchAssetType(types: AssetType[], item: RequestItem["cat_item"]): AssetType | undefined {
  const names = candidates(item).map((n) => n.toLowerCase());
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "");
  const by = (f: (t: AssetType) => string | undefined) =>
    types.find((t) => {
      const v = f(t);
      return v !== undefined && names.includes(v.toLowerCase());
    });
  return (
    by((t) => t.metadata?.annotations?.[CATALOG_ITEM_ANNOTATION]) ??
    by((t) => t.metadata?.name) ??
    by((t) => t.spec.displayName) ??
    types.find((t) => names.map(slug).includes(t.metadata?.name ?? ""))
  );
}

function refused(field: string, message: string, reason: string): UnprocessableError {
  return new UnprocessableError(message, { reason, details: { field } });
}

/**
 * Catalog variables → the AssetType's declared attributes, by the one attribute validation
 * (api/policy/attributes.ts). A catalogue form carries more variables than the type declares,
 * so undeclared ones are ignored here; a refusal stays 422 (this webhook's documented contract).
 */
function attributesFor(
  t: AssetType,
  vars: RequestItem["variables"],
  employee: EmployeeFacts,
): Record<string, string> {
  const r = validateAttributes(t.spec.attributes, vars ?? undefined, {
    prefix: "variables",
    unknown: "ignore",
    employee,
  });
  if (r.ok) return r.values;
  const first = r.fields[0]!;
  const missing = first.message === "is required";
  throw new UnprocessableError(
    missing
      ? `variable ${first.path.slice("variables.".length)} is required by ${t.metadata?.name ?? ""}`
      : r.message,
    {
      reason: missing ? "MissingAttribute" : "InvalidAttribute",
      details: { field: first.path, fields: r.fields },
    },
  );
}

export const servicenowRoutes: FastifyPluginAsyncZod = async (app) => {
  keepRawJsonBody(app);

  app.post(
    "/servicenow/v1/requests",
    { config: { permission: "servicenow", hmac: "servicenow" } },
    async (req, reply) => {
      const deps = req.server.deps;
      const caller = await authenticateWebhook(
        req,
        deps.config?.IPSOLIS_SERVICENOW_WEBHOOK_SECRET,
        "servicenow",
      );
      const item = parseBody(req, RequestItem);
      const ritm = item.number.toUpperCase();
      const orderName = `snow-${ritm.toLowerCase()}`;

      let employee: Employee | undefined;
      for (const c of candidates(item.requested_for)) if ((employee = await findEmployee(deps.db, c))) break;
      if (!employee) {
        throw refused(
          "requested_for",
          `requested_for ${JSON.stringify(candidates(item.requested_for)[0])} is not a known employee`,
          "UnknownRequester",
        );
      }
      const email = employee.emails[0] ?? (employee.userName.includes("@") ? employee.userName : undefined);
      if (!email)
        throw refused(
          "requested_for",
          `employee ${employee.userName} has no e-mail address`,
          "UnknownRequester",
        );
      if (await isOrderingBlocked(deps.db, { id: employee.userName, email }, deps.now())) {
        throw refused(
          "requested_for",
          `employee ${employee.userName} has left and cannot order`,
          "RequesterBlocked",
        );
      }
      // Called with a scoped admin's token, the catalogue is their granted types: another team's
      // type answers exactly like a missing one (#15 item 8). A signed integration sees all.
      const scope = caller.via === "token" ? await aclScopeFor(req) : ({ all: true } as const);
      const types = (await listAssetTypes(deps.kc, deps.namespace)).filter((t) =>
        isVisible(scope, t.metadata?.name ?? ""),
      );
      const assetType = matchAssetType(types, item.cat_item);
      if (!assetType?.metadata?.name) {
        throw refused(
          "cat_item",
          `catalog item ${JSON.stringify(candidates(item.cat_item)[0])} maps to no asset type`,
          "UnknownAssetType",
        );
      }
      // Secret attributes go into the Order's own Secret, never into its spec (#15 item 4).
      const { plain: attributes, secret } = splitSecretAttributes(
        assetType.spec.attributes,
        attributesFor(assetType, item.variables, await employeeFacts(deps.db, employee)),
      );
      const manager = employee.manager ? await managerEmail(deps.db, employee.manager) : undefined;
      const reason = [item.short_description, item.justification].filter(Boolean).join(" — ");
      const r = await createOrder(deps.kc, deps.namespace, {
        metadata: {
          name: orderName,
          labels: { "ipsolis.io/source": "servicenow" },
          annotations: {
            [RITM_ANNOTATION]: ritm,
            ...(item.sys_id ? { "ipsolis.io/servicenow-sys-id": item.sys_id } : {}),
          },
        },
        spec: {
          assetType: assetType.metadata.name,
          action: "Provision",
          requester: {
            id: employee.userName,
            email,
            ...(employee.displayName ? { displayName: employee.displayName } : {}),
            ...(manager ? { manager } : {}),
          },
          ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
          ...secretAttributesRef(orderName, secret),
          reason: `${reason || "Requested in ServiceNow"} (${ritm})`.slice(0, 1000),
        },
      });
      if (r.created) {
        await storeSecretAttributes(deps, r.order, secret, (n) => resourcesOf(deps).remove("Order", n));
      }
      if (!r.created) {
        if (r.existing.metadata?.annotations?.[RITM_ANNOTATION] !== ritm) {
          throw refused("number", `Order ${orderName} exists but was not created for ${ritm}`, "NameTaken");
        }
        return reply
          .code(200)
          .send({ order: orderName, created: false, phase: r.existing.status?.phase ?? null });
      }
      // ServiceNow's catalogue (its user criteria and approvals) decided who may request the
      // item, so the RITM is ordered on the employee's behalf like staff do; the audit row says
      // whether ipsolis' own entitlement would have allowed it.
      const entitled = await entitlementOf(deps.db, assetType, { id: employee.userName, email });
      await appendAudit(deps.db, {
        actor: caller.actor,
        action: "order_created",
        target: `order:${orderName}`,
        order: orderName,
        source: "servicenow",
        requestId: req.id,
        data: {
          ritm,
          assetType: assetType.metadata.name,
          requester: employee.userName,
          attributes: Object.keys(attributes),
          onBehalf: true,
          entitled: entitled.ok,
          ...(entitled.ok ? { entitledVia: entitled.via } : { notEntitledReason: entitled.reason }),
        },
      });
      return reply.code(201).send({ order: orderName, created: true, phase: null });
    },
  );
};

/** The manager's e-mail (Order requester.manager), if the manager reference resolves. */
async function managerEmail(
  db: Parameters<typeof findEmployee>[0],
  ref: string,
): Promise<string | undefined> {
  return (await managerRecord(db, ref))?.emails[0];
}
