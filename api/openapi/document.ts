// The OpenAPI document's contract beyond the zod schemas (issue #21): the security schemes the
// auth plugin (api/plugins/auth.ts) really accepts, each operation's `security` derived from its
// own `config.permission` (so the document cannot drift from what is enforced), a tag per URL
// prefix and a one-line summary per operation (api/openapi/summaries.ts). Applied centrally in
// @fastify/swagger's `transform`; the route files declare nothing extra.
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import type { SwaggerTransform } from "@fastify/swagger";
import { SESSION_COOKIE } from "../plugins/auth.ts";
import type { Permission } from "../policy/permissions.ts";
import { SUMMARIES } from "./summaries.ts";

export type SecurityScheme =
  | { type: "http"; scheme: "bearer"; bearerFormat?: string; description: string }
  | { type: "apiKey"; in: "header" | "cookie"; name: string; description: string };

export type SchemeName =
  | "apiToken"
  | "scimToken"
  | "kubernetesToken"
  | "sessionCookie"
  | "adminKey"
  | "ingestToken"
  | "webhookSignature"
  | "hubSignature";

/** OpenAPI security requirements: any one entry suffices; `[]` means no credentials. */
export type SecurityRequirement = Partial<Record<SchemeName, string[]>>;

export const SECURITY_SCHEMES: Readonly<Record<SchemeName, SecurityScheme>> = {
  apiToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "ips_…",
    description:
      "An API token, `Authorization: Bearer ips_…`, minted in the console (API tokens) or with POST /admin/tokens. It acts with its role ∩ scopes, never above its creator's current role.",
  },
  scimToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "ips_…",
    description:
      "SCIM clients (e.g. Entra ID provisioning's secret token): an API token bound to the admin role with the `scim` scope, sent as `Authorization: Bearer ips_…`.",
  },
  kubernetesToken: {
    type: "http",
    scheme: "bearer",
    description:
      "A Kubernetes identity (what `kubectl ipsolis` sends from the kubeconfig): any bearer token the cluster accepts (TokenReview), acting as the admin account a superadmin mapped its username to (PUT /admin/users/{id}/kube-identities), with that account's current role. Off with IPSOLIS_KUBE_IDENTITY=off.",
  },
  sessionCookie: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description:
      "The browser session of the portal and the console, set by signing in (POST /auth/login, the sign-in page or single sign-on). Writes with it also need the CSRF token from GET /auth/csrf as `x-csrf-token`.",
  },
  adminKey: {
    type: "apiKey",
    in: "header",
    name: "X-Admin-Key",
    description:
      "Deprecated: the legacy shared admin key (IPSOLIS_ADMIN_KEY), a virtual superadmin recorded as `admin:legacy_key`. Off unless configured; use API tokens instead.",
  },
  ingestToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "ipsi1.…",
    description:
      "The runner's per-Job ingest token (HMAC-signed with IPSOLIS_INGEST_SECRET, naming one namespace, Job and order, expiring with the Job), minted by the operator. Not an API token.",
  },
  webhookSignature: {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description:
      "A Standard Webhooks delivery (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and `webhook-signature`, an HMAC-SHA256 of `id.timestamp.body` with the integration's shared secret. Not a static key: signed per delivery; older than five minutes or a repeated id is refused.",
  },
  hubSignature: {
    type: "apiKey",
    in: "header",
    name: "X-Hub-Signature-256",
    description:
      "Deprecated: `sha256=` + hex HMAC-SHA256 of the raw body with the integration's shared secret. Replayable; IPSOLIS_WEBHOOK_LEGACY_SIGNATURES=refuse turns it off. Use Standard Webhooks.",
  },
};

/**
 * Who may call a route, from its own `config` exactly as the auth plugin decides: `public` needs
 * nothing; `ingest` only the runner's token (the route checks it); every other permission any
 * principal that holds it: an API token (named scimToken on SCIM routes), a Kubernetes token
 * mapped to an admin account, the session cookie or the legacy key. Routes with `config.hmac` also take a signed delivery instead.
 */
export function securityOf(config: { permission?: string; hmac?: string }): SecurityRequirement[] {
  const permission = config.permission as Permission | undefined;
  if (permission === "public") return [];
  if (permission === "ingest") return [{ ingestToken: [] }];
  const signed: SecurityRequirement[] =
    config.hmac !== undefined ? [{ webhookSignature: [] }, { hubSignature: [] }] : [];
  return [
    ...signed,
    permission === "scim" ? { scimToken: [] } : { apiToken: [] },
    { kubernetesToken: [] },
    { sessionCookie: [] },
    { adminKey: [] },
  ];
}

