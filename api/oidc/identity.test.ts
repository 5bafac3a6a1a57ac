import { test } from "node:test";
import assert from "node:assert/strict";
import { checkCallback, identityFromClaims, PENDING_LOGIN_TTL_MS, safeReturnTo } from "./identity.ts";

test("identity keys: oid, then UPN, then e-mail, de-duplicated", () => {
  assert.deepEqual(
    identityFromClaims({
      oid: "o-1",
      preferred_username: "ann@corp.example",
      email: "ann@corp.example",
      name: "Ann",
    }),
    { keys: ["o-1", "ann@corp.example"], displayName: "Ann", tenantId: null },
  );
  assert.deepEqual(identityFromClaims({ sub: "x" }), {
    error: "the identity provider sent no oid, preferred_username, upn or email claim",
  });
  assert.deepEqual(identityFromClaims({ email: " ", upn: 3 }), {
    error: "the identity provider sent no oid, preferred_username, upn or email claim",
  });
});

const now = new Date("2026-11-25T10:00:00Z");
const pending = {
  state: "s1",
  nonce: "n",
  verifier: "v",
  createdAt: now.getTime() - 1000,
  returnTo: "/portal",
};
const cases: {
  name: string;
  p: typeof pending | undefined;
  state: string | undefined;
  at: Date;
  want: string;
}[] = [
  { name: "matching state", p: pending, state: "s1", at: now, want: "ok" },
  { name: "no pending login", p: undefined, state: "s1", at: now, want: "NoPendingLogin" },
  { name: "missing state", p: pending, state: undefined, at: now, want: "StateMismatch" },
  { name: "other state", p: pending, state: "s2", at: now, want: "StateMismatch" },
  {
    name: "too old",
    p: pending,
    state: "s1",
    at: new Date(pending.createdAt + PENDING_LOGIN_TTL_MS + 1),
    want: "LoginExpired",
  },
];
for (const c of cases) {
  test(`callback check: ${c.name}`, () => {
    const r = checkCallback(c.p, c.state, c.at);
    assert.equal(r.ok ? "ok" : r.reason, c.want);
  });
}

test("returnTo only allows local paths", () => {
  assert.equal(safeReturnTo("/portal/orders?x=1"), "/portal/orders?x=1");
  assert.equal(safeReturnTo("//evil.example/"), "/portal");
  assert.equal(safeReturnTo("https://evil.example/"), "/portal");
  assert.equal(safeReturnTo("/\\evil"), "/portal");
  assert.equal(safeReturnTo(undefined), "/portal");
});
