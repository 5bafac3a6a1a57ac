// The AD group runbooks ship in two flavours that must stay interchangeable (issue #22): the
// PowerShell one (ad-group-membership.yaml, PSOpenAD) that a Windows/Entra shop starts from, and
// the bash one (ad-group-ldap-bash.yaml, ldapmodify -Y GSSAPI) that the tests run against a real
// Samba AD DC. Only the bash flavour runs here (no pwsh on these machines), so this pins the
// PowerShell one to it: same asset type shape, same steps with the same parameters, timeouts and
// retries, and the same output lines. A drift in either file fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { AssetType, Runbook } from "../crds/generated/index.ts";

type RunbookStep = Runbook["spec"]["steps"][number];

const here = dirname(fileURLToPath(import.meta.url));

async function docsOf(file: string): Promise<{ types: AssetType[]; runbooks: Map<string, Runbook> }> {
  const docs = parseAllDocuments(await readFile(join(here, file), "utf8")).map(
    (d) => d.toJS() as AssetType | Runbook,
  );
  const types = docs.filter((d): d is AssetType => d.kind === "AssetType");
  const runbooks = new Map(
    docs.filter((d): d is Runbook => d.kind === "Runbook").map((r) => [r.metadata?.name ?? "", r]),
  );
  return { types, runbooks };
}

const pwsh = await docsOf("ad-group-membership.yaml");
const bash = await docsOf("ad-group-ldap-bash.yaml");

/** An asset type without what names it (name, display name, runbook names). */
function shapeOf(t: AssetType): unknown {
  const { displayName: _d, runbooks: _r, ...rest } = t.spec;
  return rest;
}

/** A step without its script and shell: what the operator schedules. */
function contractOf(rb: Runbook): unknown {
  return {
    kerberos: rb.spec.kerberos,
    image: rb.spec.image,
    steps: rb.spec.steps.map(({ script: _s, shell: _sh, ...rest }) => rest),
  };
}

/**
 * The output lines a script can print (stdout and its failure messages), with every variable and
 * substitution as `<>`, so "added $id ($user_dn) to $group_dn" and "added $id ($userDn) to
 * $groupDn" compare equal.
 */
function messagesOf(script: string, shell: "bash" | "pwsh"): string[] {
  const said = shell === "bash" ? /\becho "([^"]*)"/g : /\b(?:Write-Output|Fail) "([^"]*)"/g;
  const out = new Set<string>();
  for (const m of script.matchAll(said)) {
    const text = (m[1] ?? "")
      .replace(/\$\((?:[^()]|\([^()]*\))*\)/g, "<>")
      .replace(/\$\{[^}]*\}/g, "<>")
      .replace(/\$(?:\w+(?::\w+)?|[*@])/g, "<>")
      // The tool that failed is named differently (ldapmodify's exit code, the cmdlet's message).
      .replace(/\((?:ldapmodify|[A-Z][a-z]+-OpenAD\w+)\b[^)]*\)$/, "(<tool>)");
    out.add(text);
  }
  return [...out].sort();
}

test("the PowerShell and bash AD group asset types have the same shape", () => {
  assert.equal(pwsh.types.length, 1);
  assert.equal(bash.types.length, 1);
  const [p, b] = [pwsh.types[0] as AssetType, bash.types[0] as AssetType];
  assert.deepEqual(shapeOf(p), shapeOf(b));
  assert.deepEqual(Object.keys(p.spec.runbooks).sort(), Object.keys(b.spec.runbooks).sort());
});

for (const action of ["provision", "deprovision"] as const) {
  test(`${action}: the PowerShell runbook declares the same steps, parameters and output as the bash one`, () => {
    const p = pwsh.runbooks.get(pwsh.types[0]?.spec.runbooks[action] ?? "");
    const b = bash.runbooks.get(bash.types[0]?.spec.runbooks[action] ?? "");
    assert.ok(p && b, `both flavours have a ${action} runbook`);
    assert.deepEqual(contractOf(p), contractOf(b));
    for (const [i, ps] of p.spec.steps.entries()) {
      const bs: RunbookStep | undefined = b.spec.steps[i];
      assert.ok(bs, `bash step ${i} exists`);
      assert.equal(ps.shell, "pwsh", `${ps.name} is the PowerShell flavour`);
      assert.equal(bs.shell, "bash", `${bs.name} is the bash flavour`);
      assert.doesNotMatch(ps.script ?? "", /Import-Module\s+ActiveDirectory/, "RSAT does not exist on Linux");
      assert.deepEqual(
        messagesOf(ps.script ?? "", "pwsh"),
        messagesOf(bs.script ?? "", "bash"),
        `step ${ps.name}: the same output lines`,
      );
    }
  });
}
