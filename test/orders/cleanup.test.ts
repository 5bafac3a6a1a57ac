// Cleanup of partial provisions (#19): a two-step provision that fails at step 2 is revoked
// through the API; its deprovision runbook runs and removes the step-1 grant; the Failed order
// ends Revoked. A Failed order where no step ran needs no cleanup (409). Real API server,
// operator, local node and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { addAdmin, newApi, signInAs } from "../api/support.ts";
import { bashStep, create, phaseIs, runbook, runOperator, waitOrder } from "../operator/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";

before(async () => {
  await applyCrds();
});

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

test("a provision failing at step 2 is revoked and its step-1 grant removed; no step ran: no cleanup needed", async (t) => {
  const ns = await newNamespace(t, "cln");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  const api = await newApi(t, { namespace: ns });
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  // The "grant" is a file the local node's runner can see; the deprovision removes it.
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-grant-"));
  const grant = join(dir, "granted");
  await create(
    ns,
    "runbooks",
    runbook("vpn-grant", [
      bashStep("add-group", `touch ${grant}`),
      bashStep("licence", "echo 'licence server down' >&2; exit 4"),
    ]),
  );
  await create(ns, "runbooks", runbook("vpn-revoke", [bashStep("remove-group", `rm -f ${grant}`)]));
  const put = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: {
      spec: assetTypeSpec({
        attributes: [],
        approval: { policy: "None" },
        runbooks: { provision: "vpn-grant", deprovision: "vpn-revoke" },
      }),
    },
  });
  assert.equal(put.statusCode, 201, put.body);
  const made = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "vpn", requester: { id: "tom", email: "tom@example.com" } },
  });
  assert.equal(made.statusCode, 201, made.body);
  const name = made.json<{ name: string }>().name;
  await waitOrder(ns, name, phaseIs("Failed"), 60_000);
  assert.ok(await exists(grant), "step 1 granted before step 2 failed");
  const seen = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: ada.headers });
  assert.equal(seen.json<{ cleanup?: string }>().cleanup, "needed");

  const revoke = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(revoke.statusCode, 201, revoke.body);
  const dep = revoke.json<{ name: string }>().name;
  await waitOrder(ns, dep, phaseIs("Revoked"), 60_000);
  const target = await waitOrder(ns, name, phaseIs("Revoked"), 30_000);
  assert.match(target.status?.message ?? "", /partial provision was cleaned up/);
  assert.equal(await exists(grant), false, "the step-1 grant was removed");

  // A provision that failed before any step ran: nothing to clean up.
  await create(ns, "runbooks", runbook("none-grant", [bashStep("x", "echo x")]));
  const put2 = await api.app.inject({
    method: "PUT",
    url: "/assettypes/pool",
    headers: ada.headers,
    payload: {
      spec: assetTypeSpec({
        attributes: [],
        approval: { policy: "None" },
        assignment: { model: "CapacityPooled", capacity: 1, maxPerUser: 1 },
        runbooks: { provision: "none-grant", deprovision: "vpn-revoke" },
      }),
    },
  });
  assert.equal(put2.statusCode, 201, put2.body);
  const first = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "pool", requester: { id: "una", email: "una@example.com" } },
  });
  await waitOrder(ns, first.json<{ name: string }>().name, phaseIs("Provisioned"), 60_000);
  const second = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: ada.headers,
    payload: { assetType: "pool", requester: { id: "una", email: "una@example.com" } },
  });
  const n2 = second.json<{ name: string }>().name;
  await waitOrder(ns, n2, phaseIs("Failed"), 30_000); // maxPerUser: no step ran
  const view = await api.app.inject({ method: "GET", url: `/orders/${n2}`, headers: ada.headers });
  assert.equal(view.json<{ cleanup?: string }>().cleanup, "notNeeded");
  const no = await api.app.inject({
    method: "POST",
    url: `/orders/${n2}/revoke`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(no.statusCode, 409, no.body);
  assert.equal(no.json<{ reason: string }>().reason, "NoCleanupNeeded");
});
