// A throw-away Active Directory domain for tests (and later the demo): Debian's Samba AD DC
// provisioned per run in its own temp directory, on a loopback address, with a unique realm.
// Every file it writes (databases, pid, sockets, caches, logs, keytabs, ticket caches) lives in
// that directory; the DC is stopped by PID. ../shared/PLATFORM.md has the verified flags.
//
// What it sets up: an OU for managed users (OU=Managed), users in it, groups in it, an OU for
// leavers' accounts (OU=Leavers), and a service account (svc-ipsolis, in CN=Users: outside the
// OUs it manages, so it cannot change itself) whose only extra rights are delegated ones on
// those two OUs (delegatedRights below): write `member` of groups in Managed; write userAccountControl,
// department, title and manager of users in Managed; reset the password of users in Managed (the
// Reset Password extended right, and write pwdLastSet and lockoutTime: must change at the next
// sign-in, unlock); move users between Managed and Leavers. It is not in Account Operators, which
// could also change users and groups elsewhere in the domain. Its keys are exported to a keytab, and a client krb5.conf names the DC's KDC port.
//
// LDAP (389/636) and the global catalog (3268/3269) ports are fixed in Samba's code, so there
// is one domain per loopback address: pass `address: "127.0.0.2"` for a second one (the AD test
// files use 127.0.0.1 to 127.0.0.4, one each, so they can run side by side). The other services
// get free ports; only the ldap and kdc services run (no smb, nbt, rpc, drepl).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../cluster/control-plane.ts";

const run = promisify(execFile);

/** What ./dev installs for the fixture (samba-ad-provision holds the schema files). */
export const SAMBA_DEBS =
  "samba samba-ad-dc samba-ad-provision winbind krb5-user ldap-utils libsasl2-modules-gssapi-mit";

export type AdDomain = {
  /** Kerberos realm, e.g. `S1A2B3C.IPSOLIS.TEST`. */
  readonly realm: string;
  /** NetBIOS domain name, e.g. `S1A2B3C`. */
  readonly domain: string;
  /** The DC's address (loopback) and LDAP URL (`ldap://127.0.0.1`). */
  readonly address: string;
  readonly ldapUrl: string;
  readonly kdcPort: number;
  /** `DC=s1a2b3c,DC=ipsolis,DC=test`. */
  readonly baseDn: string;
  /** `OU=Managed,<baseDn>`: the users and groups the service account manages. */
  readonly managedOu: string;
  /** `OU=Leavers,<baseDn>`: where leavers' (disabled) accounts are moved. */
  readonly leaversOu: string;
  readonly dir: string;
  /**
   * The service account: its principal, its exported keytab (current keys) and the rights
   * delegated to it (each an ACE added to an OU, in SDDL with the account's SID).
   */
  readonly service: {
    readonly name: string;
    readonly principal: string;
    readonly keytab: Buffer;
    readonly rights: readonly { readonly ou: string; readonly sddl: string; readonly why: string }[];
  };
  /** Client krb5.conf for the realm (KDC on the fixture's port) and where it is written. */
  readonly krb5Conf: string;
  readonly krb5ConfPath: string;
  /** Milliseconds: provisioning (incl. OU, users, groups, rights, keytab) and start to LDAP answering. */
  readonly timings: { readonly provisionMs: number; readonly readyMs: number };
  userDn(name: string): string;
  groupDn(name: string): string;
  /**
   * Creates a user (random password, never returned) in the managed OU, or in `container` (an RDN
   * under the base DN, e.g. `CN=Users`); `disabled` as an HR feed pre-creates a joiner's account.
   */
  addUser(name: string, opts?: { mail?: string; disabled?: boolean; container?: string }): Promise<string>;
  /** Deletes a user (test setup: an account removed outside ipsolis). */
  deleteUser(name: string): Promise<void>;
  /** A user's account wherever it sits under the base DN, read over LDAP as the service account. */
  account(name: string): Promise<AdAccount | undefined>;
  /**
   * Applies one LDIF change record as the service account (ldapmodify -Y GSSAPI): what its
   * delegated rights allow, and the DC's error when they do not.
   */
  modifyAsService(ldif: string): Promise<{ ok: true } | { ok: false; message: string }>;
  addGroup(name: string): Promise<string>;
  /** The DNs of a group's members, read over LDAP with GSSAPI as the service account. */
  membersOf(group: string): Promise<string[]>;
  /** Adds a member directly (test setup), bypassing any runbook. */
  addMember(group: string, user: string): Promise<void>;
  /**
   * A keytab of the service account whose keys the DC no longer accepts: the account's password
   * is changed after the export, and `service.keytab` is replaced with the new keys.
   */
  staleKeytab(): Promise<Buffer>;
  stop(): Promise<void>;
};

