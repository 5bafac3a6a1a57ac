// #15 item 4: a secret attribute's value never reaches an Order's spec, a response, the record or
// a Job; it lives in a Secret the Order owns, reaches the step as IPSOLIS_ATTR_<name> from a
// mounted file, and is deleted when the order finishes. A failed order whose secret is gone
// cannot be retried (409 SecretAttributesGone).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { testKubeConfig as kubeConfig, newNamespace } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { addAdmin, newApi, signInAs } from "../api/support.ts";
import { bashStep, create, get, phaseIs, runbook, runOperator, waitOrder } from "../operator/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";
import type { Order } from "../../crds/generated/order.ts";

before(async () => {
  await applyCrds();
});

const PIN = "p1n-7q4z-secret";

test("secret attributes: kept out of spec, responses and Jobs, given to the step, deleted at the end", async (t) => {
  const ns = await newNamespace(t, "sec");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  const api = await newApi(t, { namespace: ns });
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "carol", "approver", undefined, "carol@example.com");
  const ada = await signInAs(api, "ada");
  const carol = await signInAs(api, "carol");
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-secret-attrs-"));
  const seen = join(dir, "seen");
  await create(
    ns,
    "runbooks",
    runbook("tok-grant", [
      bashStep("grant", `printf '%s' "$IPSOLIS_ATTR_pin" > ${seen}; echo "pin is $IPSOLIS_ATTR_pin"`),
    ]),
  );
  await create(ns, "runbooks", runbook("tok-fail", [bashStep("grant", `echo "$IPSOLIS_ATTR_pin"; exit 3`)]));
  await create(ns, "runbooks", runbook("tok-revoke", [bashStep("revoke", "echo revoked")]));
  const attributes = [
    { name: "serial", type: "string", required: true },
    { name: "pin", type: "string", secret: true, required: true },
  ];
  for (const [name, provision] of [
    ["tok", "tok-grant"],
    ["tok-bad", "tok-fail"],
  ] as const) {
    const put = await api.app.inject({
      method: "PUT",
      url: `/assettypes/${name}`,
      headers: ada.headers,
      payload: {
        spec: assetTypeSpec({
          attributes,
          approval: { policy: "Approvers", approvers: ["carol"], quorum: 1 },
          runbooks: { provision, deprovision: "tok-revoke" },
        }),
      },
    });
    assert.equal(put.statusCode, 201, put.body);
  }
  const made = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: {
      assetType: "tok",
      attributes: { serial: "S-1", pin: PIN },
      requester: { id: "tom", email: "tom@example.com" },
    },
  });
  assert.equal(made.statusCode, 201, made.body);
  assert.doesNotMatch(made.body, new RegExp(PIN), "not in the response");
  const name = made.json<{ name: string; secretAttributes?: string[] }>().name;
  assert.deepEqual(made.json<{ secretAttributes?: string[] }>().secretAttributes, ["pin"]);

  const o = await get<Order>(ns, "orders", name);
  assert.deepEqual(o.spec.attributes, { serial: "S-1" });
  assert.deepEqual(o.spec.secretAttributesFrom, { secretName: `${name}-attrs`, keys: ["pin"] });
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const sec = await core.readNamespacedSecret({ namespace: ns, name: `${name}-attrs` });
  assert.equal(sec.metadata?.labels?.["ipsolis.io/order-attributes"], name);
  assert.equal(sec.metadata?.ownerReferences?.[0]?.uid, o.metadata?.uid, "owned by the Order");
  assert.equal(sec.immutable, true);
  assert.equal(Buffer.from(sec.data?.pin ?? "", "base64").toString(), PIN);

  // Nowhere a staff member can read: views, list, the record.
  for (const url of [`/orders/${name}`, "/orders"]) {
    const r = await api.app.inject({ method: "GET", url, headers: carol.headers });
    assert.equal(r.statusCode, 200, r.body);
    assert.doesNotMatch(r.body, new RegExp(PIN), url);
  }
  const ok = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approve`,
    headers: carol.headers,
    payload: {},
  });
  assert.equal(ok.statusCode, 200, ok.body);
  const done = await waitOrder(ns, name, phaseIs("Provisioned"), 60_000);
  assert.equal(await readFile(seen, "utf8"), PIN, "the step got the value");
  assert.doesNotMatch(JSON.stringify(done.status), new RegExp(PIN), "not in the status");
  const batch = kubeConfig().makeApiClient(k8s.BatchV1Api);
  const jobs = await batch.listNamespacedJob({ namespace: ns });
  assert.ok(jobs.items.length > 0);
  assert.doesNotMatch(JSON.stringify(jobs.items), new RegExp(PIN), "not in a Job");
  const gone = await waitOrder(
    ns,
    name,
    (x: Order) =>
      x.status?.conditions?.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True") ?? false,
    30_000,
  );
  assert.equal(gone.status?.phase, "Provisioned");
  await assert.rejects(core.readNamespacedSecret({ namespace: ns, name: `${name}-attrs` }), /404|not found/i);
  const audit = await api.db.query("SELECT data FROM audit_events");
  assert.doesNotMatch(JSON.stringify(audit.rows), new RegExp(PIN), "not in the audit");

  // A failed order: the Secret goes too, and a retry is refused with the reason.
  const bad = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: {
      assetType: "tok-bad",
      attributes: { serial: "S-2", pin: PIN },
      requester: { id: "tom", email: "tom@example.com" },
    },
  });
  assert.equal(bad.statusCode, 201, bad.body);
  const badName = bad.json<{ name: string }>().name;
  const ok2 = await api.app.inject({
    method: "POST",
    url: `/orders/${badName}/approve`,
    headers: carol.headers,
    payload: {},
  });
  assert.equal(ok2.statusCode, 200, ok2.body);
  await waitOrder(
    ns,
    badName,
    (x: Order) =>
      x.status?.phase === "Failed" &&
      (x.status?.conditions?.some((c) => c.type === "SecretAttributesDeleted" && c.status === "True") ??
        false),
    60_000,
  );
  const retry = await api.app.inject({
    method: "POST",
    url: `/orders/${badName}/retry`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(retry.statusCode, 409, retry.body);
  assert.equal(retry.json<{ reason: string }>().reason, "SecretAttributesGone");

  // An Order written by hand with a secret's value in spec.attributes never runs.
  await create(ns, "orders", {
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name: "by-hand" },
    spec: {
      assetType: "tok",
      requester: { id: "tom", email: "tom@example.com" },
      attributes: { serial: "S-3", pin: PIN },
      approvals: [],
    },
  } as never);
  const api2 = await api.app.inject({
    method: "POST",
    url: "/orders/by-hand/approve",
    headers: carol.headers,
    payload: {},
  });
  assert.equal(api2.statusCode, 200, api2.body);
  const refused = await waitOrder(ns, "by-hand", phaseIs("Failed"), 60_000);
  assert.match(refused.status?.message ?? "", /secret/i);
});
