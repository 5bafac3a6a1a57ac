// `npm run bench -- <name>`: runs bench/<name>/main.ts's `run()` on a fresh checkout (each
// bench starts what it needs) and prints its figures as the last line, one JSON object.
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const name = process.argv[2];
const names = (await readdir(here, { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name>   (one of: ${names.join(", ")})\n`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(join(here, name, "main.ts")).href)) as {
  run: (args: string[]) => Promise<Record<string, unknown>>;
};
const figures = await mod.run(process.argv.slice(3));
process.stdout.write(JSON.stringify({ bench: name, ...figures }) + "\n");
process.exit(0);
