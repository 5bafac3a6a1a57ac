// The AD account runbooks' two flavours (issue #22): the PowerShell one (ad-account.yaml,
// PSOpenAD) pinned to the bash one (ad-account-ldap-bash.yaml, ldapmodify -Y GSSAPI) that
// test/integrations/ad-account.test.ts runs against a real Samba AD DC; the checks are in
// twins.ts. Here also: Provision and Modify set the attributes with the same step, and all three
// flavours (the demo twin ad-account-bash.yaml too) reset a one-time password there, saying so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { docsOf, messagesOf, testTwins } from "./twins.ts";

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

test("AD account: all three flavours take the one-time password in set-attributes and say the same", async () => {
  for (const file of [...Object.values(FILES), "ad-account-bash.yaml"]) {
    const { types, runbooks } = await docsOf(file);
    const password = types[0]?.spec.attributes?.find((a) => a.name === "password");
    assert.deepEqual(
      password && { type: password.type, secret: password.secret, generated: password.generated },
      {
        type: "string",
        secret: true,
        generated: { kind: "OneTimePassword", deliverTo: "Manager", length: 16 },
      },
      `${file}: the password attribute`,
    );
    for (const action of ["provision", "modify"] as const) {
      const steps = runbooks.get(types[0]?.spec.runbooks[action] ?? "")?.spec.steps ?? [];
      const step = steps.find((s) => s.name === "set-attributes");
      assert.ok(step, `${file} ${action}: a set-attributes step`);
      const shell = step.shell === "bash" ? "bash" : "pwsh";
      assert.ok(
        messagesOf(step.script ?? "", shell).includes(
          "<>: password reset; it must be changed at the next sign-in",
        ),
        `${file} ${action}: the password line`,
      );
      for (const other of steps.filter((s) => s !== step))
        assert.doesNotMatch(other.script ?? "", /IPSOLIS_ATTR_password/, `${file}: only set-attributes`);
    }
  }
});
