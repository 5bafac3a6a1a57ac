// One-time passwords in the portal (#22), in Debian's Chromium against the running stack (API,
// operator, local node, Postgres, mailpit): the employee presses "Reset password" on her account
// (no JavaScript needed: a form), her manager follows the mail's link, waits for the change to
// finish and reveals the password once (German), by keyboard; a reload shows it is gone. Each
// page passes axe-core and is photographed at 1280 and 360 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { assetType, bashStep, create, phaseIs, runbook, waitOrder } from "../operator/support.ts";
import { eventually } from "../support/kube.ts";
import { chromiumOrSkip, launchChromium, shoot } from "../support/browser.ts";
import { startStack, type Stack } from "../approvals/support.ts";
import type { Browser as Jar } from "../api/support.ts";

const LONG = 90_000;

async function pageAs(s: Stack, browser: Awaited<ReturnType<typeof launchChromium>>, jar: Jar, lang: string) {
  const ctx = await browser.newContext({ locale: lang === "de" ? "de-DE" : "en-GB" });
  const sid = /ipsolis_session=([^;]+)/.exec(jar.cookie)?.[1];
  assert.ok(sid, jar.cookie);
  await ctx.addCookies([
    { name: "ipsolis_session", value: decodeURIComponent(sid), url: s.base },
    { name: "ipsolis_lang", value: lang, url: s.base },
  ]);
  return ctx.newPage();
}

const main = async (p: Page) => (await p.textContent("main")) ?? "";

test("portal: ann resets her password, bob reveals it once from the mail's link", async (t) => {
  const artifacts = await chromiumOrSkip(t, "portal-secrets");
  if (!artifacts) return;
  const s = await startStack(t, "otpweb", [
    { email: "bob@corp.example", name: "Bob Boss", manager: null, lang: "de" },
    { email: "ann@corp.example", name: "Ann Example", manager: "bob@corp.example" },
  ]);
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-otpweb-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const seen = join(dir, "password");
  const setPassword = `if [ -n "\${IPSOLIS_ATTR_password:-}" ]; then printf '%s' "$IPSOLIS_ATTR_password" > ${seen}; sleep 2; echo "password reset"; else echo "password unchanged"; fi`;
  await create(s.ns, "runbooks", runbook("acct-grant", [bashStep("grant", setPassword)]));
  await create(s.ns, "runbooks", runbook("acct-change", [bashStep("change", setPassword)]));
  await create(s.ns, "runbooks", runbook("acct-revoke", [bashStep("revoke", "echo revoked")]));
  await create(
    s.ns,
    "assettypes",
    assetType("dir-account", {
      displayName: "Directory account",
      approval: { policy: "None", onModify: { policy: "None" } },
      runbooks: { provision: "acct-grant", modify: "acct-change", deprovision: "acct-revoke" },
      attributes: [
        {
          name: "password",
          type: "string",
          secret: true,
          generated: { kind: "OneTimePassword", deliverTo: "Manager" },
        },
      ],
      entitlement: { everyone: true },
    }),
  );
  const annJar = await s.asEmployee("ann@corp.example", "ann@corp.example");
  // Ann's account, provisioned without a password (HR's feed set the first one).
  const made = await s.app.inject({
    method: "POST",
    url: "/orders",
    headers: annJar.headers,
    payload: { assetType: "dir-account" },
  });
  assert.equal(made.statusCode, 201, made.body);
  const account = made.json<{ name: string }>().name;
  await waitOrder(s.ns, account, phaseIs("Provisioned"), LONG);

  const browser = await launchChromium();
  // Closed before the stack's teardown (its after-hooks run first): an open page would hold the
  // API's connections.
  try {
    await journey(s, browser, account, seen, artifacts);
  } finally {
    await browser.close();
  }
});

