// A private Postgres a test may stop and start again (same data directory, same port), to
// test what happens to the record during an outage without harming the run's shared server.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { startPostgres, ensurePostgresBinaries, type Postgres } from "../support/postgres.ts";

const run = promisify(execFile);

export type RestartablePostgres = {
  adminUrl: string;
  urlFor(db: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
};

async function ready(url: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    const ok = await c.connect().then(
      async () => {
        await c.end();
        return true;
      },
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error("restarted postgres not ready after 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-pg-outage-"));
  // startPostgres keeps `dir` on stop() when we pass it: the data survives for the restart.
  const first: Postgres = await startPostgres({ dir, log: () => undefined });
  const bin = await ensurePostgresBinaries(() => undefined);
  const user =
    process.getuid?.() === 0
      ? {
          uid: Number((await run("id", ["-u", "postgres"])).stdout.trim()),
          gid: Number((await run("id", ["-g", "postgres"])).stdout.trim()),
        }
      : undefined;
  let proc: ChildProcess | undefined;
  let running: "first" | "again" | "none" = "first";
  const self: RestartablePostgres = {
    adminUrl: first.adminUrl,
    urlFor: (db) => first.urlFor(db),
    async stop() {
      if (running === "first") await first.stop();
      else if (running === "again" && proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once("exit", r));
        proc.kill("SIGINT");
        await exited;
      }
      running = "none";
    },
    async start() {
      if (running !== "none") return;
      proc = spawn(
        join(bin, "postgres"),
        [
          "-D",
          join(dir, "data"),
          "-p",
          String(first.port),
          "-k",
          join(dir, "sock"),
          "-h",
          "127.0.0.1",
        ].concat(["-c", "fsync=off", "-c", "max_connections=100", "-c", "log_min_messages=warning"]),
        { ...user, cwd: dir, stdio: "ignore" },
      );
      running = "again";
      await ready(first.adminUrl);
    },
    async destroy() {
      await self.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return self;
}
