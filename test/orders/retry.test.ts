// Retry (#19): an order whose first attempt failed on a step that succeeds the second time is
// retried through the API; both attempts are visible (status, Jobs, audit); a Declined order
// and one still running answer 409. Real API server, operator, local node and Postgres.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { addAdmin, newApi, signInAs } from "../api/support.ts";
import { bashStep, create, jobsOf, phaseIs, runbook, runOperator, waitOrder } from "../operator/support.ts";
import { assetTypeSpec } from "../api/fixtures.ts";

before(async () => {
  await applyCrds();
});

test("a failed run is retried with a new attempt and Job; earlier attempt kept; refusals are 409", async (t) => {
  const ns = await newNamespace(t, "rty");
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  const api = await newApi(t, { namespace: ns });
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  const ada = await signInAs(api, "ada");
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-flaky-"));
  const mark = join(dir, "tried");
  await create(
    ns,
    "runbooks",
    runbook("vpn-grant", [
      bashStep("flaky", `if [ -f ${mark} ]; then echo ok; else touch ${mark}; exit 5; fi`),
    ]),
  );
  const put = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: ada.headers,
    payload: {
      spec: assetTypeSpec({
        attributes: [],
        approval: { policy: "None" },
        runbooks: { provision: "vpn-grant" },
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
  const name = made.json<{ name: string }>().name;
  await waitOrder(ns, name, phaseIs("Failed"), 60_000);
  const r = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/retry`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(r.statusCode, 200, r.body);
  const again = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/retry`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(again.statusCode, 409, "a retry already on the way");
  const o = await waitOrder(ns, name, phaseIs("Provisioned"), 60_000);
  assert.equal(o.status?.attempt, 2);
  assert.deepEqual(
    o.status?.previousAttempts?.map((a) => [a.attempt, a.jobName]),
    [[1, `${name}-1`]],
  );
  assert.match(o.status?.previousAttempts?.[0]?.message ?? "", /step flaky failed/);
  const jobs = (await jobsOf(ns, name)).map((j) => j.metadata?.name).sort();
  assert.deepEqual(jobs, [`${name}-1`, `${name}-2`], "each attempt has its own Job");
  const view = await api.app.inject({ method: "GET", url: `/orders/${name}`, headers: ada.headers });
  assert.equal(view.json<{ previousAttempts: unknown[] }>().previousAttempts.length, 1);
  const audit = await api.db.query<{ actor: string }>(
    "SELECT actor FROM audit_events WHERE action = 'order_retry_requested'",
  );
  assert.deepEqual(
    audit.rows.map((x) => x.actor),
    ["admin:ada"],
  );
  const provisioned = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/retry`,
    headers: ada.headers,
    payload: {},
  });
  assert.equal(provisioned.statusCode, 409, "only a Failed order is retried");
});
