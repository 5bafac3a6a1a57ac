// The employee portal end to end in Debian's Chromium (playwright-core) against the running
// stack: the real API server, the operator, the local node running the runbooks' bash steps,
// Postgres (with step output ingested from the runner), and a real OpenID Connect provider.
// Every page is checked with axe-core (no serious or critical violations) and photographed at
// 1280 and 360 px (artefacts in $IPSOLIS_ARTIFACTS or the temp dir).
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { pino } from "pino";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { buildApp } from "../../api/app.ts";
import { createOidcClient } from "../../api/oidc/client.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { freePort } from "../cluster/control-plane.ts";
import { newDatabase } from "../support/db.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
import { startTestIdp } from "../support/oidc.ts";
import { applyCrds } from "../support/crds.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import {
  INGEST_SECRET,
  assetType,
  bashStep,
  create,
  get,
  runOperator,
  runbook,
} from "../operator/support.ts";
import type { Order } from "../../crds/generated/index.ts";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { chromiumOrSkip, launchChromium, shoot as shootIn } from "../support/browser.ts";

const LONG = 90_000;

async function spkiHash(certFile: string): Promise<string> {
  const cert = new X509Certificate(await readFile(certFile));
  const der = cert.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

async function ssoSignIn(page: Page, authority: string, login: string) {
  await page.waitForSelector('input[name="login"]');
  assert.ok(page.url().startsWith(authority), `expected the provider's page, got ${page.url()}`);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "anything");
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]');
  if (page.url().startsWith(authority)) await page.click('button[type="submit"]');
}

const text = async (page: Page) => (await page.textContent("main")) ?? "";

