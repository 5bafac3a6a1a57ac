// Self-approval is matched on every identity of the requester (#15 item 5), and a leaver's
// decisions stop counting once the leaver event has taken effect (#15 item 20): on the real API
// server with the directory (SCIM) behind it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addAdmin, addPeople, setOrderPhase, signInAs } from "./support.ts";
import { assetTypeSpec } from "./fixtures.ts";
import { newScimApi, userBody } from "../scim/support.ts";
import { drainFanouts } from "../../api/leaver/background.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async function world(t: Parameters<typeof newScimApi>[0]) {
  const api = await newScimApi(t);
  await addPeople(api, ["emp"]);
  await addAdmin(api, "root", "superadmin", undefined, "root@example.com");
  // bert approves; his admin account's e-mail is bert@example.com.
  await addAdmin(api, "bert", "approver", undefined, "bert@example.com");
  await addAdmin(api, "carol", "approver", undefined, "carol@example.com");
  const root = await signInAs(api, "root");
  const at = await api.app.inject({
    method: "PUT",
    url: "/assettypes/vpn",
    headers: root.headers,
    payload: {
      spec: assetTypeSpec({
        approval: { policy: "Approvers", approvers: ["bert", "carol"], quorum: 1 },
      }),
    },
  });
  assert.equal(at.statusCode, 201, at.body);
  return { api, root };
}

async function order(
  api: Awaited<ReturnType<typeof world>>["api"],
  root: { headers: Record<string, string> },
  requester: object,
) {
  const r = await api.app.inject({
    method: "POST",
    url: "/orders",
    headers: root.headers,
    payload: { assetType: "vpn", requester },
  });
  assert.equal(r.statusCode, 201, r.body);
  const name = r.json<{ name: string }>().name;
  await setOrderPhase(api, name, "PendingApproval");
  return name;
}

test("self-approval is caught on any identity: the requester's id is the approver's username, or SCIM knows both addresses", async (t) => {
  const { api, root } = await world(t);
  const bert = await signInAs(api, "bert");
  // The directory knows a person "bert" (userName) with a private address; the order names him.
  const priv = await api.scim(
    "POST",
    "/Users",
    userBody("bert", { emails: [{ value: "b.private@example.net", type: "home", primary: true }] }),
  );
  assert.equal(priv.statusCode, 201, priv.body);
  const a = await order(api, root, { id: "bert", email: "b.private@example.net" });
  const r1 = await api.app.inject({
    method: "POST",
    url: `/orders/${a}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(r1.statusCode, 409, r1.body);
  assert.equal(r1.json<{ reason: string }>().reason, "SelfApproval");
  // The directory knows bert under his work address and a second one; the order uses the second.
  const made = await api.scim(
    "POST",
    "/Users",
    userBody("bert@example.com", {
      emails: [
        { value: "bert@example.com", type: "work", primary: true },
        { value: "bertie@other.example", type: "other" },
      ],
    }),
  );
  assert.equal(made.statusCode, 201, made.body);
  const b = await order(api, root, { id: "E-77", email: "bertie@other.example" });
  const r2 = await api.app.inject({
    method: "POST",
    url: `/orders/${b}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(r2.statusCode, 409, r2.body);
  assert.equal(r2.json<{ reason: string }>().reason, "SelfApproval");
  // Somebody else's order: bert approves it.
  const c = await order(api, root, { id: "emp", email: "emp@example.com" });
  const r3 = await api.app.inject({
    method: "POST",
    url: `/orders/${c}/approve`,
    headers: bert.headers,
    payload: {},
  });
  assert.equal(r3.statusCode, 200, r3.body);
});

test("a leaver's decision no longer counts once their leaver event has taken effect", async (t) => {
  const { api, root } = await world(t);
  const made = await api.scim(
    "POST",
    "/Users",
    userBody("carol@example.com", { [ENT]: { employeeNumber: "C-1" } }),
  );
  assert.equal(made.statusCode, 201, made.body);
  const id = made.json<{ id: string }>().id;
  const name = await order(api, root, { id: "emp", email: "emp@example.com" });
  const carol = await signInAs(api, "carol");
  // Carol leaves (SCIM active=false): her approval is refused from now on.
  const off = await api.scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", path: "active", value: false }],
  });
  assert.equal(off.statusCode, 200, off.body);
  await drainFanouts(api.app.deps);
  const r = await api.app.inject({
    method: "POST",
    url: `/orders/${name}/approve`,
    headers: carol.headers,
    payload: {},
  });
  assert.equal(r.statusCode, 409, r.body);
  assert.equal(r.json<{ reason: string }>().reason, "Leaver");
  const queue = await api.app.inject({ method: "GET", url: "/approvals/pending", headers: carol.headers });
  assert.equal(queue.statusCode, 200, queue.body);
  assert.deepEqual(
    queue
      .json<{ items: { order: { name: string }; canApprove: boolean }[] }>()
      .items.filter((i) => i.canApprove),
    [],
    "nothing left she can approve",
  );
});
