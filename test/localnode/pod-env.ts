// How the local node turns a Pod's container into a local process environment, like the
// kubelet would: env values, $(VAR) expansion, secretKeyRef / configMapKeyRef / fieldRef, and
// volume files. Pure: the caller fetches the Secrets and ConfigMaps.
import type * as k8s from "@kubernetes/client-node";

export type Sources = {
  secrets: Map<string, k8s.V1Secret>;
  configMaps: Map<string, k8s.V1ConfigMap>;
};

/** Names of the Secrets and ConfigMaps the container's env and the pod's volumes refer to. */
export function referencedSources(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
): { secrets: string[]; configMaps: string[] } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
  }
  for (const v of pod.spec?.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    if (v.configMap?.name) configMaps.add(v.configMap.name);
  }
  return { secrets: [...secrets], configMaps: [...configMaps] };
}

const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

function fieldValue(pod: k8s.V1Pod, path: string): string | undefined {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label)
    return (label[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations)?.[label[2] ?? ""];
  const known: Record<string, string | undefined> = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": pod.status?.podIP ?? "127.0.0.1",
    "status.hostIP": "127.0.0.1",
  };
  return known[path];
}

/** $(VAR) refers to an earlier variable; $$(VAR) is a literal $(VAR) (Kubernetes semantics). */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === "$$" ? "$" : name !== undefined && name in env ? (env[name] ?? m) : m,
  );
}

export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; message: string };

export function resolveEnv(pod: k8s.V1Pod, c: k8s.V1Container, src: Sources): EnvResult {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expand(e.value ?? "", env);
      continue;
    }
    const { secretKeyRef, configMapKeyRef, fieldRef } = e.valueFrom;
    if (secretKeyRef) {
      const data = src.secrets.get(secretKeyRef.name ?? "")?.data?.[secretKeyRef.key];
      if (data === undefined) {
        if (secretKeyRef.optional) continue;
        return {
          ok: false,
          message: `couldn't find key ${secretKeyRef.key} in Secret ${secretKeyRef.name ?? ""}`,
        };
      }
      env[e.name] = decode(data);
    } else if (configMapKeyRef) {
      const data = src.configMaps.get(configMapKeyRef.name ?? "")?.data?.[configMapKeyRef.key];
      if (data === undefined) {
        if (configMapKeyRef.optional) continue;
        return {
          ok: false,
          message: `couldn't find key ${configMapKeyRef.key} in ConfigMap ${configMapKeyRef.name ?? ""}`,
        };
      }
      env[e.name] = data;
    } else if (fieldRef) {
      const v = fieldValue(pod, fieldRef.fieldPath);
      if (v === undefined) return { ok: false, message: `unsupported fieldRef ${fieldRef.fieldPath}` };
      env[e.name] = v;
    } else {
      return { ok: false, message: `env ${e.name}: unsupported valueFrom (resourceFieldRef)` };
    }
  }
  return { ok: true, env };
}

/** Files of one volume: relative path → content and mode. */
export type VolumeFiles =
  { kind: "files"; files: { path: string; content: Buffer; mode: number }[] } | { kind: "dir" };

export function volumeFiles(
  v: k8s.V1Volume,
  src: Sources,
): { ok: true; volume: VolumeFiles } | { ok: false; message: string } {
  const pick = (
    data: Record<string, Buffer>,
    items: k8s.V1KeyToPath[] | undefined,
    defaultMode: number,
    optional: boolean | undefined,
    what: string,
  ) => {
    const files: { path: string; content: Buffer; mode: number }[] = [];
    const all: k8s.V1KeyToPath[] = Object.keys(data).map((key) => ({ key, path: key }));
    for (const it of items ?? all) {
      const content = data[it.key];
      if (content === undefined) {
        if (optional) continue;
        return { ok: false as const, message: `${what}: no key ${it.key}` };
      }
      files.push({ path: it.path, content, mode: it.mode ?? defaultMode });
    }
    return { ok: true as const, volume: { kind: "files" as const, files } };
  };
  if (v.secret) {
    const s = src.secrets.get(v.secret.secretName ?? "");
    if (!s)
      return v.secret.optional
        ? { ok: true, volume: { kind: "files", files: [] } }
        : { ok: false, message: `Secret ${v.secret.secretName ?? ""} not found` };
    const data = Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, b]) => [k, Buffer.from(b, "base64")]),
    );
    // Secret files are always 0400 here (the API server defaults defaultMode to 0644, which
    // on a developer's machine would let other local users read them).
    const r = pick(data, v.secret.items, 0o400, v.secret.optional, `Secret ${v.secret.secretName ?? ""}`);
    if (r.ok && r.volume.kind === "files") for (const f of r.volume.files) f.mode = 0o400;
    return r;
  }
  if (v.configMap) {
    const cm = src.configMaps.get(v.configMap.name ?? "");
    if (!cm)
      return v.configMap.optional
        ? { ok: true, volume: { kind: "files", files: [] } }
        : { ok: false, message: `ConfigMap ${v.configMap.name ?? ""} not found` };
    const data = Object.fromEntries(
      Object.entries(cm.data ?? {}).map(([k, t]) => [k, Buffer.from(t, "utf8")]),
    );
    return pick(
      data,
      v.configMap.items,
      v.configMap.defaultMode ?? 0o444,
      v.configMap.optional,
      `ConfigMap ${v.configMap.name ?? ""}`,
    );
  }
  if (v.emptyDir) return { ok: true, volume: { kind: "dir" } };
  // The service-account token volume the API server adds when automountServiceAccountToken is
  // not false: the runner never talks to the API, so an empty directory stands in for it.
  if (v.projected) return { ok: true, volume: { kind: "dir" } };
  return {
    ok: false,
    message: `volume ${v.name}: only secret, configMap and emptyDir volumes run on the local node`,
  };
}

