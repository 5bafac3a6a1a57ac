// Audit anchors: the hash chain proves that no row changed *relative to the rows after it*, but a
// Postgres superuser could rewrite a row and recompute every hash after it and the head. An
// anchor is the chain head (row id + hash) copied now and then out of Postgres' reach, into a
// ConfigMap the operator keeps (and into the operator's log). `node record/verify-audit.ts
// --anchors-configmap <ns>/<name>` then checks that each anchored row still carries its
// anchored hash: a rewrite of anything up to an anchor is detected.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { translatePgError, type Queryable } from "./db.ts";

export const ANCHOR_CONFIGMAP = "ipsolis-audit-anchors";
const ANCHOR_KEY = "anchors.jsonl";
/** A week of anchors at the default interval (5 min): about 250 KB, well under a ConfigMap's 1 MiB. */
export const DEFAULT_ANCHORS_KEPT = 2016;

export type Anchor = { id: string; hash: string; at: string };

/** The chain head as stored: the newest row's id and hash (id "0" = empty log). */
export async function readChainHead(q: Queryable): Promise<{ id: string; hash: string }> {
  const r = await q
    .query<{ id: string; hash: string }>(
      "SELECT last_id::text AS id, last_hash AS hash FROM audit_chain_head",
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading the audit chain head");
    });
  const h = r.rows[0];
  if (!h) throw new Error("audit_chain_head has no row (migration 0001 not applied?)");
  return h;
}

// ---- pure ----

/** Parses the ConfigMap's lines; a line that is not an anchor is an error (someone edited it). */
export function parseAnchors(text: string): Anchor[] {
  const out: Anchor[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let a: unknown;
    try {
      a = JSON.parse(line);
    } catch {
      throw new Error(`anchor line ${i + 1} is not JSON`);
    }
    const o = a as Partial<Anchor>;
    if (
      typeof o.id !== "string" ||
      !/^\d+$/.test(o.id) ||
      typeof o.hash !== "string" ||
      !/^[0-9a-f]{64}$/.test(o.hash) ||
      typeof o.at !== "string"
    ) {
      throw new Error(`anchor line ${i + 1} is not {"id","hash","at"}`);
    }
    out.push({ id: o.id, hash: o.hash, at: o.at });
  }
  return out;
}

export function formatAnchors(anchors: readonly Anchor[]): string {
  return anchors.map((a) => JSON.stringify({ id: a.id, hash: a.hash, at: a.at })).join("\n") + "\n";
}

/** Appends `next` unless the head has not moved; keeps the newest `keep`. */
export function appendAnchor(anchors: readonly Anchor[], next: Anchor, keep: number): Anchor[] | undefined {
  const last = anchors.at(-1);
  if (next.id === "0" || (last && last.id === next.id && last.hash === next.hash)) return undefined;
  return [...anchors, next].slice(-keep);
}

export type AnchorCheck =
  { ok: true; checked: number } | { ok: false; anchor: Anchor; found: string | null; message: string };

/**
 * Compares anchors with the stored hashes of their rows (`stored`: id → hash, absent = no such
 * row). The first mismatch, oldest anchor first, is the answer.
 */
export function checkAnchors(anchors: readonly Anchor[], stored: ReadonlyMap<string, string>): AnchorCheck {
  const sorted = [...anchors].sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
  for (const a of sorted) {
    const found = stored.get(a.id) ?? null;
    if (found === a.hash) continue;
    return {
      ok: false,
      anchor: a,
      found,
      message:
        found === null
          ? `audit row ${a.id}, anchored at ${a.at}, is gone`
          : `audit row ${a.id} differs from its anchor of ${a.at}: anchored ${a.hash}, found ${found}`,
    };
  }
  return { ok: true, checked: sorted.length };
}

// ---- Kubernetes ----

export async function readAnchorConfigMap(
  kc: k8s.KubeConfig,
  namespace: string,
  name = ANCHOR_CONFIGMAP,
): Promise<Anchor[]> {
  const cm = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedConfigMap({ namespace, name });
  return parseAnchors(cm.data?.[ANCHOR_KEY] ?? "");
}

const isStatus = (err: unknown, code: number) => (err as { code?: number }).code === code;

/**
 * Copies the chain head into the anchor ConfigMap if it moved. Optimistic concurrency: a
 * concurrent writer makes this one a no-op (the next tick tries again).
 */
export async function writeAnchor(d: {
  db: Queryable;
  kc: k8s.KubeConfig;
  namespace: string;
  now: () => Date;
  keep?: number;
}): Promise<Anchor | undefined> {
  const head = await readChainHead(d.db);
  const anchor: Anchor = { id: head.id, hash: head.hash, at: d.now().toISOString() };
  const core = d.kc.makeApiClient(k8s.CoreV1Api);
  let cm: k8s.V1ConfigMap | undefined;
  try {
    cm = await core.readNamespacedConfigMap({ namespace: d.namespace, name: ANCHOR_CONFIGMAP });
  } catch (err) {
    if (!isStatus(err, 404)) throw err;
  }
  const next = appendAnchor(
    parseAnchors(cm?.data?.[ANCHOR_KEY] ?? ""),
    anchor,
    d.keep ?? DEFAULT_ANCHORS_KEPT,
  );
  if (!next) return undefined;
  const body: k8s.V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: ANCHOR_CONFIGMAP,
      namespace: d.namespace,
      labels: { "app.kubernetes.io/managed-by": "ipsolis", "app.kubernetes.io/component": "audit-anchors" },
      annotations: {
        "ipsolis.io/description":
          "Audit chain heads (row id + hash) copied out of Postgres; `node record/verify-audit.ts --anchors-configmap` checks them.",
      },
      ...(cm?.metadata?.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}),
    },
    data: { [ANCHOR_KEY]: formatAnchors(next) },
  };
  try {
    if (cm) await core.replaceNamespacedConfigMap({ namespace: d.namespace, name: ANCHOR_CONFIGMAP, body });
    else await core.createNamespacedConfigMap({ namespace: d.namespace, body });
  } catch (err) {
    if (isStatus(err, 409)) return undefined;
    throw err;
  }
  return anchor;
}

export type AnchorWriter = { stop(): void; tick(): Promise<Anchor | undefined> };

/** Writes an anchor every `intervalMs` while `active()` (the operator's leader); logs each one. */
export function startAnchorWriter(d: {
  db: Queryable;
  kc: k8s.KubeConfig;
  namespace: string;
  log: Logger;
  intervalMs: number;
  active: () => boolean;
  now?: () => Date;
  keep?: number;
}): AnchorWriter {
  let running: Promise<Anchor | undefined> | undefined;
  const tick = async (): Promise<Anchor | undefined> => {
    if (!d.active()) return undefined;
    running ??= writeAnchor({ ...d, now: d.now ?? (() => new Date()) })
      .then((a) => {
        // The log is a second witness outside Postgres.
        if (a) d.log.info({ auditAnchor: a }, "audit anchor written");
        return a;
      })
      .catch((err: unknown) => {
        d.log.warn({ err }, "audit anchor not written; next interval retries");
        return undefined;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void tick(), d.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), tick };
}
