// The console's pages and the JSON API can never disagree (issue #20): for each staff role, on a
// sample of screens, the page answers with the same status as its API route and lists exactly
// the names the API lists (orders, asset types, runbooks, audit rows, tokens, users). A scoped
// admin's page shows only their type, and another team's is the same 404 as a missing one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, signInAs, type Api } from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";

/** The text of the first cell of each row of the table with this id. */
function firstCells(page: string, id: string): string[] {
  const table = new RegExp(`<table[^>]*id="${id}"[\\s\\S]*?</table>`).exec(page)?.[0] ?? "";
  return [...table.matchAll(/<tr>\s*<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) =>
    (m[1] ?? "").replace(/<[^>]+>/g, "").trim(),
  );
}

async function put(api: Api, headers: Record<string, string>, path: string, spec: object) {
  const r = await api.app.inject({ method: "PUT", url: path, headers, payload: { spec } });
  assert.ok(r.statusCode === 201 || r.statusCode === 200, r.body);
}

test("for every staff role, the console pages and the API answer alike", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  await addAdmin(api, "aud", "auditor");
  await addAdmin(api, "hd", "helpdesk");
  await addAdmin(api, "appr", "approver");
  const root = await signInAs(api, "root");
  await put(api, root.headers, "/runbooks/m365-provision", runbookSpec());
  await put(api, root.headers, "/runbooks/m365-deprovision", runbookSpec());
  await put(api, root.headers, "/assettypes/m365", assetTypeSpec());
  await put(api, root.headers, "/assettypes/vault", assetTypeSpec({ displayName: "Vault" }));
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["m365"] },
  });
  assert.equal(g.statusCode, 200, g.body);

  const screens: { page: string; api: string; table: string; names: (body: string) => string[] }[] = [
    {
      page: "/console/asset-types",
      api: "/assettypes",
      table: "asset-types",
      names: (b) => (JSON.parse(b) as { items: { name: string }[] }).items.map((i) => i.name),
    },
    {
      page: "/console/runbooks",
      api: "/runbooks",
      table: "runbooks",
      names: (b) => (JSON.parse(b) as { items: { name: string }[] }).items.map((i) => i.name),
    },
    {
      page: "/console/orders",
      api: "/orders",
      table: "orders",
      names: (b) => (JSON.parse(b) as { items: { name: string }[] }).items.map((i) => i.name),
    },
    {
      page: "/console/audit",
      api: "/audit?limit=100",
      table: "audit",
      names: (b) => (JSON.parse(b) as { items: { id: string }[] }).items.map((i) => i.id),
    },
    {
      page: "/console/tokens",
      api: "/admin/tokens",
      table: "tokens",
      names: (b) => (JSON.parse(b) as { tokens: { name: string }[] }).tokens.map((i) => i.name),
    },
    {
      page: "/console/users",
      api: "/admin/users",
      table: "users",
      names: (b) => (JSON.parse(b) as { users: { username: string }[] }).users.map((i) => i.username),
    },
  ];
  const failures: string[] = [];
  for (const who of ["root", "sam", "aud", "hd", "appr"]) {
    const s = await signInAs(api, who);
    for (const sc of screens) {
      const p = await api.app.inject({ method: "GET", url: sc.page, headers: { cookie: s.cookie } });
      const a = await api.app.inject({ method: "GET", url: sc.api, headers: { cookie: s.cookie } });
      if (p.statusCode !== a.statusCode) {
        failures.push(`${who} ${sc.page}: page ${p.statusCode}, API ${a.statusCode}`);
        continue;
      }
      if (a.statusCode !== 200) continue;
      const want = sc.names(a.body).sort();
      const got = firstCells(p.body, sc.table).sort();
      if (JSON.stringify(want) !== JSON.stringify(got))
        failures.push(`${who} ${sc.page}: page lists ${got.join(",")}, API ${want.join(",")}`);
    }
  }
  assert.deepEqual(failures, []);

  // The scoped admin: only their type, and the hidden one is the missing one's 404 page.
  const s = await signInAs(api, "sam");
  const list = await api.app.inject({
    method: "GET",
    url: "/console/asset-types",
    headers: { cookie: s.cookie },
  });
  assert.deepEqual(firstCells(list.body, "asset-types"), ["m365"]);
  assert.doesNotMatch(list.body, /vault|Vault/);
  const hidden = await api.app.inject({
    method: "GET",
    url: "/console/asset-types/vault",
    headers: { cookie: s.cookie },
  });
  const missing = await api.app.inject({
    method: "GET",
    url: "/console/asset-types/vaulx",
    headers: { cookie: s.cookie },
  });
  assert.equal(hidden.statusCode, 404);
  assert.equal(missing.statusCode, 404);
  const main = (b: string) => (/<main[\s\S]*<\/main>/.exec(b)?.[0] ?? "").replace(/vaul[tx]/g, "X");
  assert.equal(main(hidden.body), main(missing.body));

  // A helpdesk session's forged write is the API's 403, and nothing changes.
  const hd = await signInAs(api, "hd");
  const forged = await api.app.inject({
    method: "POST",
    url: "/console/asset-types/m365/delete",
    headers: { cookie: hd.cookie, "content-type": "application/x-www-form-urlencoded" },
    payload: `_csrf=${encodeURIComponent(hd.csrf)}`,
  });
  assert.equal(forged.statusCode, 403);
  const still = await api.app.inject({ method: "GET", url: "/assettypes/m365", headers: root.headers });
  assert.equal(still.statusCode, 200);
  // Without the CSRF token, even a superadmin's form post is refused.
  const noCsrf = await api.app.inject({
    method: "POST",
    url: "/console/asset-types/m365/delete",
    headers: { cookie: root.cookie, "content-type": "application/x-www-form-urlencoded" },
    payload: "",
  });
  assert.equal(noCsrf.statusCode, 403);
});
