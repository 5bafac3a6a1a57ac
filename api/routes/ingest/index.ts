// Route area: the runner's step-output ingest (issue #4). `POST /ingest/v1/lines` with the
// Job's own bearer token (record/ingest-token.ts, verified here: the auth plugin leaves
// `ingest` routes to us). Lines are stored in one multi-row INSERT per batch, idempotent on
// (job, seq). Back-pressure instead of unbounded queueing: past the in-flight bound, or while
// Postgres is away, the answer is 429/503 with Retry-After and the runner retries; a 200 is
// only sent after the batch committed, so an acknowledged line is never lost.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { verifyIngestToken } from "../../../record/ingest-token.ts";
import { storeLines } from "../../../record/step-output.ts";
import { InputError, UnavailableError } from "../../../record/errors.ts";
import type { OrderSpec, OrderStatus } from "../../../crds/generated/order.ts";
import { resourcesOf } from "../../plugins/resources.ts";

/** Phases after which no attempt runs (a retry moves the Order on with a new Job first). */
const FINISHED = new Set(["Provisioned", "Failed", "Cancelled", "Revoked"]);

export const MAX_LINES_PER_BATCH = 5000;
/** Lines being written at once across all requests; beyond it new batches get 429. */
export const MAX_IN_FLIGHT_LINES = 50_000;
/** Concurrent batches being written (each holds a pooled connection for its transaction). */
export const MAX_IN_FLIGHT_BATCHES = 8;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const Line = z.object({
  // Normalised to UTC: Postgres refuses year 0 and offsets past ±15:59 that the ISO form allows
  // (a 500 the runner would retry forever); out of range is a 400.
  // One pass per line (this runs for every line of every batch): shape, parse, range, UTC.
  ts: z
    .string()
    .max(40)
    .transform((s, ctx) => {
      const t = RFC3339.test(s) ? Date.parse(s) : NaN;
      const d = new Date(t);
      const y = d.getUTCFullYear();
      if (!(y >= 1 && y <= 9999)) {
        ctx.addIssue({ code: "custom", message: "an RFC 3339 time between the years 1 and 9999" });
        return z.NEVER;
      }
      return d.toISOString();
    }),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  kind: z.enum(["step_start", "line", "step_end", "run_end"]),
  /** Absent on run_end. */
  step: z.string().min(1).max(253).optional(),
  attempt: z.number().int().min(0).max(1_000_000).optional(),
  stream: z.enum(["stdout", "stderr"]).optional(),
  text: z
    .string()
    .max(64 * 1024)
    .optional(),
  // The column is a 32-bit integer: a larger value is the runner's bug (400, it gives up), not a 500.
  exitCode: z
    .number()
    .int()
    .min(-(2 ** 31))
    .max(2 ** 31 - 1)
    .optional(),
  state: z.enum(["Succeeded", "Failed", "Skipped"]).optional(),
  message: z.string().max(4096).optional(),
});

const Body = z.object({ lines: z.array(Line).min(1).max(MAX_LINES_PER_BATCH) });
const Err = z.object({ error: z.string(), reason: z.string().optional() });

export const ingestRoutes: FastifyPluginAsyncZod = async (app) => {
  // The hottest body in the product (thousands of lines a second): plain JSON.parse instead of
  // the prototype-poisoning scan, in this plugin only. Safe here: zod rebuilds every object and
  // drops unknown keys (a "__proto__" key included) before anything reads the body.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(
        Object.assign(new InputError(`invalid JSON body: ${(err as Error).message}`), { statusCode: 400 }),
        undefined,
      );
    }
  });
  let inFlightLines = 0;
  let inFlightBatches = 0;

  app.post(
    "/ingest/v1/lines",
    {
      config: { permission: "ingest" },
      bodyLimit: 8 << 20,
      schema: {
        body: Body,
        response: {
          200: z.object({ accepted: z.number().int() }),
          401: Err,
          403: Err,
          409: Err,
          429: Err,
          503: Err,
        },
      },
    },
    async (req, reply) => {
      const secret = app.deps.config?.IPSOLIS_INGEST_SECRET;
      if (!secret) {
        return reply
          .code(503)
          .header("retry-after", "30")
          .send({ error: "ingest is not configured (IPSOLIS_INGEST_SECRET)", reason: "NotConfigured" });
      }
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
      if (!m?.[1]) return reply.code(401).send({ error: "missing bearer token", reason: "TokenMissing" });
      const v = verifyIngestToken(secret, m[1], app.deps.now());
      if (!v.ok) return reply.code(401).send({ error: "invalid ingest token", reason: `Token${v.reason}` });
      if (v.claims.namespace !== app.deps.namespace) {
        return reply.code(403).send({ error: "token is for another namespace", reason: "Forbidden" });
      }
      // Lines are accepted only while the token's attempt may run (#15 item 13): once the Order
      // is finished, or a retry started another Job, a leftover token writes nothing (409, which
      // the runner takes as final). An Order not (yet) carrying a Job name is starting.
      const o = await resourcesOf(app.deps).get<OrderSpec, OrderStatus>("Order", v.claims.order);
      const phase = o?.status?.phase;
      const otherJob = o?.status?.jobName !== undefined && o.status.jobName !== v.claims.job;
      if (o && (otherJob || (phase !== undefined && FINISHED.has(phase)))) {
        return reply.code(409).send({
          error: `the attempt this token was issued for is not running (order ${phase ?? "unknown"}${otherJob ? ", another attempt's Job" : ""}): lines are accepted only while it runs`,
          reason: "AttemptNotRunning",
        });
      }
      const lines = req.body.lines;
      if (inFlightBatches >= MAX_IN_FLIGHT_BATCHES || inFlightLines + lines.length > MAX_IN_FLIGHT_LINES) {
        return reply
          .code(429)
          .header("retry-after", "1")
          .send({ error: "ingest is busy, retry later", reason: "Busy" });
      }
      inFlightBatches++;
      inFlightLines += lines.length;
      try {
        await storeLines(
          app.deps.db,
          { namespace: v.claims.namespace, order: v.claims.order, job: v.claims.job },
          lines,
        );
      } catch (err) {
        if (err instanceof UnavailableError) {
          req.log.warn({ err, job: v.claims.job }, "ingest: database unavailable");
          return reply
            .code(503)
            .header("retry-after", "5")
            .send({ error: "the record is unavailable, retry later", reason: "Unavailable" });
        }
        throw err;
      } finally {
        inFlightBatches--;
        inFlightLines -= lines.length;
      }
      app.metrics.ingestLines.inc(lines.length);
      return { accepted: lines.length };
    },
  );
};
