// Env and volume resolution of the local node (pure).
import { test } from "node:test";
import assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node";
import { resolveEnv, rewritePaths, volumeFiles, type Sources } from "./pod-env.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const src: Sources = {
  secrets: new Map([["s", { data: { k: b64("secret-value") } }]]),
  configMaps: new Map([["c", { data: { k: "cm-value" } }]]),
};
const pod: k8s.V1Pod = {
  metadata: { name: "p", namespace: "n", labels: { app: "x" } },
  spec: { containers: [] },
};
const container = (env: k8s.V1EnvVar[]): k8s.V1Container => ({ name: "c", env });

test("resolveEnv: values, $(VAR) expansion, secret/configMap/field refs", () => {
  const r = resolveEnv(
    pod,
    container([
      { name: "A", value: "a" },
      { name: "B", value: "$(A)-b $$(A) $(MISSING)" },
      { name: "S", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      { name: "C", valueFrom: { configMapKeyRef: { name: "c", key: "k" } } },
      { name: "N", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "L", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: "O", valueFrom: { secretKeyRef: { name: "nope", key: "k", optional: true } } },
    ]),
    src,
  );
  assert.deepEqual(r, {
    ok: true,
    env: { A: "a", B: "a-b $(A) $(MISSING)", S: "secret-value", C: "cm-value", N: "n", L: "x" },
  });
});

test("resolveEnv: a missing required key is an error naming it", () => {
  const r = resolveEnv(
    pod,
    container([{ name: "S", valueFrom: { secretKeyRef: { name: "s", key: "nokey" } } }]),
    src,
  );
  assert.deepEqual(r, { ok: false, message: "couldn't find key nokey in Secret s" });
});

test("volumeFiles: secret files are 0400, items map keys to paths", () => {
  const r = volumeFiles(
    { name: "v", secret: { secretName: "s", defaultMode: 0o644, items: [{ key: "k", path: "dir/f" }] } },
    src,
  );
  assert.ok(r.ok && r.volume.kind === "files");
  assert.deepEqual(
    r.volume.files.map((f) => [f.path, f.content.toString(), f.mode]),
    [["dir/f", "secret-value", 0o400]],
  );
  assert.equal(volumeFiles({ name: "v", hostPath: { path: "/etc" } }, src).ok, false);
  assert.deepEqual(volumeFiles({ name: "token", projected: { sources: [] } }, src), {
    ok: true,
    volume: { kind: "dir" },
  });
});

test("rewritePaths: mount paths at path boundaries, longest first, inside JSON too", () => {
  const env = rewritePaths(
    {
      KEYTAB: "/var/run/kerberos/keytab",
      CC: "FILE:/var/run/ccache/krb5cc",
      PLAN: '{"scriptFile":"/var/run/scripts/0-dir/script"}',
      OTHER: "/var/run/kerberos-not-a-mount/x",
      EXACT: "/var/run/kerberos",
    },
    [
      { from: "/var/run/kerberos", to: "/tmp/k" },
      { from: "/var/run/ccache", to: "/tmp/cc" },
      { from: "/var/run/scripts/0-dir", to: "/tmp/s0" },
      { from: "/var/run", to: "/tmp/run" },
    ],
  );
  assert.deepEqual(env, {
    KEYTAB: "/tmp/k/keytab",
    CC: "FILE:/tmp/cc/krb5cc",
    PLAN: '{"scriptFile":"/tmp/s0/script"}',
    OTHER: "/tmp/run/kerberos-not-a-mount/x",
    EXACT: "/tmp/k",
  });
});

test("Service URLs in env go to a Ready pod behind the Service; 0.0.0.0 becomes the pod's address", async () => {
  const { rewriteServiceUrls, rewriteAnyAddress, probePort, workloadCommand } = await import("./pod-env.ts");
  const svc = [
    {
      name: "ipsolis-api",
      namespace: "ns1",
      ip: "127.9.8.7",
      ports: [{ port: 80, target: 8080 }, { port: 9000 }],
    },
  ];
  assert.deepEqual(
    rewriteServiceUrls(
      {
        A: "http://ipsolis-api.ns1.svc:80/ingest",
        B: "http://ipsolis-api:9000",
        C: "http://ipsolis-api.ns1.svc.cluster.local:80",
        D: "http://other:80",
      },
      svc,
    ),
    {
      A: "http://127.9.8.7:8080/ingest",
      B: "http://127.9.8.7:9000",
      C: "http://127.9.8.7:8080",
      D: "http://other:80",
    },
  );
  assert.deepEqual(rewriteAnyAddress({ H: "0.0.0.0", X: "0.0.0.0:1" }, "127.1.2.3"), {
    H: "127.1.2.3",
    X: "0.0.0.0:1",
  });
  const c = {
    name: "api",
    command: ["node", "api/server.ts"],
    ports: [{ name: "http", containerPort: 8080 }],
  };
  assert.equal(probePort(c, "http"), 8080);
  assert.equal(probePort(c, 81), 81);
  assert.deepEqual(workloadCommand(c, "/bin/node"), { ok: true, cmd: ["/bin/node", "api/server.ts"] });
  assert.equal(workloadCommand({ name: "x", command: ["pwsh"] }, "/bin/node").ok, false);
});
