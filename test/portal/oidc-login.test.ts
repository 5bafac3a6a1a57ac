// Employee single sign-on end to end, in a real browser: Debian's Chromium (playwright-core)
// opens the portal, is sent to a real OpenID Connect provider (oidc-provider over HTTPS, in
// Entra ID's URL shape), signs in there, and comes back with an employee session. msal-node
// runs in its production shape; we verify the id token ourselves (jose).
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { access } from "node:fs/promises";
import { pino } from "pino";
import { chromium, type Browser } from "playwright-core";
import { buildApp } from "../../api/app.ts";
import { createOidcClient } from "../../api/oidc/client.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { freePort } from "../cluster/control-plane.ts";
import { newDatabase } from "../support/db.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { startTestIdp } from "../support/oidc.ts";
import { applyCrds } from "../support/crds.ts";

const CHROMIUM = "/usr/bin/chromium";

async function spkiHash(certFile: string): Promise<string> {
  const cert = new X509Certificate(await readFile(certFile));
  const der = cert.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** In a fresh browser context: start sign-in, log in at the provider's form, consent, and return the page. */
async function signInAtProvider(browser: Browser, start: string, authority: string, login: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(start);
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "anything");
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]');
  if (page.url().startsWith(authority)) await page.click('button[type="submit"]');
  return { context, page };
}

test("an employee signs in with OpenID Connect in Chromium and lands on the portal", async (t) => {
  const hasChromium = await access(CHROMIUM).then(
    () => true,
    () => false,
  );
  if (!hasChromium) {
    // ./dev installs Debian's chromium; a machine without it cannot run this test.
    t.skip(`${CHROMIUM} not installed (apt-get install chromium)`);
    return;
  }
  await applyCrds();
  const url = await newDatabase(t, "oidc");
  await migrate(url);
  const db = createPool(url, { max: 4 });
  const namespace = await newNamespace(t, "oidc");
  // A just-created CRD answers 429 "storage is (re)initializing" for a moment.
  const objs = testKubeConfig().makeApiClient(CustomObjectsApi);
  await eventually("orders served", () =>
    objs
      .listNamespacedCustomObject({ group: "ipsolis.io", version: "v1alpha1", namespace, plural: "orders" })
      .then(() => true),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({
    redirectUris: [`${base}/auth/oidc/callback`],
    users: {
      ann: {
        oid: "0a1b2c3d-aaaa-bbbb-cccc-000000000001",
        preferred_username: "ann@corp.example",
        email: "ann@corp.example",
        name: "Ann Example",
      },
      gone: {
        oid: "0a1b2c3d-aaaa-bbbb-cccc-000000000003",
        preferred_username: "gone@corp.example",
        name: "Gone",
      },
      stranger: {
        oid: "0a1b2c3d-aaaa-bbbb-cccc-000000000002",
        preferred_username: "stranger@corp.example",
        name: "Stranger",
      },
    },
  });
  // Ann is an employee (as SCIM provisioning would have made her); the stranger is not.
  await createEmployee(
    db,
    {
      userName: "ann@corp.example",
      externalId: "0a1b2c3d-aaaa-bbbb-cccc-000000000001",
      employeeNumber: "E-1",
      displayName: "Ann Example",
      emails: ["ann@corp.example"],
      active: true,
      department: "Finance",
      costCenter: "CC-100",
      manager: null,
    },
    { userName: "ann@corp.example" },
    new Date(),
  );
  // Gone left the company: deactivated over SCIM.
  await createEmployee(
    db,
    {
      userName: "gone@corp.example",
      externalId: "0a1b2c3d-aaaa-bbbb-cccc-000000000003",
      employeeNumber: "E-3",
      displayName: "Gone",
      emails: ["gone@corp.example"],
      active: false,
      department: null,
      costCenter: null,
      manager: null,
    },
    { userName: "gone@corp.example" },
    new Date(),
  );
  const app = await buildApp({
    log: pino({ level: process.env.IPSOLIS_TEST_LOG ?? "silent" }),
    db,
    kc: testKubeConfig(),
    namespace,
    now: () => new Date(),
    oidc: createOidcClient({
      authority: idp.authority,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      redirectUri: `${base}/auth/oidc/callback`,
      ca: idp.ca,
    }),
  });
  await app.listen({ host: "127.0.0.1", port });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      // Chromium ignores NODE_EXTRA_CA_CERTS: trust the test provider's key explicitly.
      `--ignore-certificate-errors-spki-list=${await spkiHash(idp.certFile)}`,
    ],
  });
  t.after(async () => {
    await browser.close();
    await app.close();
    await idp.stop();
    await db.end();
  });

  const page = await browser.newPage();
  await page.goto(`${base}/auth/oidc/login?returnTo=/portal/orders`);
  // The provider's own sign-in form, then its consent page.
  await page.waitForSelector('input[name="login"]');
  assert.ok(page.url().startsWith(idp.authority), `expected the provider's page, got ${page.url()}`);
  await page.fill('input[name="login"]', "ann");
  await page.fill('input[name="password"]', "anything");
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]');
  if (page.url().startsWith(idp.authority)) await page.click('button[type="submit"]');
  await page.waitForURL(`${base}/portal/orders`, { timeout: 15_000 }).catch(async (err: unknown) => {
    await page.screenshot({ path: "/tmp/ipsolis-oidc-failure.png" });
    throw new Error(`stuck at ${page.url()}: ${(await page.textContent("body"))?.slice(0, 500)}`, {
      cause: err,
    });
  });
  const text = await page.textContent("body");
  assert.match(text ?? "", /Signed in as Ann Example/);
  const cookies = await page.context().cookies(base);
  const session = cookies.find((c) => c.name === "ipsolis_session");
  assert.ok(session, "an employee session cookie was set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");

  const me = await page.evaluate(async () => (await fetch("/auth/me")).json());
  assert.deepEqual(
    { actor: (me as { actor: string }).actor, role: (me as { role: string }).role },
    { actor: "user:ann@corp.example", role: "employee" },
  );
  const audit = await db.query<{ actor: string; action: string }>(
    "SELECT actor, action FROM audit_events WHERE action LIKE 'login_%' ORDER BY id",
  );
  assert.deepEqual(audit.rows, [{ actor: "user:ann@corp.example", action: "login_succeeded" }]);

  // Someone the provider knows but ipsolis was never told about is refused, and audited.
  const { context: ctx2, page: p2 } = await signInAtProvider(
    browser,
    `${base}/auth/oidc/login`,
    idp.authority,
    "stranger",
  );
  await p2.waitForURL(/\/auth\/oidc\/callback/, { timeout: 15_000 });
  assert.match((await p2.textContent("body")) ?? "", /no employee record for/);
  assert.equal(
    (await ctx2.cookies(base)).find((c) => c.name === "ipsolis_session"),
    undefined,
  );
  const refused = await db.query("SELECT 1 FROM audit_events WHERE action = 'login_refused'");
  assert.equal(refused.rowCount, 1);

  // A deactivated employee (leaver) is refused too.
  const { context: ctx3, page: p3 } = await signInAtProvider(
    browser,
    `${base}/auth/oidc/login`,
    idp.authority,
    "gone",
  );
  await p3.waitForURL(/\/auth\/oidc\/callback/, { timeout: 15_000 });
  assert.match((await p3.textContent("body")) ?? "", /deactivated/);
  assert.equal(
    (await ctx3.cookies(base)).find((c) => c.name === "ipsolis_session"),
    undefined,
  );
});

