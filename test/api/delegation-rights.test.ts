// Who may set a delegation (#15 item 6): the principal for themselves; for someone else only a
// superadmin, audited, and never naming themselves as the deputy under any of their names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { addAdmin, newApi, signInAs } from "./support.ts";

test("admins cannot deputise themselves or set others' delegations; a superadmin can, audited, but not for themselves", async (t) => {
  await applyCrds();
  const api = await newApi(t);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  await addAdmin(api, "ada", "admin", undefined, "ada@example.com");
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  await addAdmin(api, "carol", "approver", undefined, "carol@example.com");
  const startsAt = new Date(Date.now() + 60_000).toISOString();
  const endsAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const post = async (who: string, body: object) =>
    api.app.inject({
      method: "POST",
      url: "/delegations",
      headers: (await signInAs(api, who)).headers,
      payload: { startsAt, endsAt, ...body },
    });
  const adaForBert = await post("ada", { principal: "bert", deputy: "ada" });
  assert.equal(adaForBert.statusCode, 403, adaForBert.body);
  const adaByMail = await post("ada", { principal: "bert@example.com", deputy: "ada@example.com" });
  assert.equal(adaByMail.statusCode, 403, adaByMail.body);
  const adaSetsCarol = await post("ada", { principal: "bert", deputy: "carol" });
  assert.equal(adaSetsCarol.statusCode, 403, adaSetsCarol.body);
  const rootSelf = await post("root", { principal: "bert", deputy: "root@example.com" });
  assert.equal(rootSelf.statusCode, 403, rootSelf.body);
  const rootForBert = await post("root", { principal: "bert", deputy: "carol", reason: "bert is on leave" });
  assert.equal(rootForBert.statusCode, 201, rootForBert.body);
  const rows = await api.db.query<{ actor: string }>(
    "SELECT actor FROM audit_events WHERE action LIKE 'delegation%' ORDER BY id",
  );
  assert.deepEqual(
    rows.rows.map((r) => r.actor),
    ["admin:root"],
  );
  const own = await post("bert", { deputy: "carol" });
  assert.equal(own.statusCode, 201, own.body);
  const none = await api.db.query(
    "SELECT 1 FROM delegations WHERE lower(deputy) IN ('ada', 'ada@example.com', 'root@example.com')",
  );
  assert.equal(none.rowCount, 0, "nothing half-written");
});
