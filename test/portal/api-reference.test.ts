// The API reference page (/docs/api, ADR 0014) on the real wiring: public, every operation of
// /openapi.json on it with its auth, under the strict CSP (no inline script or style); English
// and German, the document's English marked as such; linked from the console for staff. In
// Debian's Chromium: axe-core (WCAG 2.1 AA) and screenshots at 1280 and 360 px in both
// languages, keyboard use (skip link, contents, the schemas' disclosures), and the same page
// without JavaScript, language switch included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { freePort } from "../cluster/control-plane.ts";
import { addAdmin, newApi, signInAs } from "../api/support.ts";
import { checkAxe, chromiumOrSkip, launchChromium, shoot as shootIn } from "../support/browser.ts";

type Doc = { paths: Record<string, Record<string, { security?: unknown[] }>> };

const opId = (method: string, path: string) =>
  `op-${`${method} ${path}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")}`;

test("the API reference is a public page listing every operation with its auth, under the strict CSP, in English and German", async (t) => {
  const api = await newApi(t, { people: false });
  const doc = (await api.app.inject({ method: "GET", url: "/openapi.json" })).json<Doc>();
  const res = await api.app.inject({ method: "GET", url: "/docs/api", headers: { "accept-language": "en" } });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers["content-type"]), /^text\/html/);
  assert.match(String(res.headers["content-security-policy"]), /script-src 'self'.*style-src 'self'/);
  const page = res.body;
  assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)/, "no inline script");
  assert.doesNotMatch(page, /<style|\sstyle=/, "no inline style");
  assert.match(page, /<html lang="en">/);
  assert.match(page, /<h1>API reference<\/h1>/);
  assert.match(page, /href="\/openapi\.json"/);

  let n = 0;
  for (const [path, ops] of Object.entries(doc.paths))
    for (const method of Object.keys(ops)) {
      n++;
      assert.ok(
        page.includes(`id="${opId(method, path)}"`),
        `${method.toUpperCase()} ${path} is on the page`,
      );
    }
  assert.equal((page.match(/<article class="card ref-op"/g) ?? []).length, n, "one article per operation");
  const section = (id: string) => page.slice(page.indexOf(`id="${id}"`)).split("</article>")[0] ?? "";
  assert.match(section(opId("get", "/healthz")), /Public: no credentials needed/);
  const post = section(opId("post", "/orders"));
  assert.match(post, /<code>orders:write<\/code>/);
  assert.match(post, /href="#scheme-apiToken"/);
  assert.match(post, /Request body/);
  for (const s of ["apiToken", "scimToken", "sessionCookie", "adminKey", "ingestToken", "webhookSignature"])
    assert.ok(page.includes(`id="scheme-${s}"`), s);
  assert.match(section(opId("post", "/hr/leaver")), /webhook-signature/);

  const de = await api.app.inject({ method: "GET", url: "/docs/api", headers: { "accept-language": "de" } });
  assert.match(de.body, /<html lang="de">/);
  assert.match(de.body, /<h1>API-Referenz<\/h1>/);
  assert.match(de.body, /Öffentlich: keine Anmeldung nötig/);
  assert.match(de.body, /<p lang="en">Order an asset type/, "the contract's English is marked as English");

  // Staff find it from every console page (the footer) and from the API tokens page.
  await addAdmin(api, "root", "superadmin");
  const staff = await signInAs(api, "root");
  const tokens = await api.app.inject({ method: "GET", url: "/console/tokens", headers: staff.headers });
  assert.equal(tokens.statusCode, 200);
  assert.equal((tokens.body.match(/href="\/docs\/api"/g) ?? []).length, 2);
  const signedIn = await api.app.inject({ method: "GET", url: "/docs/api", headers: staff.headers });
  assert.match(signedIn.body, /<footer class="foot">\s*<a href="\/docs\/api" aria-current="page"/);
});

const active = (page: Page) =>
  page.evaluate<string>(
    "(() => { const e = document.activeElement; return e ? `${e.tagName} ${e.getAttribute('href') ?? ''} ${(e.textContent || '').trim().slice(0, 40)}` : '' })()",
  );

async function tabUntil(page: Page, want: RegExp, max = 40): Promise<string> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const a = await active(page);
    if (want.test(a)) return a;
  }
  throw new Error(`no element matching ${String(want)} within ${max} tabs (at ${await active(page)})`);
}

test("the API reference in Chromium: axe, phone and laptop widths, keyboard, English and German, without JavaScript", async (t) => {
  const artifacts = await chromiumOrSkip(t, "docs");
  if (!artifacts) return;
  // The viewport, not the full page: all operations make a picture of several megabytes.
  const shoot = (page: Page, name: string, found: string[]) =>
    shootIn(page, artifacts, name, found, { axe: false, fullPage: false });
  const api = await newApi(t, { people: false });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await api.app.listen({ host: "127.0.0.1", port });
  const browser = await launchChromium();
  t.after(() => browser.close());
  const found: string[] = [];

  for (const [locale, name, h1] of [
    ["en-GB", "api-reference", "API reference"],
    ["de-DE", "api-reference-de", "API-Referenz"],
  ] as const) {
    const page = await (await browser.newContext({ locale })).newPage();
    await page.goto(`${base}/docs/api`);
    assert.equal(await page.textContent("h1"), h1);
    await checkAxe(page, name, found);
    await shoot(page, name, found);

    // Keyboard: the skip link comes first and lands in the content; the contents lead to an area;
    // a schema opens with Enter.
    await page.keyboard.press("Tab");
    assert.match(await active(page), /^A #main /);
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate<string>("document.activeElement.id"), "main");
    await tabUntil(page, /^A #tag-orders /);
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate<string>("location.hash"), "#tag-orders");
    await tabUntil(page, /^SUMMARY /, 80);
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate<boolean>("document.activeElement.parentElement.open"), true);
    await checkAxe(page, `${name}-schema-open`, found);
    await page.screenshot({ path: join(artifacts, `${name}-schema-1280.png`) });
    await page.context().close();
  }

  // Without JavaScript: the same page, the schemas still open, the language switch still works.
  const ctx = await browser.newContext({ locale: "en-GB", javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto(`${base}/docs/api`);
  assert.equal(await page.textContent("h1"), "API reference");
  const summary = page.locator("details.ref-schema > summary").first();
  await summary.click();
  assert.equal(await page.locator("details.ref-schema").first().getAttribute("open"), "");
  await shoot(page, "api-reference-nojs", found);
  await page.click('form[action="/portal/language"] button');
  await page.waitForURL(`${base}/docs/api`);
  assert.equal(await page.textContent("h1"), "API-Referenz");
  await ctx.close();

  assert.deepEqual(found, []);
});
