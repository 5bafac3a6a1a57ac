// The local node: stands in for the kubelet in tests and the local demo (never production).
// It registers a Node with a heartbeat (NodeReady condition + Lease in kube-node-lease), binds
// unbound Pods labelled ipsolis.io/runner=true (as a scheduler would), runs the runner as a
// local process with the Pod's env and Secret/ConfigMap/emptyDir volumes in a private temp dir,
// and writes the Pod's status (Running, then Succeeded/Failed with the exit code and the
// termination message), so the real Job controller completes or fails the Job. A deleted Pod
// (e.g. the Job's activeDeadlineSeconds) has its process tree killed.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { referencedSources, resolveEnv, rewritePaths, volumeFiles, type Sources } from "./pod-env.ts";

export const RUNNER_LABEL = "ipsolis.io/runner";
export const DEFAULT_NODE_NAME = "ipsolis-local-node";
const runnerMain = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "operator", "runner", "main.ts");
const HEARTBEAT_MS = 10_000;

export type LocalNodeOptions = {
  kubeconfig: string;
  /** Only Pods in this namespace (tests); all namespaces when omitted. */
  namespace?: string;
  nodeName?: string;
  log: (line: string) => void;
  /** The program run for every pod (default: the runner). */
  command?: string[];
};

export type LocalNode = { readonly nodeName: string; stop(): Promise<void> };

type Run = { child?: ChildProcess; dir: string; killed: boolean; done: Promise<void> };

