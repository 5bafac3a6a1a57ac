// The step log of an order is as visible as the order itself: an employee reads their own
// order's log and gets the same 404 for someone else's as for a missing one; an admin scoped
// to other asset types likewise.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addGrant } from "../../record/identity/users.ts";
import { storeLines } from "../../record/step-output.ts";
import { addAdmin, newApi, signInAs, signInAsEmployee } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("order logs: own order yes; someone else's or out-of-scope answers like a missing order", async (t) => {
  const api = await newApi(t);
  const ada = await addAdmin(api, "ada", "admin");
  const adaB = await signInAs(api, "ada");
  for (const type of ["vpn", "laptop"]) {
    const r = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${type}`,
      headers: adaB.headers,
      payload: { spec: assetTypeSpec() },
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  const ann = await signInAsEmployee(api, "ann@example.com", "ann");
  const bob = await signInAsEmployee(api, "bob@example.com", "bob");
  const o = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ann.headers,
    payload: { assetType: "vpn" },
  });
  assert.equal(o.statusCode, 201, o.body);
  const name = o.json<{ name: string }>().name;
  await storeLines(api.db, { namespace: api.namespace, order: name, job: `${name}-1` }, [
    {
      ts: new Date().toISOString(),
      seq: 1,
      kind: "line",
      step: "s",
      attempt: 1,
      stream: "stdout",
      text: "hello",
    },
  ]);
  const get = (headers: Record<string, string>, n = name) =>
    api.app.inject({ method: "GET", url: `/orders/${n}/log`, headers });

  const own = await get(ann.headers);
  assert.equal(own.statusCode, 200, own.body);
  assert.deepEqual(
    own.json<{ lines: { text?: string }[] }>().lines.map((l) => l.text),
    ["hello"],
  );
  const other = await get(bob.headers);
  const missing = await get(bob.headers, "no-such-order");
  assert.equal(other.statusCode, 404);
  assert.equal(other.body.replace(name, "X"), missing.body.replace("no-such-order", "X"));

  // Ada scoped to laptops only: the vpn order's log is out of scope.
  await addGrant(api.db, ada.id, "laptop");
  const scoped = await get(adaB.headers);
  assert.equal(scoped.statusCode, 404, scoped.body);
});
