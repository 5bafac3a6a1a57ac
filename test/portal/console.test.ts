// The staff console end to end in Debian's Chromium against the running stack (real API server
// listening, operator, local node running the runbooks' bash steps, Postgres with ingested step
// output): a superadmin creates a runbook and an asset type with an attribute schema in the
// browser, an employee orders it, the admin follows the order to Provisioned; a scoped admin sees
// only their type and the same 404 page for another team's; an auditor filters the audit log and
// the CSV equals the API's rows; the cost table equals GET /cost; a minted token is shown once;
// helpdesk sees orders but no write buttons, and a forged form POST is refused. Every screen is
// checked with axe-core and photographed at 1280 and 360 px, in English and German.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { buildApp } from "../../api/app.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { hashPassword } from "../../record/identity/passwords.ts";
import { createUser } from "../../record/identity/users.ts";
import { freePort } from "../cluster/control-plane.ts";
import { newDatabase } from "../support/db.ts";
import { eventually, newNamespace, testKubeConfig } from "../support/kube.ts";
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
import { signInAsEmployee } from "../api/support.ts";
import { chromiumOrSkip, launchChromium, shoot as shootIn } from "../support/browser.ts";

const LONG = 90_000;
const PASSWORD = "a long enough password";

/** The text of each cell of each row matched by `rows` (a table's tbody tr). */
async function cells(page: Page, rows: string): Promise<string[][]> {
  return page.evaluate<string[][]>(
    `Array.from(document.querySelectorAll(${JSON.stringify(rows)})).map((r) => Array.from(r.children).map((c) => (c.textContent || "").trim()))`,
  );
}

/** A pooled type's tiles on the pool page (read without page script, so also with it off). */
async function tiles(page: Page, assetType: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const k of ["free", "inUse", "failed", "maintenance", "total"])
    out[k] = Number(
      (await page.locator(`[data-pool="${assetType}"] [data-tile="${k}"] .tile-value`).textContent())?.trim(),
    );
  return out;
}

const text = async (page: Page) => (await page.textContent("main")) ?? "";

async function signIn(
  browser: Browser,
  base: string,
  username: string,
  locale = "en-GB",
  javaScriptEnabled = true,
): Promise<Page> {
  const page = await (await browser.newContext({ locale, javaScriptEnabled })).newPage();
  await page.goto(`${base}/portal/login?returnTo=%2Fconsole`);
  await page.fill('form[action="/portal/login"] input[name="username"]', username);
  await page.fill('form[action="/portal/login"] input[name="password"]', PASSWORD);
  await page.click('form[action="/portal/login"] button');
  await page.waitForURL(`${base}/console`);
  return page;
}

