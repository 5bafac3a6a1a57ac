// Signing in with a Kubernetes identity (issue #21: `kubectl ipsolis` with the user's
// kubeconfig): a bearer token that is not an ipsolis API token is reviewed by the real API
// server (TokenReview) and acts as the admin account its username is mapped to, with that
// account's role at the time of each request. Tokens come from the real TokenRequest API.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { applyCrds } from "../support/crds.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { addAdmin, addToken, bearer, newApi, type Api } from "./support.ts";

before(async () => {
  await applyCrds();
});

type Me = { actor: string; kind: string; role: string; username?: string; kubeUsername?: string };
type Refusal = { reason: string; error: string };

/** A ServiceAccount in `namespace` and a one-hour token for it (TokenRequest). */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const core = testKubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return tr.status!.token!;
}

/** A KubeConfig that is the ServiceAccount (for an API whose own identity lacks a right). */
function kubeConfigWithToken(token: string): k8s.KubeConfig {
  const admin = testKubeConfig();
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: cluster.server, caData: cluster.caData, caFile: cluster.caFile }],
    users: [{ name: "u", token }],
    contexts: [{ name: "c", cluster: "c", user: "u" }],
    currentContext: "c",
  });
  return kc;
}

const me = (api: Api, token: string) =>
  api.app.inject({ method: "GET", url: "/auth/me", headers: bearer(token) });

async function mapIdentities(api: Api, as: string, userId: string, usernames: string[]) {
  return api.app.inject({
    method: "PUT",
    url: `/admin/users/${userId}/kube-identities`,
    headers: bearer(as),
    payload: { usernames },
  });
}

