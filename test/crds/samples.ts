// Reads the sample runbooks (runbooks/*.yaml): every AssetType and Runbook document.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { AssetType, Runbook } from "../../crds/generated/index.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "runbooks");

export async function readSamples(): Promise<{ file: string; obj: AssetType | Runbook }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  const out: { file: string; obj: AssetType | Runbook }[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      const obj = doc.toJS() as AssetType | Runbook | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}
