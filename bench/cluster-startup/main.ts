// Cold build time and warm start time of the local control plane.
//
// The cold figure is what build.sh recorded when it filled the cache on this machine (a cold
// build is minutes of both cores; set IPSOLIS_BENCH_COLD=1 to build again from an empty Go
// build cache and measure it now). The warm figure is measured here: n starts of the product
// path (certificates, etcd, kube-apiserver /readyz, kube-controller-manager) side by side with
// the raw baseline (etcd + kube-apiserver alone, no controller-manager).
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { ensureBinaries, startControlPlane } from "../../test/cluster/control-plane.ts";

const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);

async function coldBuildSeconds(binDir: string): Promise<{ seconds: number; source: string }> {
  if (process.env.IPSOLIS_BENCH_COLD === "1") {
    const cache = await mkdtemp(join(tmpdir(), "ipsolis-cold-"));
    const t0 = Date.now();
    const child = spawn("bash", [join(import.meta.dirname, "../../test/cluster/build.sh")], {
      // A fresh build cache, the shared module cache: downloads are not what we measure.
      env: { ...process.env, IPSOLIS_CACHE: cache, GOMODCACHE: join(binDir, "../../go/mod") },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    await rm(cache, { recursive: true, force: true });
    if (code !== 0) throw new Error(`cold build failed (exit ${code})`);
    return { seconds: (Date.now() - t0) / 1000, source: "measured" };
  }
  const text = await readFile(join(binDir, "build-seconds.txt"), "utf8").catch(() => "");
  const total = text
    .split("\n")
    .map((l) => Number(l.split(" ")[1]))
    .filter((n) => Number.isFinite(n))
    .reduce((a, b) => a + b, 0);
  return { seconds: total, source: "recorded by build.sh" };
}

export async function run(): Promise<Record<string, unknown>> {
  const binDir = await ensureBinaries(log);
  const cold = await coldBuildSeconds(binDir);
  const n = 3;
  const full: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < n; i++) {
    let t0 = Date.now();
    const cp = await startControlPlane({ log });
    full.push(Date.now() - t0);
    await cp.stop();
    t0 = Date.now();
    const bare = await startControlPlane({ log, controllerManager: false });
    raw.push(Date.now() - t0);
    await bare.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const warm = median(full) / 1000;
  const apiOnly = median(raw) / 1000;
  log(`cold build ${cold.seconds} s (${cold.source}); warm start ${warm} s (apiserver only ${apiOnly} s)`);
  return {
    n,
    kubernetes: "v1.37.2",
    cold_build_s: cold.seconds,
    cold_source: cold.source,
    warm_start_s: warm,
    warm_apiserver_only_s: apiOnly,
    ratio: Number((warm / apiOnly).toFixed(2)),
  };
}
