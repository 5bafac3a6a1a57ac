// One line per documented operation, keyed by "METHOD /fastify/:pattern" (the form the route
// files and the route table use). The OpenAPI transform (api/openapi/document.ts) sets it as the
// operation's summary unless the route's own schema has one; test/api/openapi.test.ts fails for
// a documented route without a line here, and for a line no route has.
export const SUMMARIES: Readonly<Record<string, string>> = {
  // Health
  "GET /healthz": "Liveness: the process answers",
  "GET /readyz": "Readiness: Postgres answers",

  // Auth
  "GET /auth/setup": "Whether the first superadmin is still to be created (404 once done)",
  "POST /auth/setup": "Create the first superadmin (first run only) and sign in",
  "POST /auth/login": "Sign in with an admin account; sets the session cookie",
  "POST /auth/logout": "Sign out: end this session",
  "GET /auth/me": "Who the caller is: actor, kind, role and scopes",
  "GET /auth/csrf": "A CSRF token for writes made with the session cookie",
  "POST /auth/password": "Change the signed-in account's own password",
  "GET /auth/oidc/login": "Start employee single sign-on (redirects to the identity provider)",
  "GET /auth/oidc/callback": "Single sign-on callback: the provider returns here with the code",

  // Admin
  "GET /admin/users": "List admin accounts",
  "POST /admin/users": "Create an admin account",
  "PATCH /admin/users/:id": "Change an admin account's role, e-mail or disabled state",
  "DELETE /admin/users/:id": "Delete an admin account (its tokens are revoked)",
  "POST /admin/users/:id/unlock": "Unlock an account locked after failed sign-ins",
  "GET /admin/users/:id/grants": "An admin account's asset type grants (its catalogue scope)",
  "PUT /admin/users/:id/grants": "Replace an admin account's asset type grants",
  "GET /integrations":
    "Integration health: each system the runbooks, mail and sign-in reach, with its newest success, failure and probe",
  "GET /admin/users/:id/kube-identities": "The Kubernetes usernames that act as an admin account",
  "PUT /admin/users/:id/kube-identities":
    "Replace the Kubernetes usernames that act as an admin account (kubectl ipsolis sign-in)",
  "GET /admin/tokens": "List API tokens",
  "POST /admin/tokens": "Mint an API token (the plaintext is answered once)",
  "DELETE /admin/tokens/:id": "Revoke an API token and the tokens minted from it",
  "GET /admin/settings": "Read the security settings",
  "PUT /admin/settings": "Change the security settings",

  // Orders
  "POST /orders": "Order an asset type (for yourself, or on an employee's behalf)",
  "GET /orders": "List orders (employees: their own)",
  "GET /orders/:name": "One order with its phase, conditions and approvals",
  "POST /orders/:name/retry": "Retry a failed order (a new attempt)",
  "POST /orders/:name/modify": "Change a provisioned order's attributes (creates a Modify order)",
  "POST /orders/:name/reset":
    "Reset an asset's generated values (a password): a Modify whose new one-time value goes to the person's manager, never to the caller",
  "GET /me/one-time-secrets": "One-time values (passwords) delivered to the signed-in person, newest first",
  "GET /me/one-time-secrets/:id":
    "One one-time value delivered to the signed-in person: whether it can be revealed",
  "POST /me/one-time-secrets/:id/reveal":
    "Reveal a one-time value once (signed-in session only, after its order is Provisioned); it is wiped",
  "POST /orders/:name/cancel": "Cancel an order before it is processed",
  "POST /orders/:name/revoke": "Revoke a delivered asset (a Deprovision order)",
  "GET /orders/:name/log": "An order's step output (JSON, or live as server-sent events)",

  // Approvals
  "POST /orders/:name/approve": "Approve a pending order",
  "POST /orders/:name/decline": "Decline a pending order",
  "GET /approvals/pending": "The caller's approval queue (own and as a deputy)",
  "POST /orders/:name/approval-links": "Mint a one-click approval link for an approver",

  // Delegations
  "GET /delegations": "List deputy windows (own; admins: everyone's)",
  "POST /delegations": "Name a deputy for a time window",
  "DELETE /delegations/:id": "End a deputy window",

  // Catalogue
  "GET /assettypes": "List asset types",
  "GET /assettypes/:name": "One asset type",
  "PUT /assettypes/:name": "Create or replace an asset type",
  "DELETE /assettypes/:name":
    "Delete an asset type (refused while open orders use it, unless a superadmin forces it)",
  "POST /assettypes/:name/clone": "Copy an asset type under a new name",

  // Runbooks
  "GET /runbooks": "List runbooks",
  "GET /runbooks/:name": "One runbook",
  "PUT /runbooks/:name": "Create or replace a runbook",
  "DELETE /runbooks/:name": "Delete a runbook",
  "POST /runbooks/:name/clone": "Copy a runbook under a new name",
  "GET /runbooks/:name/runs": "A scheduled runbook's last runs and their steps",

  // Audit
  "GET /audit": "Search the audit log (JSON pages or CSV)",
  "GET /audit/orders/:name/log": "An order's step output, for auditors",
  "GET /audit/verify": "Verify the audit log's hash chain and its anchors",

  // Cost
  "GET /cost": "Cost report by cost centre, asset type, user or month (JSON or CSV)",
  "GET /cost/thresholds": "The monthly thresholds of the daily cost check",
  "PUT /cost/thresholds/:costCenter": "Set a cost centre's monthly threshold",

  // Ingest
  "POST /ingest/v1/lines": "A runner reports step output lines and step results",

  // SCIM
  "GET /scim/v2/ServiceProviderConfig": "SCIM discovery: what this service provider supports",
  "GET /scim/v2/ResourceTypes": "SCIM discovery: the resource types (User, Group)",
  "GET /scim/v2/ResourceTypes/:id": "SCIM discovery: one resource type",
  "GET /scim/v2/Schemas": "SCIM discovery: the schemas",
  "GET /scim/v2/Schemas/:id": "SCIM discovery: one schema",
  "GET /scim/v2/Users": "List or filter employees (SCIM Users)",
  "POST /scim/v2/Users": "Provision an employee (SCIM User)",
  "GET /scim/v2/Users/:id": "One employee (SCIM User)",
  "PUT /scim/v2/Users/:id": "Replace an employee; active=false makes them a leaver",
  "PATCH /scim/v2/Users/:id": "Change an employee's attributes; active=false makes them a leaver",
  "DELETE /scim/v2/Users/:id": "Delete an employee (a leaver)",
  "GET /scim/v2/Groups": "List or filter directory groups (SCIM Groups)",
  "POST /scim/v2/Groups": "Create a directory group",
  "GET /scim/v2/Groups/:id": "One directory group with its members",
  "PUT /scim/v2/Groups/:id": "Replace a directory group",
  "PATCH /scim/v2/Groups/:id": "Change a directory group's name or members",
  "DELETE /scim/v2/Groups/:id": "Delete a directory group",

  // HR/Leavers
  "POST /hr/leaver": "HR reports a leaver (signed webhook); ?dryRun shows the plan only",
  "GET /leavers": "List leaver events",
  "GET /leavers/:id": "One leaver event with the outcome per asset",
  "POST /leavers/:id/retry": "Retry a leaver event's failed deprovisions",
  "GET /movers": "List mover events (SCIM changes of fields asset attributes follow)",
  "GET /movers/:id": "One mover event with the Modify orders it made",

  // ServiceNow
  "POST /servicenow/v1/requests": "ServiceNow request item → an order (signed webhook; idempotent per RITM)",
};