async function journey(
  s: Stack,
  browser: Awaited<ReturnType<typeof launchChromium>>,
  account: string,
  seen: string,
  artifacts: string,
) {
  const annJar = await s.asEmployee("ann@corp.example", "ann@corp.example");
  const bobJar = await s.asEmployee("bob@corp.example", "bob@corp.example");
  const axe: string[] = [];

  // ---- ann: "Reset password" on her account's page ----
  const ann = await pageAs(s, browser, annJar, "en");
  ann.setDefaultTimeout(20_000);
  await ann.goto(`${s.base}/portal/orders/${account}`);
  assert.match(await main(ann), /A new password goes to your manager, Bob Boss, who hands it to you\./);
  await shoot(ann, artifacts, "order-reset-button", axe);
  await ann.click("text=Reset password");
  await ann.waitForURL(/\/portal\/orders\/.+-m-.+\?reset=1$/);
  assert.match(await main(ann), /A new password was asked for\. It goes to your manager, not to you\./);
  const modify = new URL(ann.url()).pathname.split("/").at(-1)!;
  await shoot(ann, artifacts, "order-reset-done", axe);

  // ---- bob: the mail's link, in German ----
  const mails = await eventually("bob's mail", async () => {
    const l = await s.mail.messagesTo("bob@corp.example");
    return l.length > 0 ? l : undefined;
  });
  const mail = await s.mail.message(mails[0]!.ID);
  assert.equal(mail.Subject, "Ein Einmalpasswort für Ann Example (ann@corp.example) wartet auf Sie");
  const link = /Im Portal: (\S+)/.exec(mail.Text)?.[1];
  assert.ok(link, mail.Text);
  const bob = await pageAs(s, browser, bobJar, "de");
  bob.setDefaultTimeout(20_000);
  await bob.goto(link);
  // The runbook takes a moment: until the change is done the page says to come back.
  const first = await main(bob);
  if (/Wartet: die Bestellung ist/.test(first)) {
    assert.equal(await bob.locator("text=Passwort anzeigen").count(), 0, "no Reveal before it works");
    await shoot(bob, artifacts, "secret-waiting-de", axe);
  }
  await waitOrder(s.ns, modify, phaseIs("Provisioned"), LONG);
  await bob.reload();
  assert.match(await main(bob), /Bereit zum Anzeigen/);
  await shoot(bob, artifacts, "secret-ready-de", axe);
  // The nav shows it to the manager, with its count.
  assert.match((await bob.textContent("nav")) ?? "", /Passwörter\s*\(1 bereit\)/);
  // Keyboard only: Tab to the button, Enter.
  await bob.locator("button", { hasText: "Passwort anzeigen" }).focus();
  await bob.keyboard.press("Enter");
  await bob.waitForSelector("#secret-value");
  const shown = (await bob.textContent("#secret-value"))?.trim() ?? "";
  assert.equal(shown, await readFile(seen, "utf8"), "bob sees exactly what the runbook set");
  await shoot(bob, artifacts, "secret-revealed-de", axe);

  // Gone after that: the list says so, and a second reveal is refused with the reason.
  await bob.goto(`${s.base}/portal/secrets`);
  assert.match(await main(bob), /Angezeigt/);
  assert.ok(!(await main(bob)).includes(shown), "the list never shows the value");
  await shoot(bob, artifacts, "secrets-de", axe);
  const again = await s.app.inject({
    method: "POST",
    url: new URL(link).pathname + "/reveal",
    headers: { ...bobJar.headers, "content-type": "application/x-www-form-urlencoded" },
    payload: `_csrf=${encodeURIComponent(bobJar.csrf)}`,
  });
  assert.equal(again.statusCode, 410, again.body);
  assert.match(again.body, /it can be revealed once/);

  // ann never sees it: her portal has no Passwords section and the page is a 404 for her.
  await ann.goto(link);
  assert.equal(await ann.locator("#secret-value").count(), 0);
  assert.doesNotMatch((await ann.textContent("nav")) ?? "", /Passwords/);

  // Her manager deactivated in the directory: no Reset button (the reset would be refused
  // 422 ManagerInactive), and the page says why.
  await s.db.query("UPDATE employees SET active = false WHERE user_name = 'bob@corp.example'");
  await ann.goto(`${s.base}/portal/orders/${account}`);
  assert.match(await main(ann), /Your manager, Bob Boss, is deactivated in the directory/);
  assert.equal(await ann.locator("button", { hasText: "Reset password" }).count(), 0);
  assert.deepEqual(axe, [], "no serious or critical axe violations");
}