/** A user object as LDAP shows it. */
export type AdAccount = {
  readonly dn: string;
  /** The DN of the OU or container it sits in. */
  readonly parent: string;
  readonly userAccountControl: number;
  /** ACCOUNTDISABLE (0x2) is clear. */
  readonly enabled: boolean;
  readonly department?: string;
  readonly title?: string;
  /** The manager's DN. */
  readonly manager?: string;
  /** FILETIME of the last password set; 0: must change it at the next sign-in. */
  readonly pwdLastSet: string;
  /** FILETIME of the lockout, or "0"/undefined when not locked out. */
  readonly lockoutTime?: string;
  /** UF_LOCKOUT (0x10) of msDS-User-Account-Control-Computed: locked out now. */
  readonly lockedOut: boolean;
  /** The DNs of the groups it is a member of. */
  readonly memberOf: readonly string[];
};

/** schemaIDGUIDs of the AD schema (the same in every AD and in Samba's schema; [MS-ADA1], [MS-ADSC]). */
const SCHEMA = {
  user: "bf967aba-0de6-11d0-a285-00aa003049e2",
  group: "bf967a9c-0de6-11d0-a285-00aa003049e2",
  member: "bf9679c0-0de6-11d0-a285-00aa003049e2",
  userAccountControl: "bf967a68-0de6-11d0-a285-00aa003049e2",
  department: "bf96794f-0de6-11d0-a285-00aa003049e2",
  title: "bf967a55-0de6-11d0-a285-00aa003049e2",
  manager: "bf9679b5-0de6-11d0-a285-00aa003049e2",
  name: "bf967a0e-0de6-11d0-a285-00aa003049e2",
  cn: "bf96793f-0de6-11d0-a285-00aa003049e2",
  pwdLastSet: "bf967a0a-0de6-11d0-a285-00aa003049e2",
  lockoutTime: "28630ebf-41d5-11d1-a9c1-0000f80367c1",
} as const;

/** rightsGuids of AD's extended rights (controlAccessRight objects in CN=Extended-Rights; [MS-ADTS] 5.1.3.2.1). */
const EXTENDED_RIGHT = {
  /** User-Force-Change-Password ("Reset Password"): set unicodePwd without knowing the old one. */
  resetPassword: "00299570-246d-11d0-a768-00aa006e0529",
} as const;

/**
 * What the service account may do, as ACEs on the two OUs: nothing domain-wide, no full control,
 * no other attribute, no password reset outside Managed. `CIIO` with an inherited object type: inherited by
 * every object of that class below the OU, not effective on the OU itself; without flags: on the
 * OU itself only. A move (LDAP modrdn with newsuperior) is checked by Samba as AD does
 * ([MS-ADTS] 3.1.1.5.4.1.1, Samba's acl_rename): WriteProperty on `name` and on the RDN
 * attribute `cn` of the object, DeleteChild (of its class) on the old parent and CreateChild on
 * the new one. Found by trying: without `cn` the DC says "no wp on cn", without DeleteChild
 * "acl:access_denied renaming". The move rights imply that the account can also create and
 * delete user objects in both OUs, and rename them there: AD has no narrower right for a move.
 * A password reset (replace unicodePwd, [MS-ADTS] 3.1.1.3.1.5.2) needs the control access right
 * User-Force-Change-Password (`CR` with its rightsGuid), not WriteProperty on unicodePwd; making
 * it "must change at next sign-in" (pwdLastSet 0) and unlocking (lockoutTime 0) each need
 * WriteProperty on that attribute: checked on Samba 4.17 by leaving each out ("has no write
 * property access"). The GUIDs were read from the domain's schema and extended-rights containers.
 * Samba 4.17 lets the right also set lockoutTime to a non-zero value (lock an account; Windows
 * takes only 0): the tests lock an account that way.
 */
