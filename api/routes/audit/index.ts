// Route area: the audit log (filter, cursor pagination, CSV export) and an order's step-output
// log, followed live as server-sent events from Postgres LISTEN/NOTIFY (issue #4).
import { PassThrough } from "node:stream";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { auditCsv, searchAudit, verifyAudit, type AuditSearch } from "../../audit/service.ts";
import { readOrderLog, type StoredLine } from "../../../record/step-output.ts";
import { createLogListener } from "../../../record/log-listener.ts";
import { visibleOrder } from "../orders/index.ts";
import { aclScopeFor } from "../../plugins/acl.ts";
import { NotFoundError } from "../../../record/errors.ts";
import { K8sName } from "../catalog/schemas.ts";

const HEARTBEAT_MS = 15_000;
/** Unsent SSE bytes one follower may hold before it is cut off (see `reset`). */
export const MAX_FOLLOW_BUFFER_BYTES = 4 << 20;
/** How long a follower holds a job's lines behind a gap (a batch still in flight) before passing it over. */
export const FOLLOW_GAP_MS = 2000;

export const AuditQuery = z.object({
  actor: z.string().min(1).optional(),
  order: z.string().min(1).optional(),
  target: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(200).optional(),
  format: z.enum(["json", "csv"]).default("json"),
});

export const AuditItem = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  order: z.string().nullable(),
  requestId: z.string().nullable(),
  source: z.string(),
  data: z.record(z.string(), z.unknown()),
  hash: z.string(),
});

export const LogLine = z.object({
  namespace: z.string(),
  order: z.string(),
  job: z.string(),
  seq: z.number(),
  ts: z.string(),
  kind: z.string(),
  step: z.string().optional(),
  attempt: z.number().optional(),
  stream: z.string().optional(),
  text: z.string().optional(),
  exitCode: z.number().optional(),
  state: z.string().optional(),
  message: z.string().optional(),
});

export function filterOf(q: Omit<z.infer<typeof AuditQuery>, "limit" | "format">): AuditSearch {
  return {
    actor: q.actor,
    order: q.order,
    target: q.target,
    action: q.action,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
  };
}

/**
 * The same visibility as the order itself (api/routes/orders: employees their own orders,
 * scoped admins their granted asset types): out of scope looks exactly like missing.
 */
async function checkOrderScope(req: FastifyRequest, name: string): Promise<void> {
  const scoped = req.principal?.role === "employee" || !(await aclScopeFor(req)).all;
  await visibleOrder(req, name).catch((err: unknown) => {
    // An Order deleted from the cluster keeps its log in the record: staff who see every order
    // may still read it; anyone scoped must be able to see the Order itself.
    if (scoped || !(err instanceof NotFoundError)) throw err;
  });
}

