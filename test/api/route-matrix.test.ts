// Every route × every role: the auth plugin allows exactly what api/policy/permissions.ts
// says, and every route declares a permission (a route that declares none fails this test);
// plus the roles of GET /audit/verify spelled out, and what it answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  isPermission,
  roleAllows,
  ROLES,
  UNAUTHENTICATED,
  type Permission,
  type Role,
} from "../../api/policy/permissions.ts";
import { createSession } from "../../record/identity/sessions.ts";
import { appendAudit } from "../../record/audit.ts";
import { addAdmin, newApi, withCsrf, type Api } from "./support.ts";
import { applyCrds } from "../support/crds.ts";

async function browserFor(api: Api, role: Role, userIds: Map<Role, string>) {
  const expires = new Date(api.clock.now.getTime() + 3600_000);
  const sid =
    role === "employee"
      ? await createSession(api.db, { employeeEmail: "emp@example.com", employeeId: "emp" }, expires)
      : await createSession(api.db, { userId: userIds.get(role)! }, expires);
  return withCsrf(api, { ipsolis_session: sid });
}

function concreteUrl(url: string): string {
  return url
    .replace(/:name\b/g, "does-not-exist")
    .replace(/:id\b/g, "999999")
    .replace(/:token\b/g, "x.y")
    .replace(/:[A-Za-z]+/g, "x")
    .replace(/\*/g, "x");
}

test("route table × role: allow/deny exactly as the permission table says", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  const routes = api.app.routeTable;
  assert.ok(routes.length > 30, `expected the whole API, got ${routes.length} routes`);

  const undeclared = routes.filter((r) => r.permission === undefined || !isPermission(r.permission));
  assert.deepEqual(undeclared, [], "every route declares a known permission");

  const userIds = new Map<Role, string>();
  for (const role of ROLES) userIds.set(role, (await addAdmin(api, `m-${role}`, role)).id);
  // A second superadmin keeps the last-superadmin guard out of the way.
  await addAdmin(api, "m-spare", "superadmin");

  const failures: string[] = [];
  for (const r of routes) {
    const permission = r.permission as Permission;
    if (UNAUTHENTICATED.includes(permission) && permission !== "public") continue; // own token (ingest)
    for (const role of [...ROLES, "employee"] as const) {
      const b = await browserFor(api, role, userIds);
      const res = await api.app.inject({
        method: r.method as "GET",
        url: concreteUrl(r.url),
        headers: { ...b.headers, "content-type": "application/json" },
        ...(r.method === "GET" || r.method === "DELETE" ? {} : { payload: "{}" }),
      });
      let reason: string | undefined;
      let error: string | undefined;
      try {
        ({ reason, error } = res.json<{ reason?: string; error?: string }>());
      } catch {
        reason = undefined; // an HTML page or an empty body: not the plugin's refusal
      }
      // The plugin's refusal; areas with their own error format (SCIM) keep its message.
      const deniedByPlugin =
        res.statusCode === 403 &&
        (reason === "Forbidden" || res.body.includes(`forbidden: role ${role} lacks`));
      const unauthenticated = res.statusCode === 401 && error === "authentication required";
      const want = roleAllows(role, permission);
      if (want && (deniedByPlugin || unauthenticated)) {
        failures.push(
          `${r.method} ${r.url} (${permission}) as ${role}: refused ${res.statusCode} ${res.body}`,
        );
      }
      if (!want && !deniedByPlugin) {
        failures.push(
          `${r.method} ${r.url} (${permission}) as ${role}: expected 403, got ${res.statusCode} ${res.body.slice(0, 200)}`,
        );
      }
    }
  }
  assert.deepEqual(failures, []);
});

test("anonymous callers get 401 on every non-public route (a portal page sends a browser to sign-in)", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  const failures: string[] = [];
  for (const r of api.app.routeTable) {
    if (r.permission === "public" || r.permission === "ingest") continue;
    const res = await api.app.inject({
      method: r.method as "GET",
      url: concreteUrl(r.url),
      ...(r.method === "GET" || r.method === "DELETE" ? {} : { payload: {} }),
    });
    // A person's browser opening a portal or console page is sent to sign-in (303, back here afterwards);
    // everything else, portal form posts included, is a plain 401.
    const page = r.method === "GET" && (r.url.startsWith("/portal") || r.url.startsWith("/console"));
    const ok = page
      ? res.statusCode === 303 && String(res.headers.location ?? "").startsWith("/portal/login")
      : res.statusCode === 401;
    if (!ok) failures.push(`${r.method} ${r.url}: ${res.statusCode} ${String(res.headers.location ?? "")}`);
  }
  assert.deepEqual(failures, []);
});

test("GET /audit/verify: auditor and above (audit:read); intact on a clean record, the first broken link after a tamper", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  const route = api.app.routeTable.find((r) => r.method === "GET" && r.url === "/audit/verify");
  assert.equal(route?.permission, "audit:read");
  const userIds = new Map<Role, string>();
  for (const role of ROLES) userIds.set(role, (await addAdmin(api, `v-${role}`, role)).id);
  const allowed: string[] = [];
  for (const role of [...ROLES, "employee"] as const) {
    const b = await browserFor(api, role, userIds);
    const res = await api.app.inject({ method: "GET", url: "/audit/verify", headers: b.headers });
    if (res.statusCode === 200) allowed.push(role);
    else assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
  }
  assert.deepEqual(allowed.sort(), ["admin", "auditor", "superadmin"]);

  const root = await browserFor(api, "superadmin", userIds);
  await appendAudit(api.db, { actor: "system:api", action: "x_happened", source: "api" });
  const ok = await api.app.inject({ method: "GET", url: "/audit/verify", headers: root.headers });
  const body = ok.json<{ intact: boolean; count: number; head: { id: string }; message: string }>();
  assert.equal(body.intact, true, ok.body);
  assert.ok(body.count >= 1);
  assert.equal(body.head.id, String(body.count));
  assert.match(body.message, /^intact: \d+ rows, head \d+ [0-9a-f]{64}; 0 anchors match$/);

  await api.db.query(`
    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE audit_events SET data = '{"forged": true}' WHERE id = 1;
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`);
  const bad = await api.app.inject({ method: "GET", url: "/audit/verify", headers: root.headers });
  assert.equal(bad.statusCode, 200, bad.body);
  const broken = bad.json<{ intact: boolean; brokenLink: { id: string; field: string }; message: string }>();
  assert.equal(broken.intact, false);
  assert.deepEqual([broken.brokenLink.id, broken.brokenLink.field], ["1", "hash"]);
  assert.match(
    broken.message,
    /^broken link at audit row 1: hash expected [0-9a-f]{64}, found [0-9a-f]{64}$/,
  );
});
