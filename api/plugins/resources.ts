// The API's access to our custom resources in the product namespace: read, list, server-side
// apply (field manager `ipsolis-api`), merge patch with optimistic concurrency, delete. Every
// client failure is translated into our typed errors where it enters (operator/index.ts).
import { orderIndexLabels } from "../policy/order-index.ts";
import * as k8s from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { translateKubeError } from "../../operator/index.ts";
import { NotFoundError } from "../../record/errors.ts";

export const FIELD_MANAGER = "ipsolis-api";
const GROUP = "ipsolis.io";
const VERSION = "v1alpha1";
const API_VERSION = `${GROUP}/${VERSION}`;
const PLURALS: Readonly<Record<Kind, string>> = {
  AssetType: "assettypes",
  Runbook: "runbooks",
  Order: "orders",
  Asset: "assets",
};

export type Kind = "AssetType" | "Runbook" | "Order" | "Asset";
export type Cr<S, St = unknown> = {
  apiVersion: string;
  kind: string;
  metadata: k8s.V1ObjectMeta & { name: string };
  spec: S;
  status?: St;
};

export type Resources = {
  get<S, St = unknown>(kind: Kind, name: string): Promise<Cr<S, St> | undefined>;
  /**
   * `unpaged`: one request without `limit`, for narrow label selectors. The API server then
   * answers a consistent read from its watch cache, filtering labels in memory; a paged list
   * (with `limit`) goes to etcd, which reads and decodes every object of the namespace.
   */
  list<S, St = unknown>(
    kind: Kind,
    labelSelector?: string,
    opts?: { unpaged?: boolean },
  ): Promise<Cr<S, St>[]>;
  /** Server-side apply of the whole spec (and labels), owned by `ipsolis-api`. */
  apply<S, St = unknown>(
    kind: Kind,
    name: string,
    spec: S,
    labels?: Record<string, string>,
  ): Promise<Cr<S, St>>;
  /** Create only (409 when the name exists). */
  create<S, St = unknown>(
    kind: Kind,
    name: string,
    spec: S,
    labels?: Record<string, string>,
    annotations?: Record<string, string>,
  ): Promise<Cr<S, St>>;
  /** JSON merge patch; with `resourceVersion` the API server refuses a stale write (409). */
  mergePatch<S, St = unknown>(
    kind: Kind,
    name: string,
    patch: object,
    resourceVersion?: string,
  ): Promise<Cr<S, St>>;
  remove(kind: Kind, name: string): Promise<void>;
};

/** `pageSize`: objects per list request (tests make it small to walk the pages). */
export function makeResources(
  kc: KubeConfig,
  namespace: string,
  opts: { pageSize?: number } = {},
): Resources {
  const pageSize = opts.pageSize ?? 500;
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const head = (kind: Kind, name: string) => ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name, namespace },
  });
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        // 429 = the API server's back-pressure (e.g. "storage is (re)initializing" right after a
        // CRD is established): wait as asked, a few times, before giving up.
        if (err instanceof k8s.ApiException && err.code === 429 && attempt < 5) {
          const after = Number((err.headers as Record<string, string> | undefined)?.["retry-after"] ?? "1");
          await new Promise((r) => setTimeout(r, Math.min(Number.isFinite(after) ? after : 1, 2) * 1000));
          continue;
        }
        throw translateKubeError(err, what);
      }
    }
  };
  return {
    async get<S, St>(kind: Kind, name: string) {
      try {
        return await wrap(
          `reading ${kind} ${name}`,
          async () => (await client.read(head(kind, name))) as unknown as Cr<S, St>,
        );
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    },
    async list<S, St>(kind: Kind, labelSelector?: string, opts?: { unpaged?: boolean }) {
      // In pages, so a large namespace is neither one huge response nor cut short. Through the
      // CustomObjectsApi: its plain JSON keeps the list's `continue` token.
      const out: Cr<S, St>[] = [];
      let cont: string | undefined;
      do {
        const page = (await wrap(`listing ${kind}s`, () =>
          custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURALS[kind],
            ...(opts?.unpaged ? {} : { limit: pageSize }),
            ...(labelSelector ? { labelSelector } : {}),
            ...(cont ? { _continue: cont } : {}),
          }),
        )) as { items: Cr<S, St>[]; metadata?: { continue?: string } };
        out.push(...page.items);
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return out;
    },
    apply<S, St>(kind: Kind, name: string, spec: S, labels?: Record<string, string>) {
      const body = { ...head(kind, name), spec } as k8s.KubernetesObject;
      if (labels) body.metadata = { ...body.metadata, labels };
      return wrap(`applying ${kind} ${name}`, async () => {
        const r = await client.patch(
          body,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          k8s.PatchStrategy.ServerSideApply,
        );
        return r as unknown as Cr<S, St>;
      });
    },
    create<S, St>(
      kind: Kind,
      name: string,
      spec: S,
      labels?: Record<string, string>,
      annotations?: Record<string, string>,
    ) {
      const body = { ...head(kind, name), spec } as k8s.KubernetesObject;
      // Every Order, whoever creates it (API, portal, ServiceNow, leaver fan-out), carries the
      // index labels the portal's per-person pages select by.
      const index =
        kind === "Order"
          ? orderIndexLabels((spec as { requester?: { email?: string; manager?: string } }).requester ?? {})
          : {};
      if (labels || kind === "Order") body.metadata = { ...body.metadata, labels: { ...labels, ...index } };
      if (annotations) body.metadata = { ...body.metadata, annotations };
      return wrap(`creating ${kind} ${name}`, async () => {
        const r = await client.create(body, undefined, undefined, FIELD_MANAGER);
        return r as unknown as Cr<S, St>;
      });
    },
    mergePatch<S, St>(kind: Kind, name: string, patch: object, resourceVersion?: string) {
      const h = head(kind, name);
      const body = {
        ...patch,
        apiVersion: h.apiVersion,
        kind,
        metadata: { ...h.metadata, ...(resourceVersion ? { resourceVersion } : {}) },
      };
      return wrap(`patching ${kind} ${name}`, async () => {
        const r = await client.patch(
          body,
          undefined,
          undefined,
          FIELD_MANAGER,
          undefined,
          k8s.PatchStrategy.MergePatch,
        );
        return r as unknown as Cr<S, St>;
      });
    },
    async remove(kind: Kind, name: string) {
      await wrap(`deleting ${kind} ${name}`, () => client.delete(head(kind, name)));
    },
  };
}

const cache = new WeakMap<object, Resources>();
/** One Resources per app (its deps), made on first use. */
export function resourcesOf(deps: { kc: KubeConfig; namespace: string }): Resources {
  let r = cache.get(deps);
  if (!r) {
    r = makeResources(deps.kc, deps.namespace);
    cache.set(deps, r);
  }
  return r;
}
