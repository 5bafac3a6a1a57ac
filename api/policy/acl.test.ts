import { test } from "node:test";
import assert from "node:assert/strict";
import { aclScopeOf, checkCreate, isVisible, runbookAccess, runbooksOf } from "./acl.ts";

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

test("runbooks: scoped by the asset types that run them", () => {
  const scoped = aclScopeOf("admin", ["mine", "also-mine"]);
  assert.equal(runbookAccess(scoped, ["mine"]), "write");
  assert.equal(runbookAccess(scoped, ["mine", "also-mine"]), "write");
  assert.equal(runbookAccess(scoped, ["mine", "theirs"]), "read", "shared with another team");
  assert.equal(runbookAccess(scoped, ["theirs"]), "hidden");
  assert.equal(runbookAccess(scoped, []), "hidden", "standalone (scheduled) runbooks are not a team's");
  assert.equal(runbookAccess(aclScopeOf("admin", []), []), "write");
  assert.deepEqual(runbooksOf({ runbooks: { provision: "a", deprovision: "a", modify: "b" } }), ["a", "b"]);
});