test("employees sign in, order, follow live, return, cancel, approve, delegate; leavers are blocked", async (t) => {
  const artifacts = await chromiumOrSkip(t, "portal");
  if (!artifacts) return;
  /** Screenshots at laptop and phone width, and the axe check. */
  const shoot = (page: Page, name: string, found: string[]) =>
    shootIn(page, artifacts, name, found, { sideways: false });
  await applyCrds();
  const url = await newDatabase(t, "portal");
  await migrate(url);
  const db = createPool(url, { max: 6 });
  const ns = await newNamespace(t, "portal");
  const objs = testKubeConfig().makeApiClient(CustomObjectsApi);
  await eventually("orders served", () =>
    objs
      .listNamespacedCustomObject({
        group: "ipsolis.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "orders",
      })
      .then(() => true),
  );
  await runLocalNodeIn(t, ns);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await runOperator(t, ns, { IPSOLIS_INGEST_URL: base, IPSOLIS_INGEST_SECRET: INGEST_SECRET });

  // The catalogue: VPN (no approval; a required cost centre, a secret PIN; a slow runbook so a
  // reload lands mid-run), a laptop (the manager approves).
  await create(
    ns,
    "runbooks",
    runbook("vpn-grant", [
      bashStep("prepare", 'echo "preparing profile"; sleep 2; echo "profile ready"'),
      bashStep("grant", 'for i in 1 2 3 4 5 6; do echo "granting part $i"; sleep 1; done; echo "granted"'),
    ]),
  );
  await create(ns, "runbooks", runbook("vpn-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    ns,
    "assettypes",
    assetType("vpn", {
      displayName: "VPN access",
      category: "Network",
      description:
        "Remote access to the **corporate network**. <script>alert(1)</script> See [the guide](https://intranet.example/vpn).",
      cost: { amountPerMonth: "4.50", currency: "EUR", costCenter: "IT" },
      leaseDuration: "8640h",
      entitlement: { everyone: true },
      attributes: [
        {
          name: "costCentre",
          type: "string",
          required: true,
          description: "The cost centre to charge, e.g. *CC-100*.",
        },
        { name: "region", type: "enum", enum: ["EU", "US"] },
        { name: "pin", type: "string", secret: true, description: "A PIN for the token." },
      ],
    }),
  );
  await create(ns, "runbooks", runbook("laptop-grant", [bashStep("order", "echo ordered")]));
  await create(ns, "runbooks", runbook("laptop-revoke", [bashStep("return", "echo returned")]));
  await create(
    ns,
    "assettypes",
    assetType("laptop", {
      displayName: "Laptop",
      category: "Hardware",
      description: "A 14-inch laptop.",
      approval: { policy: "Manager" },
      cost: { amountPerMonth: "55.00", currency: "EUR", costCenter: "IT" },
      entitlement: { everyone: true },
    }),
  );

  const person = (
    userName: string,
    displayName: string,
    manager: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    createEmployee(
      db,
      {
        userName,
        externalId: null,
        employeeNumber: null,
        displayName,
        emails: [userName],
        active: true,
        department: "Finance",
        costCenter: "CC-100",
        manager,
      },
      { userName, ...extra },
      new Date(),
    );
  await person("bob@corp.example", "Bob Jones", null, { preferredLanguage: "de-DE" });
  await person("ann@corp.example", "Ann Example", "bob@corp.example");
  await person("lea@corp.example", "Lea Leaving", "bob@corp.example");

  const idp = await startTestIdp({
    redirectUris: [`${base}/auth/oidc/callback`],
    users: {
      ann: {
        oid: "00000000-0000-0000-0000-00000000a001",
        preferred_username: "ann@corp.example",
        email: "ann@corp.example",
        name: "Ann Example",
      },
      bob: {
        oid: "00000000-0000-0000-0000-00000000b001",
        preferred_username: "bob@corp.example",
        email: "bob@corp.example",
        name: "Bob Jones",
      },
      lea: {
        oid: "00000000-0000-0000-0000-00000000c001",
        preferred_username: "lea@corp.example",
        email: "lea@corp.example",
        name: "Lea Leaving",
      },
    },
  });
  const app = await buildApp({
    log: pino({ level: process.env.IPSOLIS_TEST_LOG ?? "silent" }),
    db,
    kc: testKubeConfig(),
    namespace: ns,
    now: () => new Date(),
    config: {
      IPSOLIS_INGEST_SECRET: INGEST_SECRET,
      IPSOLIS_TIME_ZONE: "Europe/Berlin",
      IPSOLIS_OIDC_PROVIDER_NAME: "Microsoft",
    },
    oidc: createOidcClient({
      authority: idp.authority,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      redirectUri: `${base}/auth/oidc/callback`,
      ca: idp.ca,
    }),
  });
  await app.listen({ host: "127.0.0.1", port });
  const browser: Browser = await launchChromium([
    "--disable-component-update",
    "--disable-sync",
    `--ignore-certificate-errors-spki-list=${await spkiHash(idp.certFile)}`,
  ]);
  const contexts: BrowserContext[] = [];
  t.after(async () => {
    for (const c of contexts) await c.close();
    await browser.close();
    await app.close();
    await idp.stop();
    await db.end();
  });
  const axe: string[] = [];
  const cspErrors: string[] = [];
  const newPage = async (locale = "en-GB") => {
    const c = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
    contexts.push(c);
    const p = await c.newPage();
    p.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    return p;
  };

  // ---- signed out: a deep link goes to sign-in (SSO first), and SSO lands back on it ----
  const ann = await newPage();
  await ann.goto(`${base}/portal/catalogue?category=Network`);
  await ann.waitForURL(/\/portal\/login\?returnTo=/);
  assert.match(await text(ann), /Sign in with Microsoft/);
  assert.match(await text(ann), /First run: create the superadmin/);
  await shoot(ann, "signin", axe);
  await ann.click("a.button");
  await ssoSignIn(ann, idp.authority, "ann");
  await ann.waitForURL(`${base}/portal/catalogue?category=Network`, { timeout: 20_000 });
  assert.match(await text(ann), /VPN access/);
  assert.doesNotMatch(await text(ann), /Laptop/, "the category filter applies");
  // Markdown is rendered, raw HTML is not.
  assert.equal(await ann.locator("article[data-asset-type=vpn] strong").textContent(), "corporate network");
  assert.equal(await ann.locator("article[data-asset-type=vpn] script").count(), 0);
  assert.match(await text(ann), /No approval needed/);
  assert.match(await text(ann), /€4\.50 per month/);
  assert.match(await text(ann), /€54\.00 over the lease of 12 months/);
  await ann.goto(`${base}/portal/catalogue`);
  assert.match(await text(ann), /Your manager, Bob Jones/);
  await shoot(ann, "catalogue", axe);

  // ---- order with a required attribute: refused empty, accepted filled ----
  await ann.click("text=Order VPN access");
  await ann.waitForURL(/\/portal\/catalogue\/vpn\/order$/);
  await shoot(ann, "order-form", axe);
  await ann.fill("#attr_pin", "2468");
  await ann.click("text=Review order");
  assert.match(await text(ann), /There is a problem/);
  assert.equal(await ann.locator('.error-summary a[href="#attr_costCentre"]').count(), 1);
  assert.equal(await ann.locator("#attr_costCentre").getAttribute("aria-invalid"), "true");
  assert.equal(await ann.inputValue("#attr_pin"), "", "a secret is never echoed back");
  assert.doesNotMatch(await ann.content(), /2468/);
  await shoot(ann, "order-form-errors", axe);
  await ann.fill("#attr_costCentre", "CC-100");
  await ann.selectOption("#attr_region", "EU");
  await ann.fill("#attr_pin", "2468");
  await ann.fill("#reason", "Working from home on Fridays");
  await ann.click("text=Review order");
  assert.match(await text(ann), /Check and confirm/);
  assert.match(await text(ann), /CC-100/);
  assert.match(await text(ann), /\(hidden\)/);
  assert.doesNotMatch(
    await ann.content(),
    /2468/,
    "the confirmation page does not carry the secret in clear",
  );
  await shoot(ann, "order-confirm", axe);
  await ann.click("text=Confirm order");
  await ann.waitForURL(/\/portal\/orders\/vpn-/);
  const vpnOrder = ann.url().split("/").pop()!;
  const created = await get<Order>(ns, "orders", vpnOrder);
  assert.equal(created.spec.attributes?.costCentre, "CC-100");

  // ---- live output; a reload mid-run resumes after the last line ----
  await ann.waitForSelector("pre.log >> text=granting part 2", { timeout: LONG });
  await shoot(ann, "order-live", axe);
  await ann.reload();
  const before = await ann.locator("pre.log [data-id]").count();
  assert.ok(before > 0, "the lines so far are on the reloaded page");
  await ann.waitForSelector("pre.log >> text=granted", { timeout: LONG });
  await ann.waitForSelector("#status >> text=Ready", { timeout: LONG });
  const ids = await ann
    .locator("pre.log [data-id]")
    .evaluateAll((els: { getAttribute(n: string): string | null }[]) =>
      els.map((e) => e.getAttribute("data-id")),
    );
  assert.equal(new Set(ids).size, ids.length, "no line is shown twice after the reload");
  assert.ok((await ann.locator("pre.log").textContent())!.includes("granting part 6"));
  await ann.reload();
  assert.match(await text(ann), /Step grant: done/);
  await shoot(ann, "order-provisioned", axe);

  // ---- My IT: what I hold; return it ----
  await ann.goto(`${base}/portal`);
  assert.match(await text(ann), /VPN access/);
  assert.match(await text(ann), /€4\.50 per month/);
  await shoot(ann, "home", axe);
  ann.once("dialog", (d) => void d.accept());
  await ann.click("button:has-text('Return')");
  await ann.waitForURL(/-deprovision$/);
  await eventually(
    "the VPN returned",
    async () => ((await get<Order>(ns, "orders", vpnOrder)).status?.phase === "Revoked" ? true : undefined),
    LONG,
  );

  // ---- cancel an order waiting for approval; another one the manager approves ----
  const laptopOrders: string[] = [];
  for (let i = 0; i < 2; i++) {
    await ann.goto(`${base}/portal/catalogue/laptop/order`);
    await ann.fill("#reason", i === 0 ? "Changed my mind soon" : "My old one broke");
    await ann.click("text=Review order");
    assert.match(await text(ann), /Your manager, Bob Jones/);
    await ann.click("text=Confirm order");
    await ann.waitForURL(/\/portal\/orders\/laptop-/);
    laptopOrders.push(ann.url().split("/").pop()!);
    await ann.waitForSelector("#status >> text=Waiting for approval", { timeout: LONG }).catch(async () => {
      await ann.reload();
      await ann.waitForSelector("#status >> text=Waiting for approval", { timeout: LONG });
    });
  }
  await ann.goto(`${base}/portal/orders`);
  assert.match((await ann.textContent("nav.nav")) ?? "", /2 open/);
  await shoot(ann, "orders", axe);
  const laptops = (await app.inject({ method: "GET", url: "/portal" })).statusCode; // signed out: redirect
  assert.equal(laptops, 303);
  const cancelName = laptopOrders[0]!;
  await ann.goto(`${base}/portal/orders/${cancelName}`);
  await ann.click("button:has-text('Cancel order')");
  await eventually(
    "the laptop order cancelled",
    async () =>
      (await get<Order>(ns, "orders", cancelName)).status?.phase === "Cancelled" ? true : undefined,
    LONG,
  );

  // ---- the manager (German by SCIM preferredLanguage) approves from the inbox ----
  const bob = await newPage("en-US");
  await bob.goto(`${base}/portal/approvals`);
  await bob.click("a.button");
  await ssoSignIn(bob, idp.authority, "bob");
  await bob.waitForURL(`${base}/portal/approvals`, { timeout: 20_000 });
  assert.equal(await bob.getAttribute("html", "lang"), "de");
  assert.match(await text(bob), /Genehmigungen/);
  assert.match(await text(bob), /My old one broke/);
  assert.doesNotMatch(await text(bob), /Changed my mind soon/, "a cancelled order no longer waits");
  assert.match((await bob.textContent("nav.nav")) ?? "", /1 warten/);
  await shoot(bob, "approvals-de", axe);
  await bob.fill("input[name=comment]", "Ok");
  await bob.click("button:has-text('Genehmigen')");
  assert.match(await text(bob), /Sie haben laptop-.* genehmigt/);
  assert.match(await text(bob), /Nichts wartet auf Ihre Entscheidung/);
  // The switch turns the pages to English for this person.
  await bob.click("header button:has-text('English')");
  assert.match(await text(bob), /Nothing waits for your decision/);
  await bob.goto(`${base}/portal/delegation`);
  await bob.fill("#deputy", "ann@corp.example");
  await bob.fill("#startsAt", "2030-01-01T09:00");
  await bob.fill("#endsAt", "2029-01-01T09:00");
  await bob.click("button:has-text('Set deputy')");
  assert.match(await text(bob), /The end must be after the start/);
  await bob.fill("#endsAt", "2030-01-15T18:00");
  await bob.click("button:has-text('Set deputy')");
  assert.match(await text(bob), /Your deputy was set/);
  assert.match(await text(bob), /1 Jan 2030, 09:00/);
  await shoot(bob, "delegation", axe);
  await bob.click("button:has-text('End')");
  assert.match(await text(bob), /The delegation was ended/);

  const approved = await eventually(
    "the approved laptop provisioned",
    async () => {
      await ann.goto(`${base}/portal`);
      return /Laptop/.test((await ann.locator("table").first().textContent()) ?? "") ? true : undefined;
    },
    LONG,
  );
  assert.ok(approved);

  // ---- a leaver sees why they cannot order; a direct POST is refused ----
  const lea = await newPage();
  await lea.goto(`${base}/portal`);
  await lea.click("a.button");
  await ssoSignIn(lea, idp.authority, "lea");
  await lea.waitForURL(`${base}/portal`, { timeout: 20_000 });
  await db.query("UPDATE employees SET active = false WHERE user_name = 'lea@corp.example'");
  const blocked = await lea.goto(`${base}/portal/catalogue/vpn/order`);
  assert.equal(blocked?.status(), 409);
  assert.match(await text(lea), /You cannot order/);
  assert.match(await text(lea), /Bob Jones/);
  await shoot(lea, "blocked", axe);
  const csrf = await lea.locator("input[name=_csrf]").first().inputValue();
  const direct = await lea.request.post(`${base}/portal/catalogue/vpn/order`, {
    form: { _csrf: csrf, step: "review", attr_costCentre: "CC-1" },
  });
  assert.equal(direct.status(), 409);
  const api = await lea.request.post(`${base}/orders`, {
    headers: { "x-csrf-token": csrf },
    data: { assetType: "vpn", attributes: { costCentre: "CC-1" } },
  });
  assert.equal(api.status(), 409);
  const leaOrders = await db.query(
    "SELECT 1 FROM audit_events WHERE action = 'order_created' AND actor = 'user:lea@corp.example'",
  );
  assert.equal(leaOrders.rowCount, 0);

  assert.deepEqual(cspErrors, [], "no CSP violations");
  assert.deepEqual(axe, [], "no serious or critical axe violations");
});