test("a ServiceAccount mapped to an admin account acts as it; the account's current role and state decide", async (t) => {
  const api = await newApi(t, { people: false });
  const ns = await newNamespace(t, "kid");
  const root = await addToken(api, "superadmin", ["admin:*"], "root");
  const kara = await addAdmin(api, "kara", "admin");
  const ops = await serviceAccountToken(ns, "ops");
  const kubeUser = `system:serviceaccount:${ns}:ops`;

  // Not mapped yet: refused, naming who the cluster says it is and how to map it.
  const unmapped = await me(api, ops);
  assert.equal(unmapped.statusCode, 401);
  assert.equal(unmapped.json<Refusal>().reason, "KubeIdentityUnmapped");
  assert.match(unmapped.json<Refusal>().error, new RegExp(`"${kubeUser}" acts as no ipsolis admin account`));

  const mapped = await mapIdentities(api, root, kara.id, [kubeUser, kubeUser]);
  assert.equal(mapped.statusCode, 200, mapped.body);
  assert.deepEqual(mapped.json(), { usernames: [kubeUser] });
  const listed = await api.app.inject({
    method: "GET",
    url: `/admin/users/${kara.id}/kube-identities`,
    headers: bearer(root),
  });
  assert.deepEqual(listed.json(), { usernames: [kubeUser] });
  const audit = await api.db.query<{ actor: string; target: string; data: unknown }>(
    "SELECT actor, target, data FROM audit_events WHERE action = 'kube_identities_updated'",
  );
  assert.deepEqual(audit.rows, [
    { actor: "token:root", target: "user:kara", data: { before: [], after: [kubeUser] } },
  ]);

  const who = await me(api, ops);
  assert.equal(who.statusCode, 200, who.body);
  assert.deepEqual(who.json<Me>(), {
    actor: "admin:kara",
    kind: "kube",
    role: "admin",
    scopes: null,
    username: "kara",
    email: "kara@example.com",
    kubeUsername: kubeUser,
  });
  const orders = await api.app.inject({ method: "GET", url: "/orders", headers: bearer(ops) });
  assert.equal(orders.statusCode, 200, orders.body);

  // A bearer identity, so writes need no CSRF token: a superadmin's identity maps another.
  const sam = await addAdmin(api, "sam", "superadmin");
  const lead = await serviceAccountToken(ns, "lead");
  assert.equal(
    (await mapIdentities(api, root, sam.id, [`system:serviceaccount:${ns}:lead`])).statusCode,
    200,
  );
  const byKube = await mapIdentities(api, lead, kara.id, [kubeUser, `system:serviceaccount:${ns}:spare`]);
  assert.equal(byKube.statusCode, 200, byKube.body);
  const last = await api.db.query<{ actor: string }>(
    "SELECT actor FROM audit_events WHERE action = 'kube_identities_updated' ORDER BY id DESC LIMIT 1",
  );
  assert.equal(last.rows[0]?.actor, "admin:sam");

  // Demoted: the next request has the new role (the cluster's answer is cached, the role is not).
  const demote = await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${kara.id}`,
    headers: bearer(root),
    payload: { role: "auditor" },
  });
  assert.equal(demote.statusCode, 200, demote.body);
  assert.equal((await me(api, ops)).json<Me>().role, "auditor");
  const write = await api.app.inject({
    method: "PUT",
    url: `/admin/users/${kara.id}/kube-identities`,
    headers: bearer(ops),
    payload: { usernames: [] },
  });
  assert.equal(write.statusCode, 403);

  // Disabled: refused at once.
  await api.app.inject({
    method: "PATCH",
    url: `/admin/users/${kara.id}`,
    headers: bearer(root),
    payload: { disabled: true },
  });
  const disabled = await me(api, ops);
  assert.equal(disabled.statusCode, 401);
  assert.equal(disabled.json<Refusal>().reason, "AccountDisabled");

  // Deleted: the mapping goes with the account.
  await api.app.inject({ method: "DELETE", url: `/admin/users/${kara.id}`, headers: bearer(root) });
  assert.equal((await me(api, ops)).json<Refusal>().reason, "KubeIdentityUnmapped");
});

test("an identity acts as one account; bad names and tokens the cluster does not accept are refused", async (t) => {
  const api = await newApi(t, { people: false });
  const root = await addToken(api, "superadmin", ["admin:*"], "root");
  const a = await addAdmin(api, "anna", "admin");
  const b = await addAdmin(api, "ben", "auditor");
  assert.equal((await mapIdentities(api, root, a.id, ["oidc:anna@example.com"])).statusCode, 200);

  const taken = await mapIdentities(api, root, b.id, ["oidc:anna@example.com", "oidc:ben@example.com"]);
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json<Refusal>().reason, "KubeIdentityTaken");
  assert.match(taken.json<Refusal>().error, /oidc:anna@example\.com \(account anna\)/);
  // Nothing half-written: ben has no identity, not even the free one.
  const bens = await api.app.inject({
    method: "GET",
    url: `/admin/users/${b.id}/kube-identities`,
    headers: bearer(root),
  });
  assert.deepEqual(bens.json(), { usernames: [] });

  for (const bad of ["", " lead", "trail ", "tab\there", "x".repeat(254)]) {
    const r = await mapIdentities(api, root, b.id, [bad]);
    assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
  }
  assert.equal((await mapIdentities(api, root, "999999", ["x"])).statusCode, 404);

  const garbage = await me(api, "not-a-token-anyone-issued");
  assert.equal(garbage.statusCode, 401);
  assert.equal(garbage.json<Refusal>().reason, "KubeTokenRejected");
  assert.doesNotMatch(garbage.body, /not-a-token-anyone-issued/);
  // An API token is never sent to the cluster: an unknown one stays "invalid API token".
  const unknown = await me(api, "ips_unknown");
  assert.equal(unknown.json<Refusal>().reason, "TokenUnknown");
});

test("switched off, or without the right to review tokens, a Kubernetes token is refused with a reason", async (t) => {
  const ns = await newNamespace(t, "kid");
  const ops = await serviceAccountToken(ns, "ops");

  const off = await newApi(t, { people: false, config: { IPSOLIS_KUBE_IDENTITY: "off" } });
  const r = await me(off, ops);
  assert.equal(r.statusCode, 401);
  assert.equal(r.json<Refusal>().reason, "TokenUnknown");

  // The API runs as a ServiceAccount with no right to create tokenreviews.
  const weak = await serviceAccountToken(ns, "weak");
  const unable = await newApi(t, { people: false, kc: kubeConfigWithToken(weak) });
  const u = await me(unable, ops);
  assert.equal(u.statusCode, 401);
  assert.equal(u.json<Refusal>().reason, "KubeReviewUnavailable");
  assert.match(u.json<Refusal>().error, /may not create tokenreviews/);
  // Public routes never ask the cluster: any bearer header there counts as none.
  const open = await unable.app.inject({ method: "GET", url: "/auth/csrf", headers: bearer(ops) });
  assert.equal(open.statusCode, 200, open.body);
});
