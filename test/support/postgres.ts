// A private PostgreSQL server from Debian's packages on loopback, for tests and the local
// demo. It installs the server package when missing (apt, as root) and initialises its own
// cluster in a run directory: it never touches the machine's own clusters or config.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, mkdir, readdir, rm, chown, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../cluster/control-plane.ts";

const run = promisify(execFile);
const PG_ROOT = "/usr/lib/postgresql";

export type Postgres = {
  readonly dir: string;
  readonly port: number;
  /** Superuser URL (database `postgres`). */
  readonly adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
};

async function exists(p: string) {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function findBinDir(): Promise<string | undefined> {
  if (!(await exists(PG_ROOT))) return undefined;
  const versions = (await readdir(PG_ROOT))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(PG_ROOT, v, "bin");
    if (await exists(join(bin, "initdb"))) return bin;
  }
  return undefined;
}

/** Finds Debian's PostgreSQL server binaries, installing `postgresql` when they are missing. */
export async function ensurePostgresBinaries(log: (l: string) => void): Promise<string> {
  const found = await findBinDir();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      "PostgreSQL server binaries not found and not root: run `sudo apt-get install postgresql`",
    );
  }
  log("[postgres] installing Debian's postgresql package (once)…");
  await run("apt-get", ["update", "-qq"], { maxBuffer: 64 << 20 });
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "postgresql"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 << 20,
  });
  const bin = await findBinDir();
  if (!bin) throw new Error("installed postgresql but found no initdb under " + PG_ROOT);
  return bin;
}

/** initdb refuses to run as root: as root, run the server binaries as the `postgres` user. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout: uid } = await run("id", ["-u", "postgres"]);
  const { stdout: gid } = await run("id", ["-g", "postgres"]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

export async function startPostgres(
  opts: { dir?: string; log?: (l: string) => void } = {},
): Promise<Postgres> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const bin = await ensurePostgresBinaries(log);
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "ipsolis-pg-")));
  await mkdir(dir, { recursive: true });
  const data = join(dir, "data");
  const sock = join(dir, "sock");
  await mkdir(sock, { recursive: true });
  const user = await serverUser();
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(sock, user.uid, user.gid);
  }
  await run(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
    { ...user, cwd: dir },
  );
  const port = await freePort();
  const proc = spawn(
    join(bin, "postgres"),
    [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      sock,
      "-h",
      "127.0.0.1",
      // A private throwaway cluster: durability off for speed; the record's own guarantees are
      // tested through transactions, not fsync.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=300",
      "-c",
      "log_min_messages=warning",
    ],
    { ...user, cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres exited with code ${proc.exitCode}: ${stderr}`);
    const c = new pg.Client({ connectionString: adminUrl });
    const ok = await c.connect().then(
      async () => {
        await c.end();
        return true;
      },
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`postgres not ready after 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    port,
    adminUrl,
    urlFor: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGINT"); // fast shutdown
        await exited;
      }
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
