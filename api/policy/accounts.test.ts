import { test } from "node:test";
import assert from "node:assert/strict";
import { checkNewPassword, checkSelfChange, checkSuperadminGuard, type AccountChange } from "./accounts.ts";

test("new passwords: minimum length and different from the current one", () => {
  assert.equal(checkNewPassword({ next: "short", minLength: 12 }).ok, false);
  assert.equal(
    checkNewPassword({ current: "same password!", next: "same password!", minLength: 12 }).ok,
    false,
  );
  assert.equal(
    checkNewPassword({ current: "old password!!", next: "new password!!", minLength: 12 }).ok,
    true,
  );
});

const sa = { role: "superadmin" as const, disabled: false };
const cases = [
  { name: "demote the last", target: sa, change: { kind: "update", role: "admin" }, n: 1, ok: false },
  { name: "disable the last", target: sa, change: { kind: "update", disabled: true }, n: 1, ok: false },
  { name: "delete the last", target: sa, change: { kind: "delete" }, n: 1, ok: false },
  { name: "rename e-mail of the last", target: sa, change: { kind: "update" }, n: 1, ok: true },
  { name: "demote one of two", target: sa, change: { kind: "update", role: "admin" }, n: 2, ok: true },
  {
    name: "delete a disabled superadmin",
    target: { ...sa, disabled: true },
    change: { kind: "delete" },
    n: 1,
    ok: true,
  },
  {
    name: "delete an admin",
    target: { role: "admin" as const, disabled: false },
    change: { kind: "delete" },
    n: 1,
    ok: true,
  },
] as const;
for (const c of cases) {
  test(`last-superadmin guard: ${c.name}`, () => {
    assert.equal(checkSuperadminGuard(c.target, c.change, c.n).ok, c.ok);
  });
}

test("nobody changes their own role or state; no-ops and other accounts pass", () => {
  const me = { id: "1", role: "superadmin" as const, disabled: false };
  const cases: { change: AccountChange; actor: string | undefined; ok: boolean }[] = [
    { change: { kind: "delete" }, actor: "1", ok: false },
    { change: { kind: "update", role: "admin" }, actor: "1", ok: false },
    { change: { kind: "update", disabled: true }, actor: "1", ok: false },
    { change: { kind: "update", role: "superadmin" }, actor: "1", ok: true },
    { change: { kind: "update", disabled: false }, actor: "1", ok: true },
    { change: { kind: "update" }, actor: "1", ok: true },
    { change: { kind: "delete" }, actor: "2", ok: true },
    { change: { kind: "delete" }, actor: undefined, ok: true },
  ];
  for (const c of cases) assert.equal(checkSelfChange(c.actor, me, c.change).ok, c.ok, JSON.stringify(c));
});
