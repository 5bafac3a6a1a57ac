// A runbook's scheduled runs (#15 contracts): the operator records them (record/scheduled-runs.ts,
// tested with a real CronJob Job in test/operator/runbook-schedule.test.ts); here the JSON route
// and the console page read them, newest first, behind the runbook's ACL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { recordScheduledRun } from "../../record/scheduled-runs.ts";
import { addAdmin, newApi, signInAs } from "./support.ts";
import { assetTypeSpec, runbookSpec } from "./fixtures.ts";

type Runs = {
  items: { job: string; state: string; reason?: string; steps: { name: string; state: string }[] }[];
};

test("a runbook's last scheduled runs: JSON and console agree, newest first, out of scope is 404", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin");
  const sam = await addAdmin(api, "sam", "admin");
  const root = await signInAs(api, "root");
  const put = async (path: string, spec: object) => {
    const r = await api.app.inject({ method: "PUT", url: path, headers: root.headers, payload: { spec } });
    assert.ok(r.statusCode === 200 || r.statusCode === 201, r.body);
  };
  await put("/runbooks/nightly", { ...runbookSpec(), schedule: { cron: "0 3 * * *" } });
  await put("/runbooks/m365-provision", runbookSpec());
  await put("/runbooks/m365-deprovision", runbookSpec());
  await put("/assettypes/m365", assetTypeSpec());
  const g = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${sam.id}/grants`,
    headers: root.headers,
    payload: { assetTypes: ["m365"] },
  });
  assert.equal(g.statusCode, 200, g.body);

  const base = { namespace: api.namespace, runbook: "nightly", cronJob: "nightly" };
  assert.equal(
    await recordScheduledRun(api.db, {
      ...base,
      job: "nightly-100",
      state: "Succeeded",
      startedAt: new Date("2026-12-01T03:00:00Z"),
      finishedAt: new Date("2026-12-01T03:00:05Z"),
      steps: [{ name: "add", state: "Succeeded", exitCode: 0 }],
    }),
    true,
  );
  await recordScheduledRun(api.db, {
    ...base,
    job: "nightly-200",
    state: "Failed",
    startedAt: new Date("2026-12-02T03:00:00Z"),
    finishedAt: new Date("2026-12-02T03:01:00Z"),
    reason: "BackoffLimitExceeded",
    steps: [{ name: "add", state: "Failed", exitCode: 3, message: "exit 3" }],
  });

  const r = await api.app.inject({ method: "GET", url: "/runbooks/nightly/runs", headers: root.headers });
  assert.equal(r.statusCode, 200, r.body);
  const runs = (JSON.parse(r.body) as Runs).items;
  assert.deepEqual(
    runs.map((x) => [x.job, x.state, x.reason]),
    [
      ["nightly-200", "Failed", "BackoffLimitExceeded"],
      ["nightly-100", "Succeeded", undefined],
    ],
  );
  assert.deepEqual(runs[0]?.steps, [{ name: "add", state: "Failed", exitCode: 3, message: "exit 3" }]);

  const limited = await api.app.inject({
    method: "GET",
    url: "/runbooks/nightly/runs?limit=1",
    headers: root.headers,
  });
  assert.equal((JSON.parse(limited.body) as Runs).items.length, 1);
  const bad = await api.app.inject({
    method: "GET",
    url: "/runbooks/nightly/runs?limit=0",
    headers: root.headers,
  });
  assert.equal(bad.statusCode, 400, bad.body);
  const missing = await api.app.inject({ method: "GET", url: "/runbooks/nope/runs", headers: root.headers });
  assert.equal(missing.statusCode, 404, missing.body);

  const page = await api.app.inject({
    method: "GET",
    url: "/console/runbooks/nightly",
    headers: root.headers,
  });
  assert.equal(page.statusCode, 200);
  const table = /<table[^>]*id="last-runs"[\s\S]*?<\/table>/.exec(page.body)?.[0] ?? "";
  const jobs = [...table.matchAll(/<tr>\s*<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => (m[1] ?? "").trim());
  assert.deepEqual(jobs, ["nightly-200", "nightly-100"]);
  assert.match(table, /BackoffLimitExceeded/);
  assert.match(table, /add: Failed \(3\) exit 3/);

  // A runbook with no run yet says so; sam's scope (m365) does not reach "nightly".
  const none = await api.app.inject({
    method: "GET",
    url: "/console/runbooks/m365-provision",
    headers: root.headers,
  });
  assert.doesNotMatch(none.body, /id="last-runs"/);
  const s = await signInAs(api, "sam");
  for (const url of ["/runbooks/nightly/runs", "/console/runbooks/nightly"]) {
    const x = await api.app.inject({ method: "GET", url, headers: s.headers });
    assert.equal(x.statusCode, 404, `${url}: ${x.body}`);
  }
  const own = await api.app.inject({
    method: "GET",
    url: "/runbooks/m365-provision/runs",
    headers: s.headers,
  });
  assert.equal(own.statusCode, 200, own.body);
  assert.deepEqual((JSON.parse(own.body) as Runs).items, []);
});
