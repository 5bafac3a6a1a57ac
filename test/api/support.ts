// The API on the real wiring for a test: its own Postgres database (migrated), its own
// namespace on the real API server, buildApp() with a silent logger; plus helpers that sign
// in, mint tokens and create admin accounts the way production code does.
import type { TestContext } from "node:test";
import { pino } from "pino";
import * as k8s from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { buildApp, type App } from "../../api/app.ts";
import type { ApiConfig } from "../../api/config.ts";
import { createPool, migrate, type Db } from "../../record/db.ts";
import { hashPassword } from "../../record/identity/passwords.ts";
import { addGrant, createUser, type User } from "../../record/identity/users.ts";
import { createApiToken } from "../../record/identity/tokens.ts";
import type { StoredRole } from "../../record/identity/roles.ts";
import { createDatabase } from "../support/db.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { createSession } from "../../record/identity/sessions.ts";
import { createEmployee } from "../../record/employees/store.ts";

export type Api = { app: App; db: Db; kc: KubeConfig; namespace: string; clock: { now: Date } };

export async function newApi(
  t: Pick<TestContext, "after">,
  opts: {
    config?: Partial<ApiConfig>;
    now?: Date;
    namespace?: string;
    kc?: KubeConfig;
    /** false: an empty directory (default: DIRECTORY). */
    people?: false;
  } = {},
): Promise<Api> {
  // One teardown, in order: the app closes (its onClose drains background mover and leaver
  // work), then the pool ends, and only then the database goes. node:test runs after-hooks in
  // the order they were registered, so a separate drop hook here would run first and pull the
  // database from under work still writing to it.
  const { url, drop } = await createDatabase("api");
  const opened: { app?: App; db?: Db } = {};
  t.after(async () => {
    try {
      await opened.app?.close();
      await opened.db?.end();
    } finally {
      await drop();
    }
  });
  await migrate(url);
  const db = (opened.db = createPool(url, { max: 5 }));
  const kc = opts.kc ?? testKubeConfig();
  const namespace = opts.namespace ?? (await newNamespace(t, "api"));
  // A settable clock: tests move it (expiry, lockout) instead of sleeping.
  const clock = { now: opts.now ?? new Date() };
  const app = (opened.app = await buildApp({
    log: pino({ level: process.env.IPSOLIS_TEST_API_LOG ?? "silent" }),
    db,
    kc,
    namespace,
    now: () => clock.now,
    ...(opts.config ? { config: opts.config } : {}),
  }));
  const api = { app, db, kc, namespace, clock };
  if (opts.people !== false) await addPeople(api, DIRECTORY);
  return api;
}

/**
 * The people the API tests order for on someone's behalf: on-behalf orders are only for people
 * the directory (SCIM) knows (#15 item 3). `userName` is the local part, e-mail @example.com.
 */
export const DIRECTORY = ["emp", "tom", "ada", "una", "x", "e", "jdoe", "mmuster", "pat", "kim"];

/** Adds people to the directory as SCIM would (active, no manager unless given). */
export async function addPeople(
  api: Pick<Api, "db">,
  names: readonly string[],
  manager: string | null = null,
): Promise<void> {
  for (const n of names) {
    await createEmployee(
      api.db,
      {
        userName: n,
        externalId: null,
        employeeNumber: null,
        displayName: n,
        emails: [`${n}@example.com`],
        active: true,
        department: "IT",
        costCenter: "CC-1",
        manager,
      },
      { userName: n },
      new Date(),
    );
  }
}

/** Creates an admin account directly (a cheap hash: 1,000 iterations; the format keeps them). */
export async function addAdmin(
  api: Api,
  username: string,
  role: StoredRole,
  password = "a long enough password",
  email?: string,
): Promise<User> {
  return createUser(api.db, {
    username,
    role,
    email: email ?? `${username}@example.com`,
    passwordHash: await hashPassword(password, 1000),
  });
}

export async function addToken(
  api: Api,
  role: StoredRole,
  scopes: string[],
  name = `t-${role}-${scopes.join("-")}`,
) {
  return (await createApiToken(api.db, { name, role, scopes, createdBy: "system:test" })).token;
}

/**
 * An admin account scoped to `assetTypes` (ACL grants) and an API token it created: what a
 * team's admin calls the API with.
 */
export async function addScopedAdminToken(api: Api, username: string, assetTypes: string[]): Promise<string> {
  const u = await addAdmin(api, username, "admin");
  for (const t of assetTypes) await addGrant(api.db, u.id, t);
  return (
    await createApiToken(api.db, {
      name: `${username}-token`,
      role: "admin",
      scopes: ["admin:*"],
      createdBy: `admin:${username}`,
    })
  ).token;
}

/** A signed-in browser: cookie header plus the CSRF token that writes need. */
export type Browser = { cookie: string; csrf: string; headers: Record<string, string> };

function cookiesOf(setCookie: string | string[] | undefined): Record<string, string> {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const out: Record<string, string> = {};
  for (const c of list) {
    const [pair] = c.split(";");
    const i = pair!.indexOf("=");
    out[pair!.slice(0, i)] = pair!.slice(i + 1);
  }
  return out;
}

export async function signInAs(
  api: Api,
  username: string,
  password = "a long enough password",
): Promise<Browser> {
  const login = await api.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } });
  if (login.statusCode !== 200) throw new Error(`sign-in failed: ${login.statusCode} ${login.body}`);
  return withCsrf(api, cookiesOf(login.headers["set-cookie"]));
}

export async function withCsrf(api: Api, jar: Record<string, string>): Promise<Browser> {
  const cookieHeader = (j: Record<string, string>) =>
    Object.entries(j)
      .map(([k, v]) => `${k}=${v}`)
      .join("; ");
  const r = await api.app.inject({
    method: "GET",
    url: "/auth/csrf",
    headers: { cookie: cookieHeader(jar) },
  });
  const all = { ...jar, ...cookiesOf(r.headers["set-cookie"]) };
  const csrf = r.json<{ csrfToken: string }>().csrfToken;
  const cookie = cookieHeader(all);
  return { cookie, csrf, headers: { cookie, "x-csrf-token": csrf } };
}

export { cookiesOf };
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Sets an Order's status.phase through the status subresource, standing in for the operator
 * (the API only reads the phase).
 */
export async function setOrderPhase(api: Api, name: string, ...phases: string[]): Promise<void> {
  // The CRD allows only real transitions (e.g. a new Order starts PendingApproval or
  // Scheduled), so callers walk the path: setOrderPhase(api, n, "Scheduled", "Processing").
  // Always as the test's cluster admin (the app may run as a narrower ServiceAccount).
  const objs = testKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const key = { group: "ipsolis.io", version: "v1alpha1", namespace: api.namespace, plural: "orders", name };
  for (const phase of phases) {
    const o = (await objs.getNamespacedCustomObject(key)) as { status?: Record<string, unknown> };
    await objs.replaceNamespacedCustomObjectStatus({
      ...key,
      body: { ...o, status: { ...(o.status ?? {}), phase } },
    });
  }
}

/** The hidden `_csrf` field of a rendered form. */
export function csrfField(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error("no _csrf field in the page");
  return m[1];
}

/** A signed-in employee (the portal identity), as the OIDC callback would create. */
export async function signInAsEmployee(api: Api, email: string, id: string): Promise<Browser> {
  const sid = await createSession(
    api.db,
    { employeeEmail: email, employeeId: id, displayName: id },
    new Date(api.clock.now.getTime() + 3600_000),
  );
  return withCsrf(api, { ipsolis_session: sid });
}