test("the callback refuses a forged or replayed state without a session", async (t) => {
  const url = await newDatabase(t, "oidc");
  await migrate(url);
  const db = createPool(url, { max: 2 });
  const namespace = await newNamespace(t, "oidc");
  const idp = await startTestIdp({ redirectUris: ["http://127.0.0.1:1/auth/oidc/callback"], users: {} });
  const app = await buildApp({
    log: pino({ level: "silent" }),
    db,
    kc: testKubeConfig(),
    namespace,
    now: () => new Date(),
    oidc: createOidcClient({
      authority: idp.authority,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      redirectUri: "http://127.0.0.1:1/auth/oidc/callback",
      ca: idp.ca,
    }),
  });
  t.after(async () => {
    await app.close();
    await idp.stop();
    await db.end();
  });
  const login = await app.inject({ method: "GET", url: "/auth/oidc/login" });
  assert.equal(login.statusCode, 302);
  assert.ok(String(login.headers.location).startsWith(idp.authority), String(login.headers.location));
  const loc = new URL(String(login.headers.location));
  assert.equal(loc.searchParams.get("code_challenge_method"), "S256");
  const pending = login.cookies.find((c) => c.name === "ipsolis_oidc");
  assert.ok(pending && pending.httpOnly && pending.sameSite === "Lax");

  // No sign-in cookie at all.
  const noCookie = await app.inject({ method: "GET", url: "/auth/oidc/callback?code=x&state=y" });
  assert.equal(noCookie.statusCode, 400);
  assert.match(noCookie.body, /No sign-in is in progress in this browser/);
  // The same refusal in German for a German browser: no English left on the page.
  const de = await app.inject({
    method: "GET",
    url: "/auth/oidc/callback?code=x&state=y",
    headers: { "accept-language": "de-DE,de;q=0.9" },
  });
  assert.equal(de.statusCode, 400);
  assert.match(de.body, /Anmeldung fehlgeschlagen/);
  assert.match(de.body, /In diesem Browser läuft keine Anmeldung/);
  assert.doesNotMatch(de.body, /Sign-in|sign-in/);
  // The provider's own refusal (the user said no): its words, inside ours.
  const denied = await app.inject({
    method: "GET",
    url: "/auth/oidc/callback?error=access_denied&error_description=User%20declined",
  });
  assert.equal(denied.statusCode, 401);
  assert.match(denied.body, /Sign-in refused/);
  assert.match(denied.body, /The identity provider said: User declined/);
  // The right cookie, another state.
  const forged = await app.inject({
    method: "GET",
    url: "/auth/oidc/callback?code=x&state=forged",
    cookies: { ipsolis_oidc: pending.value },
  });
  assert.equal(forged.statusCode, 400);
  assert.match(forged.body, /The sign-in does not match this browser/);
  // A tampered cookie (signature broken) counts as none.
  const tampered = await app.inject({
    method: "GET",
    url: `/auth/oidc/callback?code=x&state=${loc.searchParams.get("state")}`,
    cookies: { ipsolis_oidc: pending.value.replace(/.$/, (c) => (c === "A" ? "B" : "A")) },
  });
  assert.equal(tampered.statusCode, 400);
  for (const r of [noCookie, forged, tampered]) {
    assert.equal(
      r.cookies.find((c) => c.name === "ipsolis_session"),
      undefined,
    );
  }
  // A real state but a code the provider never issued: 401 from the token exchange.
  const badCode = await app.inject({
    method: "GET",
    url: `/auth/oidc/callback?code=never-issued&state=${loc.searchParams.get("state")}`,
    cookies: { ipsolis_oidc: pending.value },
  });
  assert.equal(badCode.statusCode, 401);
});
