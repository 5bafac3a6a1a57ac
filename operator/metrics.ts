// Prometheus metrics of the operator, on a registry of its own (two operators in one test
// process must not share counters). Names follow STYLE.md: ipsolis_<area>_<name>_<unit>.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { PHASES } from "./order/model.ts";

export type OperatorMetrics = {
  registry: Registry;
  reconcileDuration: Histogram<"kind" | "result">;
  jobOutcomes: Counter<"outcome">;
  stepDuration: Histogram<"runbook" | "step">;
  /** Work-queue keys whose handler failed and were put back with a backoff. */
  queueRetries: Counter<"kind">;
};

export function makeMetrics(
  countOrders: () => Map<string, number>,
  opts: {
    /** prom-client's process metrics (CPU, memory, event loop lag, handles), prefixed. */
    defaults?: boolean;
    /** Keys waiting in the work queue (not counting those being handled). */
    queueDepth?: () => number;
    /** Whether this replica holds the leader Lease. */
    isLeader?: () => boolean;
  } = {},
): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: "ipsolis_operator_" });
  const { queueDepth, isLeader } = opts;
  if (queueDepth)
    new Gauge({
      name: "ipsolis_operator_queue_depth",
      help: "Keys waiting in the operator's work queue.",
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    });
  if (isLeader)
    new Gauge({
      name: "ipsolis_operator_leader",
      help: "1 while this replica holds the leader Lease (reconciles and starts Jobs), else 0.",
      registers: [registry],
      collect() {
        this.set(isLeader() ? 1 : 0);
      },
    });
  new Gauge({
    name: "ipsolis_operator_orders",
    help: "Orders in the watched namespace by phase (from the operator's cache).",
    labelNames: ["phase"],
    registers: [registry],
    collect() {
      const counts = countOrders();
      for (const p of ["New", ...PHASES]) this.set({ phase: p }, counts.get(p) ?? 0);
    },
  });
  return {
    registry,
    reconcileDuration: new Histogram({
      name: "ipsolis_operator_reconcile_duration_seconds",
      help: "Time of one reconcile (observe, decide, apply).",
      labelNames: ["kind", "result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    jobOutcomes: new Counter({
      name: "ipsolis_operator_job_outcomes_total",
      help: "Finished runs by outcome (succeeded, failed, deadline_exceeded).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: "ipsolis_operator_step_duration_seconds",
      help: "Duration of runbook steps, from the runner's summary.",
      labelNames: ["runbook", "step"],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    queueRetries: new Counter({
      name: "ipsolis_operator_queue_retries_total",
      help: "Reconciles that failed and were retried with a backoff, by key kind (order, runbook, assettype, run).",
      labelNames: ["kind"],
      registers: [registry],
    }),
  };
}
