// Portal pages on the real wiring: first-run setup form, sign-in form (CSRF-protected), the
// password page (refusing the legacy key), the order list (escaped output).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { addAdmin, cookiesOf, csrfField, newApi, signInAs, type Api } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";
import { createSession } from "../../record/identity/sessions.ts";

before(async () => {
  await applyCrds();
});

const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function formPage(api: Api, url: string, cookie = "") {
  const page = await api.app.inject({ method: "GET", url, headers: cookie ? { cookie } : {} });
  const jar = {
    ...Object.fromEntries(
      cookie
        .split("; ")
        .filter(Boolean)
        .map((c) => c.split("=") as [string, string]),
    ),
    ...cookiesOf(page.headers["set-cookie"]),
  };
  const c = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  return { page, cookie: c, csrf: csrfField(page.body) };
}

test("first run through the portal: the login page offers setup, then signs in; afterwards it is gone", async (t) => {
  const api = await newApi(t);
  const f = await formPage(api, "/portal/login");
  assert.match(f.page.body, /First run: create the superadmin/);
  assert.equal(f.page.headers["content-type"], "text/html; charset=utf-8");

  const noCsrf = await api.app.inject({
    method: "POST",
    url: "/portal/setup",
    headers: { ...FORM, cookie: f.cookie },
    payload: "username=root&password=a+very+long+password",
  });
  assert.equal(noCsrf.statusCode, 403);
  const made = await api.app.inject({
    method: "POST",
    url: "/portal/setup",
    headers: { ...FORM, cookie: f.cookie },
    payload: `username=root&password=a+very+long+password&_csrf=${encodeURIComponent(f.csrf)}`,
  });
  assert.equal(made.statusCode, 303, made.body);
  assert.equal(made.headers.location, "/portal");

  const again = await formPage(api, "/portal/login");
  assert.match(again.page.body, /Sign in/);
  assert.doesNotMatch(again.page.body, /First run/);
  const gone = await api.app.inject({
    method: "POST",
    url: "/portal/setup",
    headers: { ...FORM, cookie: again.cookie },
    payload: `username=evil&password=a+very+long+password&_csrf=${encodeURIComponent(again.csrf)}`,
  });
  assert.equal(gone.statusCode, 404);

  const bad = await api.app.inject({
    method: "POST",
    url: "/portal/login",
    headers: { ...FORM, cookie: again.cookie },
    payload: `username=root&password=wrong&_csrf=${encodeURIComponent(again.csrf)}`,
  });
  assert.equal(bad.statusCode, 401);
  assert.match(bad.body, /invalid username or password/);
  const good = await api.app.inject({
    method: "POST",
    url: "/portal/login",
    headers: { ...FORM, cookie: again.cookie },
    payload: `username=root&password=a+very+long+password&_csrf=${encodeURIComponent(again.csrf)}`,
  });
  assert.equal(good.statusCode, 303);
  const session = cookiesOf(good.headers["set-cookie"]).ipsolis_session;
  assert.ok(session);
  // Staff accounts get the staff entry point, not the employee pages.
  const home = await api.app.inject({
    method: "GET",
    url: "/portal",
    headers: { cookie: `ipsolis_session=${session}` },
  });
  assert.equal(home.statusCode, 200);
  assert.match(home.body, /Signed in as root/);
  assert.match(home.body, /Open the staff console/);
});

test("the order page escapes what users typed", async (t) => {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin");
  // A directory name with markup in it (SCIM carries whatever HR typed).
  await createEmployee(
    api.db,
    {
      userName: "xss",
      externalId: null,
      employeeNumber: null,
      displayName: `<script>alert("x")</script>`,
      emails: ["xss@example.com"],
      active: true,
      department: "IT",
      costCenter: "CC-1",
      manager: null,
    },
    { userName: "xss" },
    new Date(),
  );
  const a = await signInAs(api, "ada");
  await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: a.headers,
    payload: { spec: assetTypeSpec() },
  });
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: a.headers,
    payload: {
      assetType: "vpn",
      requester: { id: "xss", email: "xss@example.com" },
    },
  });
  assert.equal(r.statusCode, 201, r.body);
  // The requester opens their order page.
  const sid = await createSession(
    api.db,
    { employeeEmail: "xss@example.com", employeeId: "xss" },
    new Date(Date.now() + 3600_000),
  );
  const page = await api.app.inject({
    method: "GET",
    url: `/portal/orders/${r.json<{ name: string }>().name}`,
    headers: { cookie: `ipsolis_session=${sid}` },
  });
  assert.equal(page.statusCode, 200);
  assert.ok(!page.body.includes("<script>"), "no raw markup from user input");
  assert.match(page.body, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
});

test("the password page changes the password, and refuses the legacy key with a pointer", async (t) => {
  const key = "legacy-key-0123456789-0123456789-0123456789";
  const api = await newApi(t, { config: { IPSOLIS_ADMIN_KEY: key } });
  const legacy = await api.app.inject({
    method: "GET",
    url: "/portal/password",
    headers: { "x-admin-key": key },
  });
  assert.equal(legacy.statusCode, 403);
  assert.match(legacy.body, /IPSOLIS_ADMIN_KEY/);

  await addAdmin(api, "bob", "helpdesk", "bob's first password");
  const b = await signInAs(api, "bob", "bob's first password");
  const f = await formPage(api, "/portal/password", b.cookie);
  const changed = await api.app.inject({
    method: "POST",
    url: "/portal/password",
    headers: { ...FORM, cookie: f.cookie },
    payload: `currentPassword=${encodeURIComponent("bob's first password")}&newPassword=${encodeURIComponent("bob's second password")}&_csrf=${encodeURIComponent(f.csrf)}`,
  });
  assert.equal(changed.statusCode, 200, changed.body);
  assert.match(changed.body, /Your password was changed/);
  await signInAs(api, "bob", "bob's second password");
});
