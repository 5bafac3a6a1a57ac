// A real MIT Kerberos KDC (Debian's krb5-kdc) on loopback in a temp dir, for tests: its own
// realm, database, kdc.conf and krb5.conf, on a free port. Principals get random keys and are
// exported to keytabs with kadmin.local. Starts in well under a second.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../cluster/control-plane.ts";

const run = promisify(execFile);

export type Kdc = {
  readonly realm: string;
  readonly port: number;
  readonly dir: string;
  /** Path and text of a client krb5.conf pointing at this KDC. */
  readonly krb5ConfPath: string;
  readonly krb5Conf: string;
  /** Creates a principal with a random key; returns its full name (`name@REALM`). */
  addPrincipal(name: string): Promise<string>;
  /**
   * Exports the principal's keys to a new keytab and returns its bytes. Each export
   * re-randomises the keys (new kvno), so an earlier keytab of the same principal goes stale.
   */
  keytab(principal: string): Promise<Buffer>;
  stop(): Promise<void>;
};

const sbin = (name: string) => (process.env.PATH?.includes("/usr/sbin") ? name : `/usr/sbin/${name}`);

async function waitForPort(port: number, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`KDC did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startKdc(opts: { realm?: string; log?: (l: string) => void } = {}): Promise<Kdc> {
  const realm = opts.realm ?? "TEST.IPSOLIS.IO";
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-kdc-"));
  const port = await freePort();
  const kdcConfPath = join(dir, "kdc.conf");
  const krb5ConfPath = join(dir, "krb5.conf");
  await writeFile(
    kdcConfPath,
    `[kdcdefaults]
 kdc_ports = ${port}
 kdc_tcp_ports = ${port}

[realms]
 ${realm} = {
  database_name = ${dir}/principal
  admin_keytab = FILE:${dir}/kadm5.keytab
  acl_file = ${dir}/kadm5.acl
  key_stash_file = ${dir}/stash
  kdc_ports = ${port}
  kdc_tcp_ports = ${port}
  max_life = 10h 0m 0s
  max_renewable_life = 7d 0h 0m 0s
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }

[logging]
 kdc = FILE:${dir}/kdc.log
`,
  );
  await writeFile(join(dir, "kadm5.acl"), "");
  const krb5Conf = `[libdefaults]
 default_realm = ${realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 udp_preference_limit = 1

[realms]
 ${realm} = {
  kdc = 127.0.0.1:${port}
 }
`;
  await writeFile(krb5ConfPath, krb5Conf);
  const env = { ...process.env, KRB5_CONFIG: krb5ConfPath, KRB5_KDC_PROFILE: kdcConfPath };
  let child: ChildProcess | undefined;
  try {
    await run(sbin("kdb5_util"), ["create", "-s", "-r", realm, "-P", "ipsolis-test-master-key"], { env });
    child = spawn(sbin("krb5kdc"), ["-n", "-r", realm, "-P", join(dir, "krb5kdc.pid")], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.on("data", (d: Buffer) => opts.log?.(`[kdc] ${d.toString().trim()}`));
    await waitForPort(port, 5000);
  } catch (err) {
    child?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const kadmin = (query: string) => run(sbin("kadmin.local"), ["-r", realm, "-q", query], { env });
  let n = 0;
  return {
    realm,
    port,
    dir,
    krb5ConfPath,
    krb5Conf,
    async addPrincipal(name) {
      const full = name.includes("@") ? name : `${name}@${realm}`;
      await kadmin(`addprinc -randkey ${full}`);
      return full;
    },
    async keytab(principal) {
      const file = join(dir, `keytab-${++n}`);
      await kadmin(`ktadd -k ${file} ${principal}`);
      return readFile(file);
    },
    async stop() {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child?.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