function sseEvent(l: StoredLine): string {
  return `id: ${l.job}:${l.seq}\nevent: line\ndata: ${JSON.stringify(l)}\n\n`;
}

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  const listener = createLogListener(app.deps.db, app.deps.log);
  app.addHook("onClose", async () => listener.close());

  app.get(
    "/audit",
    {
      config: { permission: "audit:read" },
      schema: {
        querystring: AuditQuery,
        // JSON: { items: AuditItem[], next }; CSV is streamed (no serializer).
        response: { 200: z.unknown().describe("{ items, next } or text/csv") },
      },
    },
    async (req, reply) => {
      const q = req.query;
      if (q.format === "json") return searchAudit(req, filterOf(q), { limit: q.limit, cursor: q.cursor });
      const out = await auditCsv(req, filterOf(q), q.cursor);
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="audit.csv"')
        .send(out);
    },
  );

  // The hash chain's verification through the API (`kubectl ipsolis verify-audit`): the same
  // walk as `node record/verify-audit.ts`, with the anchors the operator keeps. 200 either way:
  // `intact` is the answer; a broken chain names its first broken link.
  const Anchor = z.object({ id: z.string(), hash: z.string(), at: z.string() });
  app.get(
    "/audit/verify",
    {
      config: { permission: "audit:read" },
      schema: {
        response: {
          200: z.object({
            intact: z.boolean(),
            message: z.string(),
            count: z.number().optional(),
            head: z.object({ id: z.string().nullable(), hash: z.string() }).optional(),
            anchorsChecked: z.number().optional(),
            lastAnchor: Anchor.optional(),
            brokenLink: z
              .object({ id: z.string(), field: z.string(), expected: z.string(), found: z.string() })
              .optional(),
            anchorMismatch: z
              .object({ id: z.string(), at: z.string(), anchored: z.string(), found: z.string().nullable() })
              .optional(),
          }),
        },
      },
    },
    async (req) => verifyAudit(req),
  );

  // An order's step output is part of the record: staff who read orders see it at the order,
  // auditors under /audit (same visibility rules, same answer).
  const logRoutes = [
    ["/orders/:name/log", "orders:read"],
    ["/audit/orders/:name/log", "audit:read"],
  ] as const;
  for (const [url, permission] of logRoutes)
    app.get(
      url,
      {
        config: { permission },
        schema: {
          // A Kubernetes name or a 400: the name reaches the API server's path and query.
          params: z.object({ name: K8sName }),
          querystring: z.object({ follow: z.enum(["true", "false"]).default("false") }),
          response: { 200: z.unknown().describe("{ lines: LogLine[] } or text/event-stream") },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const ns = app.deps.namespace;
        const db = app.deps.db;
        await checkOrderScope(req, name);
        if (req.query.follow === "false") return { lines: await readOrderLog(db, ns, name) };

        // Follow: subscribe first, then send the backlog, then every committed batch; a line seen
        // in both (committed between the two) is sent once. The runner may have two batches of
        // plain lines in flight, so batches can commit out of order: each job's lines leave in
        // `seq` order (seqs run from 1 without gaps), a line past a gap waits for it, and a gap
        // still open after FOLLOW_GAP_MS is passed over (a line that fills it later is sent late).
        const out = new PassThrough();
        const sent = new Set<string>();
        const jobs = new Map<
          string,
          { next: number; held: Map<number, StoredLine>; timer?: NodeJS.Timeout }
        >();
        let stopped = false;
        // A client that reads slower than the step writes (or not at all) is cut off with a
        // `reset` event rather than buffered without bound; EventSource reconnects and gets the
        // backlog again. Same when a batch could not be read: a gap must not pass silently.
        const reset = (reason: "SlowClient" | "ReadFailed") => {
          if (stopped) return;
          out.write(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
          stop();
        };
        const emit = (l: StoredLine) => {
          const k = `${l.job}:${l.seq}`;
          if (stopped || sent.has(k)) return;
          sent.add(k);
          out.write(sseEvent(l));
          if (out.writableLength > MAX_FOLLOW_BUFFER_BYTES) reset("SlowClient");
        };
        const drain = (job: string, passGap: boolean) => {
          const j = jobs.get(job);
          if (!j) return;
          for (;;) {
            while (sent.has(`${job}:${j.next}`)) j.next++;
            const l = j.held.get(j.next);
            if (l) {
              j.held.delete(j.next);
              emit(l);
              continue;
            }
            if (!passGap || j.held.size === 0) break;
            let lowest = Infinity;
            for (const seq of j.held.keys()) if (seq < lowest) lowest = seq;
            j.next = lowest;
          }
          if (j.held.size === 0 || stopped) {
            clearTimeout(j.timer);
            j.timer = undefined;
          } else {
            j.timer ??= setTimeout(() => {
              j.timer = undefined;
              drain(job, true);
            }, FOLLOW_GAP_MS);
          }
        };
        const send = (lines: StoredLine[]) => {
          const touched = new Set<string>();
          for (const l of lines) {
            if (stopped) return;
            if (sent.has(`${l.job}:${l.seq}`)) continue;
            let j = jobs.get(l.job);
            if (!j) jobs.set(l.job, (j = { next: 1, held: new Map() }));
            // Behind the cursor: a gap that was passed over, filled late.
            if (l.seq < j.next) emit(l);
            else j.held.set(l.seq, l);
            touched.add(l.job);
          }
          for (const job of touched) drain(job, false);
        };
        let chain = Promise.resolve();
        const unsubscribe = await listener.subscribe(ns, name, (n) => {
          // Serialised: each read is handled after the one before it.
          chain = chain
            .then(async () =>
              send(
                await readOrderLog(
                  db,
                  ns,
                  name,
                  n.resync ? {} : { job: n.job, minSeq: n.minSeq, maxSeq: n.maxSeq },
                ),
              ),
            )
            .catch((err: unknown) => {
              req.log.warn({ err }, "log follow: reading a batch failed");
              reset("ReadFailed");
            });
        });
        const heartbeat = setInterval(() => out.write(": keep-alive\n\n"), HEARTBEAT_MS);
        function stop() {
          if (stopped) return;
          stopped = true;
          clearInterval(heartbeat);
          for (const j of jobs.values()) clearTimeout(j.timer);
          unsubscribe();
          out.end();
        }
        req.raw.once("close", stop);
        out.write(": following\n\n");
        chain = chain.then(async () => send(await readOrderLog(db, ns, name)));
        try {
          await chain;
        } catch (err) {
          stop();
          throw err;
        }
        return reply
          .header("content-type", "text/event-stream; charset=utf-8")
          .header("cache-control", "no-cache")
          .header("x-accel-buffering", "no")
          .send(out);
      },
    );
};