/** How a signed webhook authenticates, for its operation's description. */
export function signedWebhookNote(secretVariable: string): string {
  return [
    `Signed deliveries: Standard Webhooks headers (\`webhook-id\`, \`webhook-timestamp\`, \`webhook-signature\`: HMAC-SHA256 of \`id.timestamp.body\` with ${secretVariable}; at most five minutes old, each id once, a repeated id answers 409 DuplicateDelivery).`,
    `Deprecated: \`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>\` (replayable; refused with IPSOLIS_WEBHOOK_LEGACY_SIGNATURES=refuse).`,
    "Without a signature header, an API token with the route's permission is needed.",
  ].join("\n\n");
}

/** The shared secret each signed integration verifies with (route `config.hmac`). */
const HMAC_SECRETS: Readonly<Record<string, string>> = {
  hr: "IPSOLIS_HR_WEBHOOK_SECRET",
  servicenow: "IPSOLIS_SERVICENOW_WEBHOOK_SECRET",
};

export type Tag = { name: string; description: string; prefixes: readonly string[] };

/** Tags in the reference's order; an operation gets the tag of its longest matching prefix. */
export const TAGS: readonly Tag[] = [
  {
    name: "Orders",
    description:
      "Order an asset type, follow the order through its phases, retry, modify, cancel or revoke it, and read its step output.",
    prefixes: ["/orders"],
  },
  {
    name: "Approvals",
    description:
      "Approve or decline pending orders, the approver's queue, and one-click approval links for notification mails.",
    prefixes: [
      "/approvals",
      "/orders/:name/approve",
      "/orders/:name/decline",
      "/orders/:name/approval-links",
    ],
  },
  {
    name: "Delegations",
    description: "Deputies who approve in someone's place for a time window.",
    prefixes: ["/delegations"],
  },
  {
    name: "One-time secrets",
    description:
      "Values the API generated for an order (a password reset), delivered to one person (the manager), who reveals each once after the order is Provisioned.",
    prefixes: ["/me/one-time-secrets"],
  },
  {
    name: "Catalogue",
    description:
      "Asset types: what can be ordered, its attribute schema, approval, cost, entitlement and runbooks (AssetType custom resources).",
    prefixes: ["/assettypes"],
  },
  {
    name: "Runbooks",
    description:
      "Runbooks: the steps that provision, modify and deprovision assets, optionally on a schedule (Runbook custom resources).",
    prefixes: ["/runbooks"],
  },
  {
    name: "Integrations",
    description:
      "Health of the outside systems the product reaches: directories over Kerberos, runbook targets, the mail server and the sign-in provider.",
    prefixes: ["/integrations"],
  },
  {
    name: "Audit",
    description:
      "The hash-chained audit log for auditors: search, CSV export, orders' step output, and verification of the chain and its anchors.",
    prefixes: ["/audit"],
  },
  {
    name: "Cost",
    description:
      "Monthly cost by cost centre, asset type, user and month, and the thresholds of the daily check.",
    prefixes: ["/cost"],
  },
  {
    name: "HR/Leavers",
    description:
      "The HR leaver webhook and the leaver events it (and SCIM deactivation) create: what is reclaimed, per asset. Movers: what a SCIM change of a field asset attributes follow (department, title, manager) changed, per asset.",
    prefixes: ["/hr", "/leavers", "/movers"],
  },
  {
    name: "SCIM",
    description:
      "SCIM 2.0 (RFC 7643/7644) for the identity provider: employees as Users, directory groups as Groups. Discovery needs no credentials; /Me and /Bulk answer 501.",
    prefixes: ["/scim/v2"],
  },
  {
    name: "ServiceNow",
    description: "ServiceNow request items become orders on the employee's behalf.",
    prefixes: ["/servicenow"],
  },
  {
    name: "Ingest",
    description: "Runbook Jobs' runners report step output and results here, with their per-Job token.",
    prefixes: ["/ingest"],
  },
  {
    name: "Admin",
    description: "Admin accounts, their asset type grants, API tokens and the security settings.",
    prefixes: ["/admin"],
  },
  {
    name: "Auth",
    description:
      "Sign-in and sign-out for admin accounts, the first run, the caller's identity, CSRF tokens and employee single sign-on.",
    prefixes: ["/auth"],
  },
  { name: "Health", description: "Kubernetes probes.", prefixes: ["/healthz", "/readyz"] },
];

const isUnder = (url: string, prefix: string) => url === prefix || url.startsWith(`${prefix}/`);

