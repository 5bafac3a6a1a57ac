// A real local Kubernetes control plane for tests and the local demo: etcd, kube-apiserver
// and kube-controller-manager built from the Kubernetes Go modules (see build.sh), started on
// loopback with free ports, generated certificates and a service-account key pair.
//
// There is no kubelet and no scheduler. Pods that our Jobs create stay Pending until the
// "local node" (test/localnode) binds and runs them; the real Job controller does the rest.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, writeFile, readFile, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { request } from "node:https";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export const K8S_VERSION = "v1.37.2";

export type ControlPlane = {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly adminToken: string;
  readonly caFile: string;
  readonly binDir: string;
  readonly ports: { apiserver: number; etcd: number; controllerManager: number };
  /** Stops kube-controller-manager only (e.g. for a benchmark phase without controllers). */
  stopControllerManager(): Promise<void>;
  stop(): Promise<void>;
};

export type StartOptions = {
  /** Directory for certs, data and logs; a fresh temp dir when omitted. Removed on stop unless kept. */
  dir?: string;
  keepDir?: boolean;
  /** Start kube-controller-manager (Job, CronJob, GC controllers). Default true. */
  controllerManager?: boolean;
  log?: (line: string) => void;
};

/** Builds (once, cached outside the repo) and returns the directory holding the binaries. */
export async function ensureBinaries(log: (line: string) => void = (l) => process.stderr.write(l + "\n")) {
  const child = spawn("bash", [join(here, "build.sh")], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (line.trim()) log(line);
  });
  const code = await new Promise<number | null>((res) => child.on("close", res));
  if (code !== 0) throw new Error(`control-plane build failed (exit ${code}); see the lines above`);
  const lines = out.trim().split("\n");
  const binDir = lines[lines.length - 1];
  if (!binDir) throw new Error("control-plane build printed no bin directory");
  return binDir;
}

// A loopback port nobody listens on. Picked below Linux's ephemeral range (32768-60999), where
// the kernel also hands out the local ports of outgoing connections: under a loaded parallel run
// a port 0 handed back could be taken by some client's connect() before our server bound it.
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canBind(port)) return port;
  }
  return bindZero();
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function bindZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function openssl(args: string[], cwd: string) {
  await run("openssl", args, { cwd });
}