function delegatedRights(sid: string, managedOu: string, leaversOu: string) {
  const wp = (attr: keyof typeof SCHEMA, cls: keyof typeof SCHEMA) =>
    `(OA;CIIO;WP;${SCHEMA[attr]};${SCHEMA[cls]};${sid})`;
  const move = `${wp("name", "user")}${wp("cn", "user")}`;
  const childUsers = `(OA;;CCDC;${SCHEMA.user};;${sid})`;
  return [
    { ou: managedOu, sddl: wp("member", "group"), why: "group membership (ad-group runbooks)" },
    {
      ou: managedOu,
      sddl: `${wp("userAccountControl", "user")}${wp("department", "user")}${wp("title", "user")}${wp("manager", "user")}`,
      why: "enable/disable and HR attributes of users in Managed (ad-account runbooks)",
    },
    {
      ou: managedOu,
      sddl: `(OA;CIIO;CR;${EXTENDED_RIGHT.resetPassword};${SCHEMA.user};${sid})${wp("pwdLastSet", "user")}${wp("lockoutTime", "user")}`,
      why: "one-time password of users in Managed: reset it, must change at next sign-in (pwdLastSet 0), unlock (lockoutTime 0)",
    },
    { ou: managedOu, sddl: move, why: "moving a user out of Managed: write name and cn" },
    {
      ou: managedOu,
      sddl: childUsers,
      why: "moving users out of (delete child) and into (create child) Managed",
    },
    { ou: leaversOu, sddl: move, why: "moving a user out of Leavers: write name and cn" },
    {
      ou: leaversOu,
      sddl: childUsers,
      why: "moving users into (create child) and out of (delete child) Leavers",
    },
  ];
}

/** The values of an LDIF entry (ldapsearch -LLL -o ldif-wrap=no), base64 values decoded. */
function ldifValues(entry: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of entry.split("\n")) {
    const m = /^([A-Za-z][\w-]*)(::?) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, attr = "", sep, raw = ""] = m;
    const value = sep === "::" ? Buffer.from(raw, "base64").toString("utf8") : raw;
    const key = attr.toLowerCase();
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** The parent of a DN: its first RDN removed (escaped commas inside it kept). */
const parentOf = (dn: string) => dn.replace(/^(?:[^,\\]|\\.)*,/, "");