/** The tag of a route URL (Fastify form, `/orders/:name`): its longest matching prefix. */
export function tagOf(url: string): string | undefined {
  let best: { name: string; length: number } | undefined;
  for (const t of TAGS)
    for (const p of t.prefixes)
      if (isUnder(url, p) && (best === undefined || p.length > best.length))
        best = { name: t.name, length: p.length };
  return best?.name;
}

/**
 * Routes kept out of the document although their schema does not hide them: SCIM's /Me and
 * /Bulk exist only to answer 501 (RFC 7644 §3.11), for every method; the SCIM tag says so.
 */
export const UNDOCUMENTED: ReadonlySet<string> = new Set(["/scim/v2/Me", "/scim/v2/Me/*", "/scim/v2/Bulk"]);

type Methods = string | string[];

/** The summary key of a route: "METHOD /url" (a route of several methods is not documented). */
export function operationKey(method: Methods, url: string): string {
  return `${[method].flat().join(",")} ${url}`;
}

/** Every error the API answers (api/app.ts's error handler): the status says which kind. */
export const ERROR_RESPONSE = {
  description:
    "An error. The status says which kind (400 bad input, 401 no or bad credentials, 403 not allowed, 404 not found or out of scope, 409 conflict, 410 gone, 422 cannot be done as asked, 429 too many, 5xx ours); `error` says what went wrong in a sentence, `reason` names it for code.",
  type: "object",
  required: ["error"],
  properties: {
    error: { type: "string" },
    reason: { type: "string", description: "A stable name of the error, e.g. SessionRequired, NotReady." },
    fields: {
      type: "array",
      description: "The inputs at fault: a path such as body.attributes.size, and why.",
      items: {
        type: "object",
        properties: { path: { type: "string" }, message: { type: "string" } },
      },
    },
  },
  additionalProperties: true,
} as const;

/** SCIM's errors are RFC 7644 §3.12 documents. */
/** SCIM errors are sent as application/scim+json (RFC 7644 §3.1), so the document says so. */
export const SCIM_ERROR_RESPONSE = {
  description: "An error as RFC 7644 §3.12 defines it (urn:ietf:params:scim:api:messages:2.0:Error).",
  content: {
    "application/scim+json": {
      schema: {
        type: "object",
        required: ["schemas", "status"],
        properties: {
          schemas: { type: "array", items: { type: "string" } },
          status: { type: "string" },
          scimType: { type: "string" },
          detail: { type: "string" },
        },
      },
    },
  },
} as const;

/** The route's responses with the error answer added as `default` (a route's own wins). */
function withErrors(url: string, response: unknown): Record<string, unknown> {
  const own = (response ?? { "2XX": { description: "Success" } }) as Record<string, unknown>;
  return { default: isUnder(url, "/scim/v2") ? SCIM_ERROR_RESPONSE : ERROR_RESPONSE, ...own };
}

/**
 * The operation metadata the transform adds to a route's schema: tags, summary, security, the
 * permission (`x-ipsolis-permission`) and the error answer. What the route's schema already
 * says wins.
 */
export function operationMeta(
  route: { method: Methods; url: string; config?: unknown },
  schema: Record<string, unknown>,
): Record<string, unknown> | { hide: true } {
  if (UNDOCUMENTED.has(route.url)) return { hide: true };
  const config = (route.config ?? {}) as { permission?: string; hmac?: string };
  const tag = tagOf(route.url);
  const summary = SUMMARIES[operationKey(route.method, route.url)];
  const secret = config.hmac !== undefined ? HMAC_SECRETS[config.hmac] : undefined;
  return {
    ...(tag ? { tags: [tag] } : {}),
    ...(summary ? { summary } : {}),
    ...(secret ? { description: signedWebhookNote(secret) } : {}),
    security: securityOf(config),
    ...(config.permission ? { "x-ipsolis-permission": config.permission } : {}),
    ...schema,
    response: withErrors(route.url, schema.response),
  };
}

/** @fastify/swagger's transform: the zod schemas to JSON Schema, then our operation metadata. */
export const openapiTransform: SwaggerTransform = (doc) => {
  const out = jsonSchemaTransform(doc);
  const schema = (out.schema ?? {}) as Record<string, unknown>;
  if (schema.hide === true) return { schema, url: out.url };
  return { schema: operationMeta(doc.route, schema), url: out.url };
};

/** The document's top-level parts: info, tags with descriptions, the security schemes. */
export const OPENAPI_BASE = {
  openapi: "3.0.3",
  info: {
    title: "ipsolis API",
    version: "0.1.0",
    description:
      "Provisioning and reclaiming of IT assets. A readable reference of this document is served at /docs/api.",
  },
  tags: TAGS.map((t) => ({ name: t.name, description: t.description })),
  components: { securitySchemes: SECURITY_SCHEMES },
};
