// The local node: stands in for the kubelet in tests and the local demo (never production).
// It registers a Node with a heartbeat (NodeReady condition + Lease in kube-node-lease), binds
// unbound Pods labelled ipsolis.io/runner=true (as a scheduler would), runs the runner as a
// local process with the Pod's env and Secret/ConfigMap/emptyDir volumes in a private temp dir,
// and writes the Pod's status (Running, then Succeeded/Failed with the exit code and the
// termination message), so the real Job controller completes or fails the Job. A deleted Pod
// (e.g. the Job's activeDeadlineSeconds) has its process tree killed.
import * as k8s from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  probePort,
  referencedSources,
  resolveEnv,
  rewritePaths,
  rewriteAnyAddress,
  rewriteServiceUrls,
  volumeFiles,
  workloadCommand,
  type LocalService,
  type Sources,
} from "./pod-env.ts";

export const RUNNER_LABEL = "ipsolis.io/runner";
export const DEFAULT_NODE_NAME = "ipsolis-local-node";
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const runnerMain = join(repoRoot, "operator", "runner", "main.ts");
/** Where in-cluster clients look for the ServiceAccount token, CA and namespace. */
export const SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
export const WORKLOAD_SELECTOR = "app.kubernetes.io/part-of=ipsolis,ipsolis.io/runner!=true";
const HEARTBEAT_MS = 10_000;

export type LocalNodeOptions = {
  kubeconfig: string;
  /** Only Pods in this namespace (tests); all namespaces when omitted. */
  namespace?: string;
  nodeName?: string;
  log: (line: string) => void;
  /** The program run for every runner pod (default: the runner). */
  command?: string[];
  /**
   * Also run the product's own pods (labelled app.kubernetes.io/part-of=ipsolis, not runners:
   * the chart's API, operator and migration Job) as local processes: the container's command and
   * env in the repository (the image's workingDir), the ServiceAccount's projected token and CA
   * where in-cluster configuration reads them (IPSOLIS_IN_CLUSTER_ROOT), KUBERNETES_SERVICE_HOST
   * and _PORT pointing at the API server, readiness probes, restarts for restartPolicy Always.
   */
  workloads?: boolean;
};

export type LocalNode = { readonly nodeName: string; stop(): Promise<void> };

type Run = { child?: ChildProcess; dir: string; killed: boolean; done: Promise<void>; wake?: () => void };