export async function hasSamba(): Promise<boolean> {
  const files = ["/usr/sbin/samba", "/usr/bin/samba-tool", "/usr/bin/ldapmodify", "/usr/share/samba/setup"];
  for (const f of files) {
    const ok = await access(f).then(
      () => true,
      () => false,
    );
    if (!ok) return false;
  }
  return true;
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function ldapAnswers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(389, address);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const randomPassword = () => `Aa1!${randomBytes(18).toString("base64url")}`;

export async function startAdDomain(
  opts: {
    address?: string;
    users?: { name: string; mail?: string; disabled?: boolean }[];
    groups?: string[];
    log?: (l: string) => void;
  } = {},
): Promise<AdDomain> {
  if (!(await hasSamba()))
    throw new Error(`Samba AD DC is not installed: apt-get install -y --no-install-recommends ${SAMBA_DEBS}`);
  const address = opts.address ?? "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address))
    throw new Error(`the AD fixture runs on loopback only, not ${address}`);
  for (const port of [389, 636, 3268, 3269]) {
    if (!(await canBind(port, address)))
      throw new Error(
        `port ${port} on ${address} is in use (another domain there?): LDAP ports are fixed, use another loopback address`,
      );
  }
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "ipsolis-samba-"));
  const tag = randomBytes(3).toString("hex").toUpperCase();
  const domain = `S${tag}`;
  const dnsDomain = `${domain.toLowerCase()}.ipsolis.test`;
  const realm = dnsDomain.toUpperCase();
  const baseDn = dnsDomain
    .split(".")
    .map((p) => `DC=${p}`)
    .join(",");
  const managedOu = `OU=Managed,${baseDn}`;
  const leaversOu = `OU=Leavers,${baseDn}`;
  const hostName = "dc1";
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p) && (await canBind(p, address))) ports.push(p);
  }
  const [kdcPort, kpasswdPort, cldapPort, smbPort, nbtPort, dgramPort] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const smbConf = join(dir, "etc", "smb.conf");
  const krb5ConfPath = join(dir, "krb5.conf");
  const krb5Conf = `[libdefaults]
 default_realm = ${realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1

[realms]
 ${realm} = {
  kdc = ${address}:${kdcPort}
 }
`;
  // The fixture's own Kerberos environment: never the machine's /etc/krb5.conf or ticket cache.
  const env = {
    ...process.env,
    KRB5_CONFIG: krb5ConfPath,
    KRB5CCNAME: `FILE:${join(dir, "krb5cc-fixture")}`,
  };
  const exec = (cmd: string, args: string[]) =>
    run(cmd, args, { cwd: dir, env, timeout: 60_000 }).catch((err: unknown) => {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} failed: ${e.stderr?.trim() || e.message}`, {
        cause: err,
      });
    });
  const tool = (...args: string[]) => exec("samba-tool", [...args, "-s", smbConf]);

  let child: ChildProcess | undefined;
  const stopChild = async () => {
    const c = child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    // Its own process group (detached): the DC and anything it forked go together.
    process.kill(-c.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(-c.pid, "SIGKILL");
    }, 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await writeFile(krb5ConfPath, krb5Conf);
    await writeFile(join(dir, "empty.conf"), "");
    const o = (k: string, v: string | number) => `--option=${k}=${v}`;
    await exec("samba-tool", [
      "domain",
      "provision",
      "-s",
      join(dir, "empty.conf"),
      `--targetdir=${dir}`,
      `--realm=${realm}`,
      `--domain=${domain}`,
      `--host-name=${hostName}`,
      "--server-role=dc",
      "--dns-backend=NONE",
      "--use-rfc2307",
      `--adminpass=${randomPassword()}`,
      // Samba matches `interfaces` against the host's addresses: 127.0.0.2 alone is "no network
      // interfaces found"; 127.0.0.2/8 (lo's network) binds that address only.
      o("interfaces", `${address}/8`),
      o("bind interfaces only", "yes"),
      o("server services", "ldap, kdc"),
      o("pid directory", join(dir, "run")),
      o("ncalrpc dir", join(dir, "run", "ncalrpc")),
      o("winbindd socket directory", join(dir, "run", "winbindd")),
      o("ntp signd socket directory", join(dir, "run", "ntp_signd")),
      o("log file", join(dir, "log.%m")),
      o("krb5 port", kdcPort),
      o("kpasswd port", kpasswdPort),
      o("cldap port", cldapPort),
      o("smb ports", smbPort),
      o("nbt port", nbtPort),
      o("dgram port", dgramPort),
    ]);
    await mkdir(join(dir, "cache"), { recursive: true });
    // Directory content before the DC starts: samba-tool writes sam.ldb directly (no bind needed).
    await tool("ou", "create", managedOu);
    await tool("ou", "create", leaversOu);
    const createUser = async (name: string, o: { mail?: string; disabled?: boolean; container?: string }) => {
      const container = o.container ?? "OU=Managed";
      await tool(
        "user",
        "create",
        name,
        randomPassword(),
        "--use-username-as-cn",
        // CN=Users is the default container; --userou takes only OUs.
        ...(container === "CN=Users" ? [] : [`--userou=${container}`]),
        ...(o.mail ? [`--mail-address=${o.mail}`] : []),
      );
      if (o.disabled) await tool("user", "disable", name);
      return `CN=${name},${container},${baseDn}`;
    };
    for (const g of opts.groups ?? []) await tool("group", "add", g, "--groupou=OU=Managed");
    for (const u of opts.users ?? []) await createUser(u.name, u);
    const svc = "svc-ipsolis";
    await createUser(svc, { container: "CN=Users" });
    await tool("user", "setexpiry", svc, "--noexpiry");
    const shown = (await tool("user", "show", svc, "--attributes=objectSid")).stdout;
    const sid = /objectSid: (S-[\d-]+)/.exec(shown)?.[1];
    if (!sid) throw new Error(`no objectSid for ${svc}: ${shown}`);
    const rights = delegatedRights(sid, managedOu, leaversOu);
    // One samba-tool run per OU (each run costs seconds on a busy machine).
    for (const ou of new Set(rights.map((r) => r.ou))) {
      const sddl = rights.flatMap((r) => (r.ou === ou ? [r.sddl] : [])).join("");
      await tool("dsacl", "set", `--objectdn=${ou}`, `--sddl=${sddl}`);
    }
    // GSSAPI clients given -N ask for ldap/<address> (no reverse lookup: 127.0.0.1 would become
    // "localhost"), so the DC account carries that SPN too.
    await tool("spn", "add", `ldap/${address}`, `${hostName.toUpperCase()}$`);
    const principal = `${svc}@${realm}`;
    let keytabPath = join(dir, "svc.keytab");
    await tool("domain", "exportkeytab", keytabPath, `--principal=${principal}`);
    const service = { name: svc, principal, keytab: await readFile(keytabPath), rights };
    const provisionMs = Date.now() - t0;

    const t1 = Date.now();
    child = spawn("samba", ["-F", "--debug-stdout", "-M", "single", "-s", smbConf], {
      cwd: dir,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // A test process that dies without stop() (uncaught error, process.exit) must not leave a
    // DC holding port 389: a detached child would outlive it.
    const pid = child.pid;
    const onExit = () => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, "SIGKILL");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", onExit);
    child.once("exit", () => process.removeListener("exit", onExit));
    let output = "";
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 30_000;
    while (!(await ldapAnswers(address))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `samba did not answer LDAP on ${address}:389 (exit ${String(child.exitCode)}): ${output.slice(-2000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    const readyMs = Date.now() - t1;
    opts.log?.(
      `AD domain ${realm} on ${address}: provisioned in ${provisionMs} ms, LDAP ready in ${readyMs} ms`,
    );

    let kinitDone = false;
    const ldap = async (tool: "ldapsearch" | "ldapmodify", args: string[], input?: string) => {
      if (!kinitDone) {
        await exec("kinit", ["-kt", keytabPath, principal]);
        kinitDone = true;
      }
      return new Promise<string>((resolve, reject) => {
        const p = execFile(
          tool,
          ["-N", "-Q", "-Y", "GSSAPI", "-H", `ldap://${address}`, "-o", "ldif-wrap=no", ...args],
          { cwd: dir, env, timeout: 30_000 },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${tool}: ${stderr.trim()}`, { cause: err })) : resolve(stdout),
        );
        if (input !== undefined) p.stdin?.end(input);
      });
    };
    const userDn = (name: string) => `CN=${name},${managedOu}`;
    const groupDn = (name: string) => `CN=${name},${managedOu}`;
    return {
      realm,
      domain,
      address,
      ldapUrl: `ldap://${address}`,
      kdcPort,
      baseDn,
      managedOu,
      leaversOu,
      dir,
      service,
      krb5Conf,
      krb5ConfPath,
      timings: { provisionMs, readyMs },
      userDn,
      groupDn,
      addUser: (name, o = {}) => createUser(name, o),
      async deleteUser(name) {
        await tool("user", "delete", name);
      },
      async account(name) {
        if (!/^[\w.-]+$/.test(name)) throw new Error(`not a plain account name: ${name}`);
        const out = await ldap("ldapsearch", [
          "-LLL",
          "-b",
          baseDn,
          `(&(objectCategory=person)(objectClass=user)(sAMAccountName=${name}))`,
          "userAccountControl",
          "department",
          "title",
          "manager",
          "memberOf",
          "pwdLastSet",
          "lockoutTime",
          "msDS-User-Account-Control-Computed",
        ]);
        const entries = out.split(/\n\n+/).filter((e) => /^dn::? /m.test(e));
        if (entries.length > 1) throw new Error(`${entries.length} accounts named ${name}`);
        const [entry] = entries;
        if (!entry) return undefined;
        const v = ldifValues(entry);
        const dn = v.get("dn")?.[0] ?? "";
        const uac = Number(v.get("useraccountcontrol")?.[0]);
        const optional = Object.fromEntries(
          (["department", "title", "manager"] as const).flatMap((k) => {
            const value = v.get(k.toLowerCase())?.[0];
            return value === undefined ? [] : [[k, value]];
          }),
        ) as Pick<AdAccount, "department" | "title" | "manager">;
        const lockoutTime = v.get("lockouttime")?.[0];
        return {
          dn,
          parent: parentOf(dn),
          userAccountControl: uac,
          enabled: (uac & 0x2) === 0,
          ...optional,
          pwdLastSet: v.get("pwdlastset")?.[0] ?? "",
          ...(lockoutTime === undefined ? {} : { lockoutTime }),
          lockedOut: (Number(v.get("msds-user-account-control-computed")?.[0] ?? 0) & 0x10) !== 0,
          memberOf: v.get("memberof") ?? [],
        };
      },
      async modifyAsService(ldif) {
        return ldap("ldapmodify", [], ldif).then(
          () => ({ ok: true }) as const,
          (err: unknown) => ({ ok: false, message: (err as Error).message }) as const,
        );
      },
      async addGroup(name) {
        await tool("group", "add", name, "--groupou=OU=Managed");
        return groupDn(name);
      },
      async membersOf(group) {
        const out = await ldap("ldapsearch", [
          "-LLL",
          "-b",
          groupDn(group),
          "-s",
          "base",
          "(objectClass=group)",
          "member",
        ]);
        return out
          .split("\n")
          .filter((l) => l.startsWith("member: "))
          .map((l) => l.slice("member: ".length));
      },
      async addMember(group, user) {
        await ldap(
          "ldapmodify",
          [],
          `dn: ${groupDn(group)}\nchangetype: modify\nadd: member\nmember: ${userDn(user)}\n`,
        );
      },
      async staleKeytab() {
        const stalePath = join(dir, `stale-${randomBytes(4).toString("hex")}.keytab`);
        await tool("domain", "exportkeytab", stalePath, `--principal=${principal}`);
        const stale = await readFile(stalePath);
        // A new password gives new keys (kvno + 1): the keytab exported above no longer works.
        // `service.keytab` is re-exported with the new keys; Secrets made before hold stale ones.
        await tool("user", "setpassword", svc, `--newpassword=${randomPassword()}`);
        keytabPath = join(dir, `svc-${randomBytes(4).toString("hex")}.keytab`);
        await tool("domain", "exportkeytab", keytabPath, `--principal=${principal}`);
        service.keytab = await readFile(keytabPath);
        kinitDone = false;
        return stale;
      },
      async stop() {
        await stopChild();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopChild().catch((e: unknown) => opts.log?.(`stopping samba: ${String(e)}`));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Loads the domain's service keytab and krb5.conf into a namespace as the Kerberos Secret a
 * Runbook's `spec.kerberos.secretName` names (keys `keytab` and `krb5.conf`, the CRD's
 * defaults), labelled for runbook use (docs/security/runbook-secrets.md).
 */
export async function createKerberosSecret(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  ad: Pick<AdDomain, "service" | "krb5Conf">,
  keytab: Buffer = ad.service.keytab,
): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({
    namespace,
    body: {
      metadata: { name, labels: { "ipsolis.io/runbook-secret": "true" } },
      data: { keytab: keytab.toString("base64") },
      stringData: { "krb5.conf": ad.krb5Conf },
    },
  });
}
