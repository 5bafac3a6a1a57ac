// The AD runbooks ship in two flavours that must stay interchangeable (issue #22): the PowerShell
// one (PSOpenAD) that a Windows/Entra shop starts from, and the bash one (ldapsearch/ldapmodify
// -Y GSSAPI) that the tests run against a real Samba AD DC. Only the bash flavour runs here (no
// pwsh on these machines), so `testTwins` pins the PowerShell file to the bash file: same asset
// type shape, same runbooks with the same steps, parameters, timeouts, retries and Kerberos
// identity, and the same output lines. A drift in either file fails the test that calls it
// (ad-group-twins.test.ts, ad-account-twins.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { AssetType, Runbook } from "../crds/generated/index.ts";

type RunbookStep = Runbook["spec"]["steps"][number];
export type Flavour = { types: AssetType[]; runbooks: Map<string, Runbook> };

const here = dirname(fileURLToPath(import.meta.url));
const ACTIONS = ["provision", "modify", "deprovision"] as const;

/** The asset types and runbooks (by name) of one file in this folder. */
export async function docsOf(file: string): Promise<Flavour> {
  const docs = parseAllDocuments(await readFile(join(here, file), "utf8")).map(
    (d) => d.toJS() as AssetType | Runbook,
  );
  const types = docs.filter((d): d is AssetType => d.kind === "AssetType");
  const runbooks = new Map(
    docs.filter((d): d is Runbook => d.kind === "Runbook").map((r) => [r.metadata?.name ?? "", r]),
  );
  return { types, runbooks };
}

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
export function messagesOf(script: string, shell: "bash" | "pwsh"): string[] {
  const out = new Set<string>();
  for (const said of saidOf(script, shell)) {
    const text = said
      .replace(/\$\((?:[^()]|\([^()]*\))*\)/g, "<>")
      .replace(/\$\{[^}]*\}/g, "<>")
      .replace(/\$(?:\w+(?::\w+)?|[*@])/g, "<>")
      // The tool that failed is named differently (ldapmodify's exit code, the cmdlet's message).
      .replace(/\((?:ldapmodify|[A-Z][a-z]+-OpenAD\w+)\b[^)]*\)$/, "(<tool>)");
    out.add(text);
  }
  return [...out].sort();
}

/** The output statements' strings as written (variables and substitutions kept). */
export function saidOf(script: string, shell: "bash" | "pwsh"): string[] {
  const said = shell === "bash" ? /\becho "([^"]*)"/g : /\b(?:Write-Output|Fail) "([^"]*)"/g;
  return [...script.matchAll(said)].map((m) => m[1] ?? "");
}

const SHARED = /# --- shared by every step of this file[^\n]*\n([\s\S]*?)# --- end of shared part ---/;

/** The part every step of a file repeats (each step is its own script), or undefined. */
export function sharedPartOf(script: string): string | undefined {
  return SHARED.exec(script)?.[1];
}

/**
 * Registers the tests that pin `pwsh` (a file in this folder) to its bash twin `bash`: `what`
 * names them, e.g. "AD group".
 */
export async function testTwins(what: string, files: { pwsh: string; bash: string }): Promise<void> {
  const [pwsh, bash] = await Promise.all([docsOf(files.pwsh), docsOf(files.bash)]);

  test(`the PowerShell and bash ${what} asset types have the same shape`, () => {
    assert.equal(pwsh.types.length, 1);
    assert.equal(bash.types.length, 1);
    const [p, b] = [pwsh.types[0] as AssetType, bash.types[0] as AssetType];
    assert.deepEqual(shapeOf(p), shapeOf(b));
    assert.deepEqual(Object.keys(p.spec.runbooks).sort(), Object.keys(b.spec.runbooks).sort());
    assert.equal(pwsh.runbooks.size, Object.keys(p.spec.runbooks).length, "every PowerShell runbook is used");
    assert.equal(bash.runbooks.size, Object.keys(b.spec.runbooks).length, "every bash runbook is used");
  });

  // The actions either flavour has a runbook for (a missing twin fails below).
  const actions = ACTIONS.filter((a) => pwsh.types[0]?.spec.runbooks[a] || bash.types[0]?.spec.runbooks[a]);
  for (const action of actions) {
    test(`${what}, ${action}: the PowerShell runbook declares the same steps, parameters and output as the bash one`, () => {
      const p = pwsh.runbooks.get(pwsh.types[0]?.spec.runbooks[action] ?? "");
      const b = bash.runbooks.get(bash.types[0]?.spec.runbooks[action] ?? "");
      assert.ok(p && b, `both flavours have a ${action} runbook`);
      assert.deepEqual(contractOf(p), contractOf(b));
      for (const [i, ps] of p.spec.steps.entries()) {
        const bs: RunbookStep | undefined = b.spec.steps[i];
        assert.ok(bs, `bash step ${i} exists`);
        assert.equal(ps.shell, "pwsh", `${ps.name} is the PowerShell flavour`);
        assert.equal(bs.shell, "bash", `${bs.name} is the bash flavour`);
        assert.doesNotMatch(
          ps.script ?? "",
          /Import-Module\s+ActiveDirectory/,
          "RSAT does not exist on Linux",
        );
        assert.deepEqual(
          messagesOf(ps.script ?? "", "pwsh"),
          messagesOf(bs.script ?? "", "bash"),
          `step ${ps.name}: the same output lines`,
        );
      }
    });
  }

  // The runner masks secret values, but only the forms it knows (docs/security/runbook-secrets.md):
  // a step's own output must not name a secret attribute in the first place.
  test(`${what}: no output line of either flavour prints a secret attribute`, () => {
    for (const docs of [pwsh, bash]) {
      const secrets = (docs.types[0]?.spec.attributes ?? []).filter((a) => a.secret).map((a) => a.name);
      for (const rb of docs.runbooks.values())
        for (const s of rb.spec.steps)
          for (const said of saidOf(s.script ?? "", s.shell === "bash" ? "bash" : "pwsh"))
            for (const name of secrets)
              assert.ok(!said.includes(`IPSOLIS_ATTR_${name}`), `${s.name} prints ${name}: ${said}`);
    }
  });

  test(`${what}: every step of a file repeats the same shared part, and every bash step parses`, () => {
    for (const [flavour, file, docs] of [
      ["pwsh", files.pwsh, pwsh],
      ["bash", files.bash, bash],
    ] as const) {
      const steps = [...docs.runbooks.values()].flatMap((r) => r.spec.steps);
      const shared = new Set(steps.map((s) => sharedPartOf(s.script ?? "")));
      assert.equal(shared.size, 1, `${file}: one shared part in every step`);
      assert.notEqual([...shared][0], undefined, `${file}: the steps mark their shared part`);
      if (flavour !== "bash") continue;
      // Syntax only (bash -n runs nothing): a typo here would otherwise show only against an AD.
      for (const s of steps) execFileSync("bash", ["-n", "-c", s.script ?? ""], { stdio: "pipe" });
    }
  });
}