test("the staff console: catalogue, orders, scoping, audit, cost, tokens and read-only roles in the browser", async (t) => {
  const artifacts = await chromiumOrSkip(t, "console");
  if (!artifacts) return;
  const shoot = (page: Page, name: string, found: string[]) => shootIn(page, artifacts, name, found);
  await applyCrds();
  // node:test runs after-hooks first-in-first-out: the database is dropped by a hook added after
  // everything that uses it (app, operator, browser), so it goes last.
  const drop: (() => unknown)[] = [];
  const url = await newDatabase(
    {
      after: ((fn: () => unknown) => {
        drop.push(fn);
      }) as TestContext["after"],
    },
    "console",
  );
  await migrate(url);
  const db = createPool(url, { max: 6 });
  const ns = await newNamespace(t, "console");
  await runLocalNodeIn(t, ns);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await runOperator(t, ns, {
    IPSOLIS_INGEST_URL: base,
    IPSOLIS_INGEST_SECRET: INGEST_SECRET,
    IPSOLIS_DATABASE_URL: url,
  });

  // Another team's asset type, and the one the scoped admin is granted.
  await create(ns, "runbooks", runbook("printer-grant", [bashStep("grant", "echo printer")]));
  await create(ns, "runbooks", runbook("printer-revoke", [bashStep("revoke", "echo gone")]));
  await create(
    ns,
    "assettypes",
    assetType("printer", {
      displayName: "Printer access",
      category: "Office",
      entitlement: { everyone: true },
      cost: { amountPerMonth: "3.00", currency: "EUR", costCenter: "OPS" },
    }),
  );
  await create(ns, "runbooks", runbook("secret-vault-grant", [bashStep("grant", "echo vault")]));
  await create(
    ns,
    "assettypes",
    assetType("secret-vault", {
      displayName: "Hidden vault",
      category: "Security",
      runbooks: { provision: "secret-vault-grant" },
      entitlement: { everyone: true },
    }),
  );

  // A pooled type: three parking slots (the pool page lists CapacityPooled types only).
  // The parking system is an integration (its label): its health comes from these runs.
  const parkingGrant = runbook("parking-grant", [bashStep("grant", "echo slot")]);
  parkingGrant.metadata!.labels = { "ipsolis.io/integration": "parking-system" };
  await create(ns, "runbooks", parkingGrant);
  await create(ns, "runbooks", runbook("parking-revoke", [bashStep("revoke", "echo free")]));
  await create(
    ns,
    "assettypes",
    assetType("parking", {
      displayName: "Parking space",
      category: "Facilities",
      assignment: { model: "CapacityPooled", capacity: 3 },
      entitlement: { everyone: true },
    }),
  );

  const app = await buildApp({
    log: pino({ level: process.env.IPSOLIS_TEST_LOG ?? "silent" }),
    db,
    kc: testKubeConfig(),
    namespace: ns,
    now: () => new Date(),
    config: { IPSOLIS_INGEST_SECRET: INGEST_SECRET, IPSOLIS_TIME_ZONE: "Europe/Berlin" },
  });
  await app.listen({ host: "127.0.0.1", port });
  t.after(async () => {
    await app.close();
    await db.end();
  });
  const hash = await hashPassword(PASSWORD, 1000);
  await createUser(db, {
    username: "root",
    role: "superadmin",
    email: "root@corp.example",
    passwordHash: hash,
  });
  const sam = await createUser(db, {
    username: "sam",
    role: "admin",
    email: "sam@corp.example",
    passwordHash: hash,
  });
  await db.query("INSERT INTO asset_type_grants (user_id, asset_type) VALUES ($1, 'printer')", [sam.id]);
  await createUser(db, { username: "aud", role: "auditor", email: "aud@corp.example", passwordHash: hash });
  await createUser(db, { username: "hd", role: "helpdesk", email: "hd@corp.example", passwordHash: hash });
  await createEmployee(
    db,
    {
      userName: "ann@corp.example",
      externalId: null,
      employeeNumber: null,
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

  const browser = await launchChromium();
  t.after(() => browser.close());
  t.after(async () => {
    for (const fn of drop) await fn();
  });
  const axe: string[] = [];

  // ---- superadmin: dashboard, then a runbook and an asset type made in the browser ----
  const root = await signIn(browser, base, "root");
  assert.match(await text(root), /Dashboard/);
  await shoot(root, "dashboard", axe);

  await root.goto(`${base}/console/runbooks/new`);
  await root.fill("#name", "badge-grant");
  await root.fill("#description", "Prints a badge");
  await root.fill("#step-0-name", "print");
  await root.selectOption("#step-0-shell", "bash");
  await root.fill("#step-0-script", 'echo "printing badge"');
  await root.fill("#step-0-timeout", "60");
  await root.click('button:has-text("Create")');
  await root.waitForURL(`${base}/console/runbooks/badge-grant?done=*`);
  assert.match(await text(root), /print/);
  await shoot(root, "runbook", axe);
  await root.goto(`${base}/console/runbooks/new`);
  await root.fill("#name", "badge-revoke");
  await root.fill("#step-0-name", "void");
  await root.selectOption("#step-0-shell", "bash");
  await root.fill("#step-0-script", "echo voided");
  await root.click('button:has-text("Create")');
  await root.waitForURL(`${base}/console/runbooks/badge-revoke?done=*`);

  await root.goto(`${base}/console/asset-types/new`);
  await shoot(root, "asset-type-new", axe);
  // A bad amount first: the message sits next to its field, nothing is created.
  await root.fill("#name", "badge");
  await root.fill("#displayName", "Door badge");
  await root.fill("#category", "Facilities");
  await root.fill("#amount", "12,50");
  await root.fill("#costCenter", "FAC");
  await root.selectOption("#provision", "badge-grant");
  await root.selectOption("#deprovision", "badge-revoke");
  await root.fill("#attr-0-name", "building");
  await root.selectOption("#attr-0-type", "enum");
  await root.fill("#attr-0-enum", "HQ, Lab");
  await root.check("#attr-0-required");
  await root.click('button:has-text("Create")');
  await root.waitForSelector("#error-summary");
  assert.match(await text(root), /amount/i);
  await shoot(root, "asset-type-errors", axe);
  await assert.rejects(get(ns, "assettypes", "badge"), "nothing was created");
  await root.fill("#amount", "12.50");
  await root.click('button:has-text("Create")');
  await root.waitForURL(`${base}/console/asset-types/badge?done=*`);
  assert.match(await text(root), /building/);
  await shoot(root, "asset-type", axe);

  // ---- an employee orders it; the admin follows the order to Provisioned ----
  const apiShape = { app, db, kc: testKubeConfig(), namespace: ns, clock: { now: new Date() } };
  const ann = await signInAsEmployee(apiShape, "ann@corp.example", "ann@corp.example");
  const made = await app.inject({
    method: "POST",
    url: "/orders",
    headers: ann.headers,
    payload: { assetType: "badge", attributes: { building: "Lab" }, reason: "new starter" },
  });
  assert.equal(made.statusCode, 201, made.body);
  const orderName = made.json<{ name: string }>().name;
  await root.goto(`${base}/console/orders`);
  assert.match(await text(root), new RegExp(orderName));
  await shoot(root, "orders", axe);
  await root.goto(`${base}/console/orders/${orderName}`);
  await eventually(
    "the order page shows Provisioned",
    async () => {
      await root.reload();
      return /Provisioned/.test((await root.textContent("#status")) ?? "") || undefined;
    },
    LONG,
  );
  assert.match(await text(root), /printing badge/);
  assert.equal((await get<Order>(ns, "orders", orderName)).status?.phase, "Provisioned");
  assert.ok(await root.$(`form[action="/console/orders/${orderName}/revoke"]`), "an admin may revoke");
  await shoot(root, "order", axe);

  // ---- a token is shown once ----
  await root.goto(`${base}/console/tokens`);
  await root.fill("#name", "ci-reader");
  await root.selectOption("#role", "helpdesk");
  await root.fill("#scopes", "orders:read");
  await root.click('form[action="/console/tokens"] button');
  const raw = await root.inputValue("#minted-token");
  assert.ok(raw.length > 20);
  await shoot(root, "tokens-minted", axe);
  const viaToken = await app.inject({
    method: "GET",
    url: "/orders",
    headers: { authorization: `Bearer ${raw}` },
  });
  assert.equal(viaToken.statusCode, 200);
  await root.goto(`${base}/console/tokens`);
  assert.doesNotMatch(await root.content(), new RegExp(raw), "shown only once");
  await root.goto(`${base}/console/users`);
  assert.match(await text(root), /sam/);
  await shoot(root, "users", axe);
  await root.goto(`${base}/console/settings`);
  await shoot(root, "settings", axe);
  // ---- the pool's tiles follow the slots live; without script, Refresh shows the present ----
  // (a deleted Order's slot is returned at once)
  await root.goto(`${base}/console/pool`);
  assert.deepEqual(await tiles(root, "parking"), { free: 3, inUse: 0, failed: 0, maintenance: 0, total: 3 });
  assert.equal(await root.isVisible("#refresh-live"), true, "the page says it updates itself");
  await root.evaluate("window.notReloaded = true");
  const noJs = await signIn(browser, base, "root", "en-GB", false);
  await noJs.goto(`${base}/console/pool`);
  assert.equal(await noJs.isVisible("#refresh-live"), false, "no promise of updates without script");
  // Ann orders a space through the API: the operator takes a slot (an Asset object, ADR 0005).
  // (A hand-made Asset naming no existing Order is not a slot for long: the operator returns a
  // deleted Order's slot at once, operator/order/reconcile.ts releaseHeldBy.)
  const parked = await app.inject({
    method: "POST",
    url: "/orders",
    headers: ann.headers,
    payload: { assetType: "parking", attributes: {}, reason: "car" },
  });
  assert.equal(parked.statusCode, 201, parked.body);
  const parking = parked.json<{ name: string }>().name;
  await root
    .locator('[data-pool="parking"] [data-tile="inUse"] .tile-value', { hasText: /^1$/ })
    .waitFor({ timeout: 30_000 });
  assert.deepEqual(await tiles(root, "parking"), { free: 2, inUse: 1, failed: 0, maintenance: 0, total: 3 });
  assert.deepEqual(
    (await cells(root, "#holders-parking tbody tr")).map((r) => r[0]),
    [parking],
  );
  assert.equal(await root.evaluate("window.notReloaded"), true, "updated in place, not reloaded");
  await shoot(root, "pool", axe);
  await noJs.goto(`${base}/console/pool`);
  assert.deepEqual(await tiles(noJs, "parking"), { free: 2, inUse: 1, failed: 0, maintenance: 0, total: 3 });
  await testKubeConfig().makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
    group: "ipsolis.io",
    version: "v1alpha1",
    namespace: ns,
    plural: "orders",
    name: parking,
  });
  await root
    .locator('[data-pool="parking"] [data-tile="free"] .tile-value', { hasText: /^3$/ })
    .waitFor({ timeout: 30_000 });
  assert.equal(await root.evaluate("window.notReloaded"), true);
  // The updates can be paused (WCAG 2.2.2) and resumed, by keyboard.
  await root.focus("#refresh-pause");
  await root.keyboard.press("Enter");
  assert.equal(await root.getAttribute("#refresh-pause", "aria-pressed"), "true");
  assert.equal((await root.textContent("#refresh-pause"))?.trim(), "Resume updates");
  await root.keyboard.press("Enter");
  assert.equal(await root.getAttribute("#refresh-pause", "aria-pressed"), "false");
  assert.deepEqual(await tiles(noJs, "parking"), { free: 2, inUse: 1, failed: 0, maintenance: 0, total: 3 });
  await noJs.click('main a[href="/console/pool"]');
  await noJs.waitForLoadState();
  assert.deepEqual(await tiles(noJs, "parking"), { free: 3, inUse: 0, failed: 0, maintenance: 0, total: 3 });
  await noJs.context().close();
  await root.goto(`${base}/console/leavers`);
  await shoot(root, "leavers", axe);

  // ---- the leaver dry run: the page's rows are POST /hr/leaver?dryRun=true's answer ----
  await root.click('main a[href="/console/leavers/plan"]');
  await root.waitForURL(`${base}/console/leavers/plan`);
  await root.click('button:has-text("Show the plan")');
  await root.waitForSelector("#error-summary");
  // A date that is no calendar date is refused, not silently read as "now".
  const badDate = await root.goto(
    `${base}/console/leavers/plan?who=ann%40corp.example&effectiveDate=2024-13-45`,
  );
  assert.equal(badDate?.status(), 400);
  await root.waitForSelector("#error-summary");
  await root.goto(`${base}/console/leavers/plan`);
  await root.fill("#who", "ann@corp.example");
  await root.click('button:has-text("Show the plan")');
  await root.waitForSelector("#plan");
  const planRows = await cells(root, "#plan-revoke tbody tr");
  const dry = await root.evaluate<{
    wouldRevoke: { target: string; assetType: string; deprovisionOrder: string; alreadyQueued: boolean }[];
    wouldCancel: string[];
  }>(`(async () => {
    const csrf = document.querySelector('input[name="_csrf"]').value;
    const r = await fetch("/hr/leaver?dryRun=true", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ email: "ann@corp.example" }),
    });
    return r.json();
  })()`);
  assert.ok(
    dry.wouldRevoke.some((w) => w.target === orderName),
    JSON.stringify(dry),
  );
  assert.deepEqual(
    planRows,
    dry.wouldRevoke.map((w) => [w.target, w.assetType, w.deprovisionOrder, w.alreadyQueued ? "yes" : "no"]),
  );
  assert.equal((await cells(root, "#plan-cancel tbody tr")).length, dry.wouldCancel.length);
  await shoot(root, "leaver-plan", axe);
  assert.equal((await get<Order>(ns, "orders", orderName)).status?.phase, "Provisioned", "nothing changed");

  // ---- integration health: the page is GET /integrations; the parking runs made it healthy ----
  type IntegrationJson = { integrations: { name: string; health: string; lastError: string | null }[] };
  let lastSeen = "nothing yet";
  const apiIntegrations = await eventually(
    "parking-system healthy in GET /integrations",
    async () => {
      const r = await root.evaluate<IntegrationJson>(`fetch("/integrations").then((r) => r.json())`);
      lastSeen = JSON.stringify(r.integrations.find((i) => i.name === "parking-system") ?? r);
      return r.integrations.some((i) => i.name === "parking-system" && i.health === "healthy")
        ? r
        : undefined;
    },
    // Health comes from the record (step runs joined to the mirrored orders): under a full
    // parallel run the history mirror's watch can lag behind the run by tens of seconds.
    120_000,
    500,
  ).catch(async (err: unknown) => {
    const runs = await db.query(
      "SELECT o.name, o.asset_type, o.action, s.step, s.state, s.finished_at FROM step_runs s JOIN orders o ON o.uid = s.order_uid",
    );
    const orders = await db.query("SELECT name, asset_type, action, phase FROM orders");
    throw new Error(
      `${(err as Error).message}; last seen: ${lastSeen}; step runs: ${JSON.stringify(runs.rows)}; orders: ${JSON.stringify(orders.rows)}`,
    );
  });
  await root.goto(`${base}/console`);
  assert.match(await text(root), /Integrations[\s\S]*parking-system[\s\S]*Healthy/);
  await root.click('main a[href="/console/integrations"]');
  await root.waitForURL(`${base}/console/integrations`);
  assert.deepEqual(
    (await cells(root, "#integrations tbody tr")).map((r) => [r[0], r[3]]),
    apiIntegrations.integrations.map((i) => [
      i.name,
      ({ healthy: "Healthy", failing: "Failing", unknown: "No runs yet" } as Record<string, string>)[
        i.health
      ],
    ]),
  );
  await shoot(root, "integrations", axe);

  // ---- the page and the API agree (orders list, for the superadmin) ----
  const apiOrders = await root.evaluate(
    async () => (await (await fetch("/orders")).json()) as { items: { name: string }[] },
  );
  await root.goto(`${base}/console/orders`);
  const listed = (await cells(root, "#orders tbody tr")).map((r) => r[0]);
  assert.deepEqual(listed.sort(), apiOrders.items.map((i) => i.name).sort());

  // ---- scoped admin: only their type; another team's is the same 404 as a missing one ----
  const samPage = await signIn(browser, base, "sam");
  await samPage.goto(`${base}/console/asset-types`);
  const samTypes = (await cells(samPage, "#asset-types tbody tr")).map((r) => r[0]);
  assert.deepEqual(samTypes, ["printer"]);
  assert.doesNotMatch(await samPage.content(), /secret-vault|Hidden vault|badge/);
  const hidden = await samPage.goto(`${base}/console/asset-types/secret-vault`);
  const hiddenText = (await text(samPage)).replace(/secret-vault/g, "X");
  const missing = await samPage.goto(`${base}/console/asset-types/no-such-type`);
  const missingText = (await text(samPage)).replace(/no-such-type/g, "X");
  assert.equal(hidden?.status(), 404);
  assert.equal(missing?.status(), 404);
  assert.equal(hiddenText, missingText);
  await shoot(samPage, "not-found", axe);

  // ---- auditor: filter the audit log; the CSV is the API's rows for the same filter ----
  const aud = await signIn(browser, base, "aud");
  await aud.goto(`${base}/console/audit`);
  assert.match(await text(aud), /The chain verifies/);
  await aud.fill("#f-action", "asset_type_created");
  await aud.click('form.filters button:has-text("Filter")');
  await aud.waitForURL(/action=asset_type_created/);
  const auditRows = (await cells(aud, "#audit tbody tr")).length;
  const apiAudit = await aud.evaluate(
    async () =>
      (await (await fetch("/audit?action=asset_type_created")).json()) as { items: { id: string }[] },
  );
  assert.equal(auditRows, apiAudit.items.length);
  const csvHref = await aud.getAttribute("#audit-csv", "href");
  const csv = await aud.evaluate(async (h) => (await fetch(h as string)).text(), csvHref);
  const ids = csv
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",")[0]);
  assert.deepEqual(
    ids,
    apiAudit.items.map((i) => i.id),
  );
  await shoot(aud, "audit", axe);
  // ---- the cost page's table equals GET /cost ----
  await aud.goto(`${base}/console/cost`);
  const costFrom = await aud.inputValue("#f-from");
  const apiCost = await aud.evaluate(
    async (f) =>
      (await (await fetch(`/cost?groupBy=costCenter,month&from=${f}`)).json()) as {
        rows: { costCenter: string; month: string; orders: number }[];
      },
    costFrom,
  );

  const costTable = (await cells(aud, "#cost-centre tbody tr")).map((r) => [r[0], r[1], Number(r[3])]);

  assert.deepEqual(
    costTable,
    apiCost.rows.map((r) => [r.costCenter, r.month, r.orders]),
  );
  assert.ok(await aud.$("#chart-centre-t"), "the chart is drawn");
  await shoot(aud, "cost", axe);
  // An auditor has no catalogue: the nav does not offer it and the page is refused.
  assert.equal(await aud.$('nav a[href="/console/asset-types"]'), null);
  assert.equal((await aud.goto(`${base}/console/asset-types`))?.status(), 403);
  // Leavers, yes; the dry run needs hr:leaver, as POST /hr/leaver does.
  await aud.goto(`${base}/console/leavers`);
  assert.equal(await aud.$('main a[href="/console/leavers/plan"]'), null);
  assert.equal((await aud.goto(`${base}/console/leavers/plan?who=ann%40corp.example`))?.status(), 403);

  // ---- helpdesk: orders and logs, no write buttons; a forged POST is refused ----
  const hd = await signIn(browser, base, "hd", "de-DE");
  await hd.goto(`${base}/console/orders/${orderName}`);
  assert.match(await text(hd), /printing badge/);
  assert.equal(await hd.$("#order-actions form"), null, "no write buttons for helpdesk");
  await shoot(hd, "order-helpdesk-de", axe);
  const forged = await hd.evaluate<number>(`(async () => {
    const csrf = document.querySelector('input[name="_csrf"]').value;
    const r = await fetch("/console/orders/${orderName}/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "_csrf=" + encodeURIComponent(csrf),
    });
    return r.status;
  })()`);
  assert.equal(forged, 403);
  assert.equal((await get<Order>(ns, "orders", orderName)).status?.phase, "Provisioned");
  await hd.goto(`${base}/console`);
  assert.match(await text(hd), /Übersicht/);
  await shoot(hd, "dashboard-de", axe);

  // The leaver dry run in German (a plain GET: the URL is the question).
  const rootDe = await signIn(browser, base, "root", "de-DE");
  await rootDe.goto(`${base}/console/leavers/plan?who=ann%40corp.example`);
  assert.equal(await rootDe.textContent("h1"), "Austrittsplan (Probelauf)");
  assert.equal((await cells(rootDe, "#plan-revoke tbody tr")).length, planRows.length);
  await shoot(rootDe, "leaver-plan-de", axe);

  assert.deepEqual(axe, [], axe.join("\n"));
});
