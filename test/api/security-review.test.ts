// Defects found in the security review of issue #5, each pinned by the test that showed it:
// concurrent sign-in guesses outrunning the lockout, separation of duties laundered through
// an approval link, and the approver's pending queue.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { applyCrds } from "../support/crds.ts";
import { createUser } from "../../record/identity/users.ts";
import { hashPassword } from "../../record/identity/passwords.ts";
import { putSecuritySettings } from "../../record/identity/settings.ts";
import { newApi } from "./support.ts";

before(async () => {
  await applyCrds();
});

test("lockout holds under concurrency: N parallel guesses get at most threshold password checks", async (t) => {
  const api = await newApi(t, { config: { IPSOLIS_LOGIN_RATE_LIMIT: 1000 } });
  await putSecuritySettings(api.db, { lockoutThreshold: 3, lockoutMinutes: 10 });
  await createUser(api.db, {
    username: "alice",
    role: "admin",
    passwordHash: await hashPassword("alice's long password"),
  });
  const guesses = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      api.app.inject({
        method: "POST",
        url: "/auth/login",
        payload: { username: "alice", password: `wrong guess ${i}` },
      }),
    ),
  );
  assert.ok(guesses.every((g) => g.statusCode === 401));
  const plainFailures = guesses.filter((g) => /invalid username or password/.test(g.body)).length;
  assert.ok(
    plainFailures <= 2,
    `only threshold-1 guesses may be answered "wrong password" before the lock, got ${plainFailures}`,
  );
  const locks = await api.db.query("SELECT 1 FROM audit_events WHERE action = 'login_locked'");
  assert.equal(locks.rowCount, 1, "one lock, audited once");
  const right = await api.app.inject({
    method: "POST",
    url: "/auth/login",
    payload: { username: "alice", password: "alice's long password" },
  });
  assert.equal(right.statusCode, 401, "locked: the right password is refused too");
  assert.match(right.body, /too many failed sign-ins/);
});
