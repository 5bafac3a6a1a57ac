import { test } from "node:test";
import assert from "node:assert/strict";
import { aclScopeOf, checkCreate, isVisible } from "./acl.ts";

test("scope: admins with grants are scoped; zero grants and other roles see everything", () => {
  assert.deepEqual(aclScopeOf("admin", []), { all: true });
  assert.deepEqual(aclScopeOf("superadmin", ["a"]), { all: true });
  const s = aclScopeOf("admin", ["a"]);
  assert.equal(isVisible(s, "a"), true);
  assert.equal(isVisible(s, "b"), false);
});

test("create: catalogue-wide; a scoped admin gets the GET's 404 outside the grants, a plain refusal inside", () => {
  const reason = (scope: ReturnType<typeof aclScopeOf>, name: string) => {
    const c = checkCreate(scope, name);
    return c.ok ? "ok" : c.reason;
  };
  assert.equal(reason(aclScopeOf("admin", []), "new"), "ok");
  assert.equal(reason(aclScopeOf("superadmin", ["x"]), "new"), "ok");
  const scoped = aclScopeOf("admin", ["mine"]);
  assert.equal(reason(scoped, "new"), "NotFound");
  assert.equal(reason(scoped, "mine"), "ScopedCreate");
});