/**
 * Rewrites container paths to their local temp locations in every env value: each occurrence
 * of a mountPath (longest first) at a path boundary. This also covers paths inside JSON values
 * such as the runner's IPSOLIS_PLAN (scriptFile).
 */
export function rewritePaths(
  env: Record<string, string>,
  mounts: { from: string; to: string }[],
): Record<string, string> {
  const sorted = [...mounts].sort((a, b) => b.from.length - a.from.length);
  if (sorted.length === 0) return env;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(
    `(${sorted.map((m) => esc(m.from.replace(/\/+$/, ""))).join("|")})(?=/|$|["'\\s:,;])`,
    "g",
  );
  const to = new Map(sorted.map((m) => [m.from.replace(/\/+$/, ""), m.to]));
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, v.replace(re, (p: string) => to.get(p) ?? p)]),
  );
}

/** A Service of the pod's namespace as the local node maps it: its ports and an endpoint's IP. */
export type LocalService = {
  name: string;
  namespace: string;
  /** A Ready pod behind it (each workload pod has its own loopback address), if any. */
  ip?: string;
  ports: { port: number; target?: number }[];
};

/**
 * Cluster DNS and kube-proxy for local processes: rewrites
 * `scheme://<service>[.<ns>[.svc[.cluster.local]]]:<port>` in env values to the loopback address
 * of a Ready pod behind the Service (127.0.0.1 when none is known) and the numeric targetPort
 * (the port itself when the Service names its target: each pod listens at its containerPort).
 */
export function rewriteServiceUrls(
  env: Record<string, string>,
  services: LocalService[],
): Record<string, string> {
  if (services.length === 0) return env;
  const byHost = new Map<string, LocalService>();
  for (const s of services) {
    for (const h of [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`]) byHost.set(h, s);
    byHost.set(`${s.name}.${s.namespace}.svc.cluster.local`, s);
  }
  const re = /\b([a-z][a-z0-9+.-]*:\/\/)([a-z0-9.-]+):(\d+)/g;
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v.replace(re, (m, scheme: string, host: string, port: string) => {
        const s = byHost.get(host);
        if (!s) return m;
        const p = s.ports.find((x) => x.port === Number(port));
        return `${scheme}${s.ip ?? "127.0.0.1"}:${p?.target ?? port}`;
      }),
    ]),
  );
}

/**
 * A pod's own network: a listen address of 0.0.0.0 means the pod's interfaces only, so on the
 * local node, where each workload pod has its own loopback address, it becomes that address
 * (two pods of a rolling update can then listen on the same port).
 */
export function rewriteAnyAddress(env: Record<string, string>, podIP: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === "0.0.0.0" ? podIP : v]));
}

/**
 * The local process for a workload container (the chart's API, operator, migration Job): the
 * container's command and args, `node` being this Node binary, run in `root` (the repository,
 * which is what the image holds under its workingDir).
 */
export function workloadCommand(
  c: k8s.V1Container,
  nodeBin: string,
): { ok: true; cmd: string[] } | { ok: false; message: string } {
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  if (argv.length === 0)
    return {
      ok: false,
      message: `container ${c.name}: no command (the image's entry point is unknown here)`,
    };
  if (argv[0] !== "node")
    return {
      ok: false,
      message: `container ${c.name}: only node programs run on the local node (${argv[0] ?? ""})`,
    };
  return { ok: true, cmd: [nodeBin, ...argv.slice(1)] };
}

/** The port a probe's httpGet names: a number, or a container port's name. */
export function probePort(c: k8s.V1Container, port: number | string): number | undefined {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}
