// The AD account runbooks' two flavours (issue #22): the PowerShell one (ad-account.yaml,
// PSOpenAD) pinned to the bash one (ad-account-ldap-bash.yaml, ldapmodify -Y GSSAPI) that
// test/integrations/ad-account.test.ts runs against a real Samba AD DC; the checks are in
// twins.ts. Here also: Provision and Modify set the attributes with the same step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { docsOf, testTwins } from "./twins.ts";

const FILES = { pwsh: "ad-account.yaml", bash: "ad-account-ldap-bash.yaml" };
await testTwins("AD account", FILES);

test("AD account: Provision ends with, and Modify is, the same set-attributes step", async () => {
  for (const file of Object.values(FILES)) {
    const { types, runbooks } = await docsOf(file);
    const names = types[0]?.spec.runbooks;
    const provision = runbooks.get(names?.provision ?? "")?.spec.steps;
    const modify = runbooks.get(names?.modify ?? "")?.spec.steps;
    assert.ok(provision && modify, `${file}: provision and modify runbooks`);
    assert.deepEqual(
      provision.map((s) => s.name),
      ["move-to-managed", "enable", "set-attributes"],
    );
    assert.deepEqual(
      modify.map((s) => s.name),
      ["set-attributes"],
    );
    assert.deepEqual(provision.at(-1), modify[0], `${file}: one set-attributes step`);
  }
});

test("AD account: Deprovision disables before it moves", async () => {
  for (const file of Object.values(FILES)) {
    const { types, runbooks } = await docsOf(file);
    const steps = runbooks.get(types[0]?.spec.runbooks.deprovision ?? "")?.spec.steps;
    assert.deepEqual(
      steps?.map((s) => s.name),
      ["disable", "move-to-leavers"],
      `${file}: a failure half-way leaves a disabled account, never an enabled one in Leavers`,
    );
  }
});