const isWorkload = (p: k8s.V1Pod) =>
  p.metadata?.labels?.["app.kubernetes.io/part-of"] === "ipsolis" &&
  p.metadata.labels[RUNNER_LABEL] !== "true";

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

  type Container = { ready: boolean; restartCount: number; last?: k8s.V1ContainerStateTerminated };
  const runningStatus = (
    p: k8s.V1Pod,
    started: Date,
    c0: Container = { ready: true, restartCount: 0 },
    podIP = "127.0.0.1",
  ) => {
    const c = p.spec?.containers[0];
    const now = new Date();
    const prev = new Map((p.status?.conditions ?? []).map((x) => [x.type, x]));
    const cond = (type: string, ok: boolean): k8s.V1PodCondition => {
      const was = prev.get(type);
      const status = ok ? "True" : "False";
      return { type, status, lastTransitionTime: was?.status === status ? was.lastTransitionTime : now };
    };
    p.status = {
      ...p.status,
      phase: "Running",
      hostIP: "127.0.0.1",
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: p.status?.startTime ?? started,
      conditions: [
        cond("PodScheduled", true),
        cond("Initialized", true),
        cond("ContainersReady", c0.ready),
        cond("Ready", c0.ready),
      ],
      containerStatuses: [
        {
          name: c?.name ?? "runner",
          image: c?.image ?? "",
          imageID: "",
          ready: c0.ready,
          started: true,
          restartCount: c0.restartCount,
          state: { running: { startedAt: started } },
          ...(c0.last ? { lastState: { terminated: c0.last } } : {}),
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
    // Each workload pod gets its own loopback address (127.0.0.0/8 is all loopback on Linux),
    // as each pod has its own IP in a cluster; runner pods keep 127.0.0.1.
    const podIP = isWorkload(pod)
      ? `127.${1 + randomInt(254)}.${randomInt(256)}.${1 + randomInt(254)}`
      : "127.0.0.1";
    const envResult = resolveEnv({ ...pod, status: { ...pod.status, podIP } }, c, src);
    const mounts: { from: string; to: string }[] = [];
    let setupError = envResult.ok ? undefined : envResult.message;
    for (const v of pod.spec?.volumes ?? []) {
      if (setupError) break;
      const r =
        v.projected && isWorkload(pod)
          ? ({ ok: true, volume: { kind: "files", files: await projectedFiles(pod, v, src) } } as const)
          : volumeFiles(v, src);
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
    const workload = isWorkload(pod);
    const extraEnv: Record<string, string> = {};
    let cmd = opts.command ?? [process.execPath, runnerMain];
    let cwd = run.dir;
    if (workload) {
      const w = workloadCommand(c, process.execPath);
      if (!w.ok) {
        log(`pod ${ns}/${name} cannot start: ${w.message}`);
        await writeStatus(ns, name, (p) =>
          terminatedStatus(p, 128, w.message, started, "CreateContainerConfigError"),
        );
        return;
      }
      cmd = w.cmd;
      cwd = repoRoot;
      // In-cluster configuration: the projected token volume's copy, seen through a prefix.
      const sa = mounts.find((m) => m.from.replace(/\/+$/, "") === SERVICEACCOUNT_DIR);
      if (sa) {
        const prefix = join(run.dir, "root");
        await mkdir(join(prefix, dirname(SERVICEACCOUNT_DIR)), { recursive: true, mode: 0o700 });
        await symlink(sa.to, join(prefix, SERVICEACCOUNT_DIR));
        const server = new URL(kc.getCurrentCluster()?.server ?? "https://127.0.0.1:443");
        Object.assign(extraEnv, {
          IPSOLIS_IN_CLUSTER_ROOT: prefix,
          KUBERNETES_SERVICE_HOST: server.hostname,
          KUBERNETES_SERVICE_PORT: server.port || "443",
        });
      }
    }
    const terminationLog = join(run.dir, "termination-log");
    await writeFile(terminationLog, "");
    const services = await listServices(ns);
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: run.dir,
      TMPDIR: join(run.dir, "tmp"),
      HOSTNAME: name,
      ...rewriteServiceUrls(
        workload
          ? rewriteAnyAddress(rewritePaths(envResult.env, mounts), podIP)
          : rewritePaths(envResult.env, mounts),
        services,
      ),
      IPSOLIS_TERMINATION_LOG: terminationLog,
      ...extraEnv,
    };
    await mkdir(env.TMPDIR, { recursive: true, mode: 0o700 });
    const probe = c.readinessProbe?.httpGet;
    const restartAlways = workload && (pod.spec?.restartPolicy ?? "Always") === "Always";
    const state: Container = { ready: !probe, restartCount: 0 };
    for (;;) {
      await writeStatus(ns, name, (p) => runningStatus(p, started, state, podIP));
      if (run.killed) return;
      const out = createWriteStream(join(run.dir, "container.log"), { flags: "a" });
      const child = spawn(cmd[0] ?? process.execPath, cmd.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      run.child = child;
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      log(`pod ${ns}/${name} running (pid ${child.pid ?? "?"})`);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on("error", (err) => {
          log(`pod ${ns}/${name}: ${err.message}`);
          resolve({ code: 127, signal: null });
        });
        child.on("close", (c2, sig) => resolve({ code: c2, signal: sig }));
      });
      // Readiness: the probe's httpGet on the loopback, every periodSeconds; Ready follows it.
      let probing = true;
      const prober = (async () => {
        if (!probe) return;
        const port = probePort(c, probe.port);
        const every = (c.readinessProbe?.periodSeconds ?? 10) * 1000;
        const url = `http://${podIP}:${port ?? 0}${probe.path ?? "/"}`;
        while (probing && !run.killed) {
          const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
            (r) => r.status >= 200 && r.status < 400,
            () => false,
          );
          if (ok !== state.ready && probing) {
            state.ready = ok;
            log(`pod ${ns}/${name} ${ok ? "ready" : "not ready"}`);
            await writeStatus(ns, name, (p) => runningStatus(p, started, state, podIP)).catch(
              (err: unknown) => log(`pod ${ns}/${name} status: ${errText(err)}`),
            );
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, Math.min(every, ok ? every : 500));
            run.wake = () => {
              clearTimeout(t);
              r();
            };
          });
        }
      })();
      const { code, signal } = await exited;
      probing = false;
      run.wake?.();
      await prober;
      out.end();
      const exitCode = code ?? (signal === "SIGKILL" ? 137 : 143);
      const message = (await readFile(terminationLog, "utf8")).slice(0, 4096);
      log(`pod ${ns}/${name} exited ${exitCode}${run.killed ? " (killed)" : ""}`);
      if (!restartAlways || run.killed) {
        await writeStatus(ns, name, (p) => terminatedStatus(p, exitCode, message, started));
        return;
      }
      // restartPolicy Always: as the kubelet, restart with a growing back-off (CrashLoopBackOff).
      const now = new Date();
      state.last = {
        exitCode,
        reason: exitCode === 0 ? "Completed" : "Error",
        startedAt: started,
        finishedAt: now,
        ...(message ? { message } : {}),
      };
      state.ready = !probe;
      const backoff = Math.min(10_000, 500 * 2 ** state.restartCount);
      state.restartCount++;
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        run.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async function listServices(ns: string): Promise<LocalService[]> {
    const list = await core.listNamespacedService({ namespace: ns }).catch(() => ({ items: [] }));
    const pods = (await core.listNamespacedPod({ namespace: ns }).catch(() => ({ items: [] }))).items;
    const isReady = (p: k8s.V1Pod) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True");
    return list.items.map((sv) => {
      const sel = Object.entries(sv.spec?.selector ?? {});
      const behind = sel.length
        ? pods.filter((p) => isReady(p) && sel.every(([k, v]) => p.metadata?.labels?.[k] === v))
        : [];
      const ip = behind[0]?.status?.podIP;
      return {
        name: sv.metadata?.name ?? "",
        namespace: ns,
        ...(ip ? { ip } : {}),
        ports: (sv.spec?.ports ?? []).map((p) => ({
          port: p.port,
          ...(typeof p.targetPort === "number" ? { target: p.targetPort } : {}),
        })),
      };
    });
  }

  /** Files of a projected volume, as the kubelet assembles them (a real token by TokenRequest). */
  async function projectedFiles(pod: k8s.V1Pod, v: k8s.V1Volume, src: Sources) {
    const files: { path: string; content: Buffer; mode: number }[] = [];
    const ns = pod.metadata?.namespace ?? "";
    const mode = v.projected?.defaultMode ?? 0o644;
    for (const s of v.projected?.sources ?? []) {
      if (s.serviceAccountToken) {
        const tr = await core.createNamespacedServiceAccountToken({
          name: pod.spec?.serviceAccountName ?? "default",
          namespace: ns,
          body: {
            spec: {
              audiences: s.serviceAccountToken.audience ? [s.serviceAccountToken.audience] : [],
              expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3600,
              boundObjectRef: {
                apiVersion: "v1",
                kind: "Pod",
                name: pod.metadata?.name ?? "",
                uid: pod.metadata?.uid ?? "",
              },
            },
          },
        });
        files.push({
          path: s.serviceAccountToken.path,
          content: Buffer.from(tr.status?.token ?? ""),
          mode: 0o400,
        });
      } else if (s.configMap) {
        const cm = await core.readNamespacedConfigMap({ name: s.configMap.name ?? "", namespace: ns });
        const items: k8s.V1KeyToPath[] =
          s.configMap.items ?? Object.keys(cm.data ?? {}).map((key) => ({ key, path: key }));
        for (const it of items)
          files.push({ path: it.path, content: Buffer.from(cm.data?.[it.key] ?? ""), mode: it.mode ?? mode });
      } else if (s.secret) {
        const sec =
          src.secrets.get(s.secret.name ?? "") ??
          (await core.readNamespacedSecret({ name: s.secret.name ?? "", namespace: ns }));
        for (const it of s.secret.items ?? Object.keys(sec.data ?? {}).map((key) => ({ key, path: key })))
          files.push({
            path: it.path,
            content: Buffer.from(sec.data?.[it.key] ?? "", "base64"),
            mode: 0o400,
          });
      } else if (s.downwardAPI) {
        const env = resolveEnv(
          pod,
          {
            name: "downward",
            env: (s.downwardAPI.items ?? []).map((it) => ({
              name: it.path,
              valueFrom: it.fieldRef ? { fieldRef: it.fieldRef } : {},
            })),
          },
          src,
        );
        if (!env.ok) throw new Error(env.message);
        for (const [path, value] of Object.entries(env.env))
          files.push({ path, content: Buffer.from(value), mode });
      }
    }
    return files;
  }

  function killTree(run: Run, graceSeconds: number) {
    run.killed = true;
    run.wake?.();
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
    if (pod.metadata?.labels?.[RUNNER_LABEL] !== "true" && !(opts.workloads && isWorkload(pod))) return;
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

  // --- watching pods (list + watch, restarted on error): runners, and with `workloads` ours ---
  const path = opts.namespace ? `/api/v1/namespaces/${opts.namespace}/pods` : "/api/v1/pods";
  const handle = (p: k8s.V1Pod) => {
    onPod(p).catch((err: unknown) =>
      log(`pod ${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}: ${errText(err)}`),
    );
  };
  const watchPods = async (labelSelector: string) => {
    const list = () =>
      opts.namespace
        ? core.listNamespacedPod({ namespace: opts.namespace, labelSelector })
        : core.listPodForAllNamespaces({ labelSelector });
    const informer = k8s.makeInformer<k8s.V1Pod>(kc, path, list, labelSelector);
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
    return informer;
  };
  const informers = [await watchPods(`${RUNNER_LABEL}=true`)];
  if (opts.workloads) informers.push(await watchPods(WORKLOAD_SELECTOR));
  log(`node ${nodeName} ready${opts.namespace ? ` (namespace ${opts.namespace})` : ""}`);

  return {
    nodeName,
    async stop() {
      stopped = true;
      clearInterval(heartbeatTimer);
      await Promise.all(informers.map((i) => i.stop()));
      for (const run of runs.values()) killTree(run, 0);
      await Promise.all([...runs.values()].map((r) => r.done));
    },
  };
}