async function makeCerts(dir: string) {
  const c = (...a: string[]) => openssl(a, dir);
  await c(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "3650",
    "-subj",
    "/CN=ipsolis-local-ca",
  );
  await writeFile(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  await c(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=kube-apiserver",
  );
  await c(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "3650",
    "-extfile",
    "server.ext",
  );
  await c("genrsa", "-out", "sa.key", "2048");
  await c("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
}

function kubeconfigYaml(server: string, caB64: string, user: string, token: string) {
  return `apiVersion: v1
kind: Config
clusters:
- name: ipsolis-local
  cluster:
    server: ${server}
    certificate-authority-data: ${caB64}
users:
- name: ${user}
  user:
    token: ${token}
contexts:
- name: ipsolis-local
  context:
    cluster: ipsolis-local
    user: ${user}
    namespace: default
current-context: ipsolis-local
`;
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const out = createWriteStream(logFile, { flags: "a" });
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stopProcess(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function getStatus(url: string, ca: Buffer, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  proc: ChildProcess,
  logFile: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      const tail = (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-20).join("\n");
      throw new Error(`${what} exited with code ${proc.exitCode} before it was ready; log tail:\n${tail}`);
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-20).join("\n");
  throw new Error(`${what} not ready after ${timeoutMs} ms; log tail:\n${tail}`);
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const binDir = await ensureBinaries(log);
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "ipsolis-cp-")));
  await mkdir(dir, { recursive: true });
  await makeCerts(dir);
  const [apiPort, etcdPort, etcdPeer, kcmPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const adminToken = randomBytes(24).toString("hex");
  const kcmToken = randomBytes(24).toString("hex");
  // Static tokens give the test admin and the controller-manager their identities; every
  // other identity (operator, API, test users) is a ServiceAccount with real RBAC.
  await writeFile(
    join(dir, "tokens.csv"),
    `${adminToken},admin,admin,"system:masters"\n${kcmToken},system:kube-controller-manager,kcm,"system:masters"\n`,
    { mode: 0o600 },
  );
  const ca = await readFile(join(dir, "ca.crt"));
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, kubeconfigYaml(server, ca.toString("base64"), "admin", adminToken), {
    mode: 0o600,
  });
  await writeFile(
    join(dir, "kcm.kubeconfig"),
    kubeconfigYaml(server, ca.toString("base64"), "kcm", kcmToken),
    { mode: 0o600 },
  );

  const procs: { etcd?: ChildProcess; api?: ChildProcess; kcm?: ChildProcess } = {};
  const stopAll = async () => {
    await stopProcess(procs.kcm);
    await stopProcess(procs.api);
    await stopProcess(procs.etcd);
  };
  try {
    const etcdLog = join(dir, "etcd.log");
    procs.etcd = startProcess(
      join(binDir, "etcd"),
      [
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-url=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-url=http://127.0.0.1:${etcdPeer}`,
      ],
      etcdLog,
    );
    await waitFor(
      "etcd",
      async () =>
        await fetch(`http://127.0.0.1:${etcdPort}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      procs.etcd,
      etcdLog,
    );

    const apiLog = join(dir, "kube-apiserver.log");
    procs.api = startProcess(
      join(binDir, "kube-apiserver"),
      [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        `--bind-address=127.0.0.1`,
        `--advertise-address=127.0.0.1`,
        `--secure-port=${apiPort}`,
        // On loopback the default endpoint reconciler refuses 127.0.0.1 as a public IP.
        `--endpoint-reconciler-type=none`,
        `--tls-cert-file=${join(dir, "server.crt")}`,
        `--tls-private-key-file=${join(dir, "server.key")}`,
        `--client-ca-file=${join(dir, "ca.crt")}`,
        `--token-auth-file=${join(dir, "tokens.csv")}`,
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${join(dir, "sa.pub")}`,
        `--service-account-signing-key-file=${join(dir, "sa.key")}`,
        `--api-audiences=https://kubernetes.default.svc.cluster.local`,
        `--service-cluster-ip-range=10.96.0.0/16`,
        `--authorization-mode=RBAC`,
        `--allow-privileged=true`,
        `--profiling=false`,
      ],
      apiLog,
    );
    await waitFor(
      "kube-apiserver",
      async () => (await getStatus(`${server}/readyz`, ca, adminToken)) === 200,
      90_000,
      procs.api,
      apiLog,
    );

    if (opts.controllerManager !== false) {
      const kcmLog = join(dir, "kube-controller-manager.log");
      procs.kcm = startProcess(
        join(binDir, "kube-controller-manager"),
        [
          `--kubeconfig=${join(dir, "kcm.kubeconfig")}`,
          `--authentication-kubeconfig=${join(dir, "kcm.kubeconfig")}`,
          `--authorization-kubeconfig=${join(dir, "kcm.kubeconfig")}`,
          `--bind-address=127.0.0.1`,
          `--secure-port=${kcmPort}`,
          `--tls-cert-file=${join(dir, "server.crt")}`,
          `--tls-private-key-file=${join(dir, "server.key")}`,
          `--controllers=*`,
          `--leader-elect=false`,
          `--use-service-account-credentials=false`,
          `--service-account-private-key-file=${join(dir, "sa.key")}`,
          `--root-ca-file=${join(dir, "ca.crt")}`,
          // Tests want Jobs and their Pods to move quickly.
          `--concurrent-job-syncs=10`,
          `--concurrent-cron-job-syncs=5`,
        ],
        kcmLog,
      );
      await waitFor(
        "kube-controller-manager",
        async () => {
          const s = await getStatus(`https://127.0.0.1:${kcmPort}/healthz`, ca);
          return s === 200 || s === 401 || s === 403;
        },
        60_000,
        procs.kcm,
        kcmLog,
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    dir,
    server,
    kubeconfig,
    adminToken,
    caFile: join(dir, "ca.crt"),
    binDir,
    ports: { apiserver: apiPort, etcd: etcdPort, controllerManager: kcmPort },
    async stopControllerManager() {
      await stopProcess(procs.kcm);
    },
    async stop() {
      await stopAll();
      if (!opts.keepDir && !opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
