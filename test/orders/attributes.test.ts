// One attribute validation on every order path (#15 item 10): POST /orders for oneself and on
// behalf, and the portal's order form refuse missing required values, bad enum, number, integer
// and boolean values and unknown keys with 400 and the field paths; valid values are stored
// normalised on the Order. Real API server and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, signInAs, signInAsEmployee, type Api, type Browser } from "../api/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";

before(async () => {
  await applyCrds();
});

const schema = [
  { name: "edition", type: "enum", enum: ["standard", "pro"], required: true },
  { name: "seats", type: "integer" },
  { name: "quota", type: "number" },
  { name: "shared", type: "boolean" },
];

async function setup(t: Parameters<typeof newApi>[0]) {
  const api = await newApi(t);
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/office",
    headers: ada.headers,
    payload: { spec: assetTypeSpec({ attributes: schema }) },
  });
  assert.equal(at.statusCode, 201, at.body);
  const eve = await signInAsEmployee(api, "eve@example.com", "eve");
  return { api, ada, eve };
}

type Fields = { error: string; reason?: string; fields: { path: string; message: string }[] };

async function order(api: Api, who: Browser, attributes: unknown, onBehalf = false) {
  return api.app.inject({
    method: "POST",
    url: "/orders",
    headers: who.headers,
    payload: {
      assetType: "office",
      attributes,
      ...(onBehalf ? { requester: { id: "tom", email: "tom@example.com" } } : {}),
    },
  });
}

const refusals: [string, unknown, string[]][] = [
  ["missing required", {}, ["body.attributes.edition"]],
  ["bad enum", { edition: "ultimate" }, ["body.attributes.edition"]],
  ["bad integer", { edition: "pro", seats: "2.5" }, ["body.attributes.seats"]],
  ["bad number", { edition: "pro", quota: "lots" }, ["body.attributes.quota"]],
  ["bad boolean", { edition: "pro", shared: "yes" }, ["body.attributes.shared"]],
  ["unknown key", { edition: "pro", colour: "red" }, ["body.attributes.colour"]],
  [
    "several at once",
    { seats: "x", colour: "red" },
    ["body.attributes.colour", "body.attributes.edition", "body.attributes.seats"],
  ],
];

test("POST /orders refuses bad attributes with 400 and field paths, for oneself and on behalf", async (t) => {
  const { api, ada, eve } = await setup(t);
  for (const [name, attrs, paths] of refusals) {
    for (const [who, onBehalf] of [
      [eve, false],
      [ada, true],
    ] as const) {
      const r = await order(api, who, attrs, onBehalf);
      assert.equal(r.statusCode, 400, `${name} (${onBehalf ? "on behalf" : "own"}): ${r.body}`);
      const body = r.json<Fields>();
      assert.equal(body.reason, "InvalidAttributes");
      assert.deepEqual(
        body.fields.map((f) => f.path),
        paths,
        name,
      );
      for (const p of paths) assert.ok(body.error.includes(p), body.error);
    }
  }
  // Nothing was created by any refusal.
  const list = await api.app.inject({ method: "GET", url: "/orders", headers: ada.headers });
  assert.deepEqual(list.json<{ items: unknown[] }>().items, []);
});

test("valid attributes are stored normalised (JSON numbers and booleans become strings)", async (t) => {
  const { api, eve } = await setup(t);
  const r = await order(api, eve, { edition: "pro", seats: 3, quota: "1.5", shared: "TRUE" });
  assert.equal(r.statusCode, 201, r.body);
  assert.deepEqual(r.json<{ attributes: Record<string, string> }>().attributes, {
    edition: "pro",
    seats: "3",
    quota: "1.5",
    shared: "true",
  });
});

test("the portal order form applies the same validation", async (t) => {
  const { api, eve } = await setup(t);
  const post = (fields: Record<string, string>) =>
    api.app.inject({
      method: "POST",
      url: "/portal/catalogue/office/order",
      headers: { cookie: eve.cookie, "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ _csrf: eve.csrf, ...fields }).toString(),
    });
  // What POST /orders refuses, the form refuses, each problem next to its field.
  const bad = await post({ step: "review", attr_edition: "ultimate", attr_seats: "2.5", attr_quota: "1e3" });
  assert.equal(bad.statusCode, 422, bad.body);
  assert.match(bad.body, /id="attr_edition-error"/);
  assert.match(bad.body, /id="attr_seats-error"[^>]*>[^<]*whole number/);
  assert.doesNotMatch(bad.body, /id="attr_quota-error"/, "1e3 is a number on both paths");
  const unknown = await post({ step: "review", attr_edition: "pro", attr_colour: "red" });
  assert.equal(unknown.statusCode, 422, unknown.body);
  assert.match(unknown.body, /colour is not a field of this order form/);
  // Valid: the review page, then the confirmed order stores the values as the API normalises them.
  const review = await post({ step: "review", attr_edition: "pro", attr_seats: "02", attr_shared: "true" });
  assert.equal(review.statusCode, 200, review.body);
  const sealed = /name="sealed"\s+value="([^"]+)"/.exec(review.body)?.[1];
  assert.ok(sealed, "the review page carries the sealed draft");
  const good = await post({
    step: "confirm",
    sealed,
  });
  assert.equal(good.statusCode, 303, good.body);
  const name = String(good.headers.location).split("/").at(-1)!;
  const placed = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: eve.headers });
  assert.equal(placed.statusCode, 200, placed.body);
  assert.deepEqual(placed.json<{ attributes: Record<string, string> }>().attributes, {
    edition: "pro",
    seats: "2",
    shared: "true",
  });
});
