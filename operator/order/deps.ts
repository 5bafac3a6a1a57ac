// What the order controller works with: the watched caches (its only source of reads), the
// REST client for writes, and small "expectations" that cover the gap between our own write
// and its watch event (as controller-runtime does), so a fast second reconcile neither repeats
// a create nor undoes a lock it cannot see yet.
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../../record/log.ts";
import type { Cache } from "../kube/informer.ts";
import type { Rest } from "../kube/rest.ts";
import type { OperatorMetrics } from "../metrics.ts";
import type { JobConfig } from "./job.ts";
import type { AssetType, Order, Runbook } from "./model.ts";

export type AssetObject = {
  metadata?: k8s.V1ObjectMeta;
  spec: { assetType: string; slot?: number; order: string; requesterId: string };
};

export type Caches = {
  orders: Cache<Order & { metadata: k8s.V1ObjectMeta & { name: string } }>;
  assetTypes: Cache<AssetType>;
  runbooks: Cache<Runbook>;
  jobs: Cache<k8s.V1Job>;
  pods: Cache<k8s.V1Pod>;
  leases: Cache<k8s.V1Lease>;
  assets: Cache<AssetObject>;
};

export type Expectations = {
  job(name: string): void;
  /** True when we created the Job and the cache has not shown it yet. */
  jobPending(name: string, inCache: boolean): boolean;
  /** Record the holder we just wrote to a lock Lease (undefined: we deleted it). */
  lock(lease: string, holder: string | undefined): void;
  lockHolder(lease: string): string | undefined;
  /** The lock's holder as we know it: the cache once it caught up, else what we wrote. */
  holderOf(lease: string, cached: k8s.V1Lease | undefined): string | undefined;
  /** After a status write: until the cache moves past `before`, the cached Order is stale. */
  wrote(order: string, before: string | undefined, after: string | undefined): void;
  isStale(order: string, cachedVersion: string | undefined): boolean;
};

export function makeExpectations(): Expectations {
  const jobs = new Set<string>();
  const locks = new Map<string, string | null>();
  const writes = new Map<string, string>();
  return {
    job: (name) => void jobs.add(name),
    jobPending(name, inCache) {
      if (inCache) jobs.delete(name);
      return !inCache && jobs.has(name);
    },
    lock: (lease, holder) => void locks.set(lease, holder ?? null),
    lockHolder: (lease) => locks.get(lease) ?? undefined,
    holderOf(lease, cached) {
      const want = locks.get(lease);
      const have = cached?.spec?.holderIdentity ?? null;
      if (want === undefined) return have ?? undefined;
      if (want === have) {
        locks.delete(lease);
        return have ?? undefined;
      }
      return want ?? undefined;
    },
    wrote(order, before, after) {
      if (before && after && before !== after) writes.set(order, before);
    },
    isStale(order, cachedVersion) {
      const before = writes.get(order);
      if (before === undefined) return false;
      if (before === cachedVersion) return true;
      writes.delete(order);
      return false;
    },
  };
}

export type OrderDeps = {
  namespace: string;
  identity: string;
  rest: Rest;
  caches: Caches;
  expect: Expectations;
  enqueue(name: string): void;
  enqueueAfter(name: string, ms: number): void;
  clock(): Date;
  log: Logger;
  jobConfig: JobConfig;
  /** HMAC secret for per-Job ingest tokens (record/ingest-token.ts); none disables ingest. */
  ingestSecret?: string;
  metrics: OperatorMetrics;
};
