// Leader election on a coordination.k8s.io/v1 Lease, so two replicas can run and only one
// reconciles. The leader renews every `renewMs`; a standby takes over once the lease has not
// been renewed for `leaseSeconds`. A leader that cannot renew within its own lease stops
// leading before anyone else may start (renew deadline < lease duration).
import type { Logger } from "../../record/log.ts";
import { statusCodeOf, type Rest } from "./rest.ts";

type Lease = {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
};

export type LeaderElection = { isLeader(): boolean; stop(): Promise<void> };

export type LeaderOptions = {
  rest: Rest;
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds?: number;
  renewMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  clock?: () => Date;
};

const micro = (d: Date) => d.toISOString().replace(/Z$/, "000Z");

export function startLeaderElection(o: LeaderOptions): LeaderElection {
  const leaseSeconds = o.leaseSeconds ?? 15;
  const renewMs = o.renewMs ?? 2000;
  const clock = o.clock ?? (() => new Date());
  const path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`;
  let leader = false;
  let lastRenew = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  const setLeader = (v: boolean) => {
    if (v === leader) return;
    leader = v;
    o.log.info({ identity: o.identity, leader: v }, v ? "became leader" : "stopped leading");
    if (v) o.onStartedLeading();
    else o.onStoppedLeading();
  };

  const spec = (now: Date, transitions: number, acquire?: string | null) => ({
    holderIdentity: o.identity,
    leaseDurationSeconds: leaseSeconds,
    acquireTime: acquire ?? micro(now),
    renewTime: micro(now),
    leaseTransitions: transitions,
  });

  const tryOnce = async () => {
    const now = clock();
    let lease: Lease | undefined;
    try {
      lease = await o.rest.call<Lease>({ method: "GET", path: `${path}/${o.name}` });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
    if (!lease) {
      await o.rest.call({
        method: "POST",
        path,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: o.name, namespace: o.namespace },
          spec: spec(now, 0),
        },
      });
      return true;
    }
    const s = lease.spec ?? {};
    const mine = s.holderIdentity === o.identity;
    const renewed = s.renewTime ? Date.parse(s.renewTime) : 0;
    const expired =
      !s.holderIdentity || renewed + (s.leaseDurationSeconds ?? leaseSeconds) * 1000 < now.getTime();
    if (!mine && !expired) return false;
    const transitions = (s.leaseTransitions ?? 0) + (mine ? 0 : 1);
    await o.rest.call({
      method: "PUT",
      path: `${path}/${o.name}`,
      body: { ...lease, spec: spec(now, transitions, mine ? s.acquireTime : undefined) },
    });
    return true;
  };

  const tick = async () => {
    try {
      const held = await tryOnce();
      if (held) lastRenew = Date.now();
      setLeader(held);
    } catch (err) {
      const code = statusCodeOf(err);
      if (code !== 409) o.log.warn({ err }, "leader election round failed");
      // A leader that cannot renew steps down before its lease can expire for others.
      if (leader && Date.now() - lastRenew > (leaseSeconds * 1000 * 2) / 3) setLeader(false);
      else if (code === 409 && !leader) setLeader(false);
    }
  };

  const loop = () => {
    if (stopped) return;
    inflight = tick().finally(() => {
      if (!stopped) timer = setTimeout(loop, renewMs);
    });
  };
  loop();

  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inflight;
      if (leader) {
        // Hand over at once rather than making the standby wait out the lease.
        try {
          const lease = await o.rest.call<Lease>({ method: "GET", path: `${path}/${o.name}` });
          if (lease.spec?.holderIdentity === o.identity) {
            await o.rest.call({
              method: "PUT",
              path: `${path}/${o.name}`,
              body: {
                ...lease,
                spec: { ...lease.spec, holderIdentity: null, renewTime: null, acquireTime: null },
              },
            });
          }
        } catch (err) {
          o.log.warn({ err }, "could not release the leader lease; the standby waits for it to expire");
        }
        setLeader(false);
      }
    },
  };
}