/** Every live descendant of `root` (from /proc), children before grandchildren. */
export function descendantsOf(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(entry), Number(fields[1]));
    } catch (err) {
      // The process exited while we looked: not a descendant any more.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift();
    for (const [child, ppid] of parent) {
      if (ppid !== p) continue;
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

const errText = (err: unknown) =>
  err instanceof k8s.ApiException ? `${err.code}: ${String(err.body).slice(0, 300)}` : String(err);

export async function startLocalNode(opts: LocalNodeOptions): Promise<LocalNode> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coord = kc.makeApiClient(k8s.CoordinationV1Api);
  const nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
  const log = (l: string) => opts.log(`[localnode] ${l}`);
  const runs = new Map<string, Run>();
  const handled = new Set<string>();
  let stopped = false;

  // --- the Node and its heartbeat ---
  async function heartbeat() {
    const now = new Date();
    let node: k8s.V1Node;
    try {
      node = await core.readNode({ name: nodeName });
    } catch (err) {
      if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
      node = await core.createNode({
        body: {
          metadata: {
            name: nodeName,
            labels: {
              "kubernetes.io/hostname": nodeName,
              "kubernetes.io/os": "linux",
              "ipsolis.io/local-node": "true",
            },
          },
        },
      });
    }
    node.status = {
      ...node.status,
      capacity: { cpu: "8", memory: "16Gi", pods: "250" },
      allocatable: { cpu: "8", memory: "16Gi", pods: "250" },
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: nodeName },
      ],
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "ipsolis-localnode://0",
        kernelVersion: "",
        kubeProxyVersion: "",
        kubeletVersion: "v1.37.2",
        machineID: "",
        operatingSystem: "linux",
        osImage: "ipsolis local node",
        systemUUID: "",
      },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "ipsolis local node is posting ready status",
          lastHeartbeatTime: now,
          lastTransitionTime:
            node.status?.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime ?? now,
        },
      ],
    };
    await core.replaceNodeStatus({ name: nodeName, body: node });
    const lease: k8s.V1Lease = {
      metadata: { name: nodeName, namespace: "kube-node-lease" },
      spec: {
        holderIdentity: nodeName,
        leaseDurationSeconds: 40,
        renewTime: new k8s.V1MicroTime(now.getTime()),
      },
    };
    try {
      const cur = await coord.readNamespacedLease({ name: nodeName, namespace: "kube-node-lease" });
      cur.spec = lease.spec;
      await coord.replaceNamespacedLease({ name: nodeName, namespace: "kube-node-lease", body: cur });
    } catch (err) {
      if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
      await coord.createNamespacedLease({ namespace: "kube-node-lease", body: lease });
    }
  }
  const beat = async () => {
    // Two local nodes (parallel test processes) may race on the same Node: a 409 is harmless.
    for (let i = 0; i < 3; i++) {
      try {
        await heartbeat();
        return;
      } catch (err) {
        if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
      }
    }
  };
  await beat();
  const heartbeatTimer = setInterval(() => {
    beat().catch((err: unknown) => log(`heartbeat failed: ${errText(err)}`));
  }, HEARTBEAT_MS);

  // --- pod status writes (read-modify-write through the status subresource, retried on 409) ---
  async function writeStatus(ns: string, name: string, change: (p: k8s.V1Pod) => void) {
    for (let i = 0; ; i++) {
      try {
        const pod = await core.readNamespacedPod({ name, namespace: ns });
        change(pod);
        await core.replaceNamespacedPodStatus({ name, namespace: ns, body: pod });
        return;
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return;
        if (!(err instanceof k8s.ApiException && err.code === 409) || i >= 10) throw err;
      }
    }
  }

  const runningStatus = (p: k8s.V1Pod, started: Date) => {
    const c = p.spec?.containers[0];
    p.status = {
      ...p.status,
      phase: "Running",
      hostIP: "127.0.0.1",
      podIP: "127.0.0.1",
      startTime: p.status?.startTime ?? started,
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: started,
      })),
      containerStatuses: [
        {
          name: c?.name ?? "runner",
          image: c?.image ?? "",
          imageID: "",
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: started } },
        },
      ],
    };
  };

  const terminatedStatus = (
    p: k8s.V1Pod,
    exitCode: number,
    message: string,
    started: Date,
    reason?: string,
  ) => {
    const c = p.spec?.containers[0];
    const now = new Date();
    p.status = {
      ...p.status,
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: started },
        { type: "Initialized", status: "True", lastTransitionTime: started },
        { type: "ContainersReady", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now },
      ],
      containerStatuses: [
        {
          name: c?.name ?? "runner",
          image: c?.image ?? "",
          imageID: "",
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              reason: reason ?? (exitCode === 0 ? "Completed" : "Error"),
              ...(message ? { message } : {}),
              startedAt: started,
              finishedAt: now,
            },
          },
        },
      ],
    };
  };

  async function fetchSources(ns: string, pod: k8s.V1Pod, c: k8s.V1Container): Promise<Sources> {
    const refs = referencedSources(pod, c);
    const src: Sources = { secrets: new Map(), configMaps: new Map() };
    const get404 = async <T>(f: () => Promise<T>) =>
      f().catch((err: unknown) => {
        if (err instanceof k8s.ApiException && err.code === 404) return undefined;
        throw err;
      });
    for (const name of refs.secrets) {
      const s = await get404(() => core.readNamespacedSecret({ name, namespace: ns }));
      if (s) src.secrets.set(name, s);
    }
    for (const name of refs.configMaps) {
      const cm = await get404(() => core.readNamespacedConfigMap({ name, namespace: ns }));
      if (cm) src.configMaps.set(name, cm);
    }
    return src;
  }

  // --- running one pod ---
  async function runPod(pod: k8s.V1Pod, run: Run): Promise<void> {
    const ns = pod.metadata?.namespace ?? "";
    const name = pod.metadata?.name ?? "";
    const c = pod.spec?.containers[0];
    const started = new Date();
    if (!c) return;
    const src = await fetchSources(ns, pod, c);
    const envResult = resolveEnv(pod, c, src);
    const mounts: { from: string; to: string }[] = [];
    let setupError = envResult.ok ? undefined : envResult.message;
    for (const v of pod.spec?.volumes ?? []) {
      if (setupError) break;
      const r = volumeFiles(v, src);
      if (!r.ok) {
        setupError = r.message;
        break;
      }
      const dir = join(run.dir, "volumes", v.name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (r.volume.kind === "files") {
        for (const f of r.volume.files) {
          const p = join(dir, f.path);
          await mkdir(dirname(p), { recursive: true, mode: 0o700 });
          await writeFile(p, f.content, { mode: f.mode });
          await chmod(p, f.mode);
        }
      }
      for (const m of c.volumeMounts ?? []) {
        if (m.name === v.name) mounts.push({ from: m.mountPath, to: m.subPath ? join(dir, m.subPath) : dir });
      }
    }
    if (setupError || !envResult.ok) {
      // The kubelet would keep the pod waiting (CreateContainerConfigError); a test wants the
      // answer now, so the pod fails with the reason.
      log(`pod ${ns}/${name} cannot start: ${setupError ?? ""}`);
      await writeStatus(ns, name, (p) =>
        terminatedStatus(p, 128, setupError ?? "", started, "CreateContainerConfigError"),
      );
      return;
    }
    const terminationLog = join(run.dir, "termination-log");
    await writeFile(terminationLog, "");
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: run.dir,
      TMPDIR: join(run.dir, "tmp"),
      HOSTNAME: name,
      ...rewritePaths(envResult.env, mounts),
      IPSOLIS_TERMINATION_LOG: terminationLog,
    };
    await mkdir(env.TMPDIR, { recursive: true, mode: 0o700 });
    await writeStatus(ns, name, (p) => runningStatus(p, started));
    if (run.killed) return;
    const cmd = opts.command ?? [process.execPath, runnerMain];
    const out = createWriteStream(join(run.dir, "container.log"));
    const child = spawn(cmd[0] ?? process.execPath, cmd.slice(1), {
      cwd: run.dir,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    run.child = child;
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    log(`pod ${ns}/${name} running (pid ${child.pid ?? "?"})`);
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve) => {
        child.on("error", (err) => {
          log(`pod ${ns}/${name}: ${err.message}`);
          resolve({ code: 127, signal: null });
        });
        child.on("close", (c2, s) => resolve({ code: c2, signal: s }));
      },
    );
    out.end();
    const exitCode = code ?? (signal === "SIGKILL" ? 137 : 143);
    const message = (await readFile(terminationLog, "utf8")).slice(0, 4096);
    log(`pod ${ns}/${name} exited ${exitCode}${run.killed ? " (killed)" : ""}`);
    await writeStatus(ns, name, (p) => terminatedStatus(p, exitCode, message, started));
  }

  function killTree(run: Run, graceSeconds: number) {
    run.killed = true;
    const pid = run.child?.pid;
    if (pid === undefined || run.child?.exitCode !== null) return;
    const kill = (target: number, sig: NodeJS.Signals) => {
      try {
        process.kill(target, sig);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") log(`kill ${target}: ${String(err)}`);
      }
    };
    // SIGTERM to the runner lets it stop its step and report, as in a pod. A pod's PID
    // namespace would take every process with it; here the steps run in their own process
    // groups, so after the grace every descendant still alive is killed by pid.
    kill(-pid, "SIGTERM");
    setTimeout(
      () => {
        const all = descendantsOf(pid);
        kill(-pid, "SIGKILL");
        for (const d of all) kill(d, "SIGKILL");
      },
      Math.max(0, graceSeconds) * 1000,
    ).unref();
  }

  async function onPod(pod: k8s.V1Pod) {
    if (stopped) return;
    const uid = pod.metadata?.uid ?? "";
    const ns = pod.metadata?.namespace ?? "";
    const name = pod.metadata?.name ?? "";
    if (pod.metadata?.labels?.[RUNNER_LABEL] !== "true") return;
    if (pod.metadata?.deletionTimestamp) {
      if (pod.spec?.nodeName !== nodeName) return;
      if (handled.has(`deleting:${uid}`)) return;
      handled.add(`deleting:${uid}`);
      // As the kubelet does: stop the containers, then finish the deletion (grace 0).
      const run = runs.get(uid);
      if (run) {
        killTree(run, pod.spec?.terminationGracePeriodSeconds ?? 30);
        await run.done;
      }
      await core
        .deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0, body: { preconditions: { uid } } })
        .catch((err: unknown) => {
          if (!(err instanceof k8s.ApiException && (err.code === 404 || err.code === 409))) throw err;
        });
      return;
    }
    const phase = pod.status?.phase;
    if (handled.has(uid) || (phase !== undefined && phase !== "Pending")) return;
    if (pod.spec?.nodeName && pod.spec.nodeName !== nodeName) return;
    handled.add(uid);
    if (!pod.spec?.nodeName) {
      await core.createNamespacedPodBinding({
        name,
        namespace: ns,
        body: { metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: nodeName } },
      });
    }
    const dir = await mkdtemp(join(tmpdir(), "ipsolis-pod-"));
    const run: Run = { dir, killed: false, done: Promise.resolve() };
    runs.set(uid, run);
    run.done = runPod(pod, run)
      .catch((err: unknown) => log(`pod ${ns}/${name} failed to run: ${errText(err)}`))
      .finally(async () => {
        runs.delete(uid);
        await rm(dir, { recursive: true, force: true });
      });
  }

  // --- watching pods (list + watch, restarted on error) ---
  const path = opts.namespace ? `/api/v1/namespaces/${opts.namespace}/pods` : "/api/v1/pods";
  const list = () =>
    opts.namespace
      ? core.listNamespacedPod({ namespace: opts.namespace, labelSelector: `${RUNNER_LABEL}=true` })
      : core.listPodForAllNamespaces({ labelSelector: `${RUNNER_LABEL}=true` });
  const informer = k8s.makeInformer<k8s.V1Pod>(kc, path, list, `${RUNNER_LABEL}=true`);
  const handle = (p: k8s.V1Pod) => {
    onPod(p).catch((err: unknown) =>
      log(`pod ${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}: ${errText(err)}`),
    );
  };
  informer.on("add", handle);
  informer.on("update", handle);
  informer.on("delete", (p) => {
    // Deleted without a grace period (or missed the update): kill what still runs.
    const run = runs.get(p.metadata?.uid ?? "");
    if (run) killTree(run, 0);
  });
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    log(`pod watch failed, restarting: ${String(err)}`);
    setTimeout(() => {
      if (!stopped) informer.start().catch((e: unknown) => log(`pod watch restart failed: ${String(e)}`));
    }, 1000);
  });
  await informer.start();
  log(`node ${nodeName} ready${opts.namespace ? ` (namespace ${opts.namespace})` : ""}`);

  return {
    nodeName,
    async stop() {
      stopped = true;
      clearInterval(heartbeatTimer);
      await informer.stop();
      for (const run of runs.values()) killTree(run, 0);
      await Promise.all([...runs.values()].map((r) => r.done));
    },
  };
}
