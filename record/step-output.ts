// Step output in Postgres: the ingest endpoint stores the runner's JSON lines here (one
// multi-row INSERT per batch, idempotent on (namespace, job, seq)), turns step start/end lines
// into audit rows, and NOTIFYs followers once per committed batch.
import type pg from "pg";
import { appendAudit, withoutNul } from "./audit.ts";
import { translatePgError, withTransaction, type Db, type Queryable } from "./db.ts";

/** One line of the runner output contract (see docs/architecture.md). */
export type RunnerLine = {
  ts: string;
  seq: number;
  kind: "step_start" | "line" | "step_end" | "run_end";
  /** Absent on run_end. */
  step?: string | undefined;
  attempt?: number | undefined;
  stream?: "stdout" | "stderr" | undefined;
  text?: string | undefined;
  exitCode?: number | undefined;
  state?: "Succeeded" | "Failed" | "Skipped" | undefined;
  message?: string | undefined;
};

export type StoredLine = RunnerLine & { job: string; order: string; namespace: string };

export const STEP_OUTPUT_CHANNEL = "ipsolis_step_output";

/** What a NOTIFY on STEP_OUTPUT_CHANNEL carries: which rows of which job just committed. */
export type StepOutputNotice = {
  ns: string;
  order: string;
  job: string;
  minSeq: number;
  maxSeq: number;
  /** Notices may have been lost (the listener reconnected): re-read the whole order's log. */
  resync?: true;
};

const STEP_END_ACTION = {
  Succeeded: "step_succeeded",
  Failed: "step_failed",
  Skipped: "step_skipped",
} as const;

/**
 * Stores one batch of one Job's lines in one transaction: rows, their audit rows, the NOTIFY.
 * Returns how many rows were new (a re-delivered batch returns 0 and changes nothing).
 */
export async function storeLines(
  db: Db,
  who: { namespace: string; order: string; job: string },
  lines: readonly RunnerLine[],
): Promise<{ inserted: number }> {
  if (lines.every((l) => l.kind === "line")) {
    const inserted = await insertPlainLines(db, who, lines).catch((err: unknown) => {
      throw translatePgError(err, "storing step output");
    });
    return { inserted };
  }
  return withTransaction(db, async (c) => {
    const inserted = await insertLines(c, who, lines);
    if (inserted.length === 0) return { inserted: 0 };
    for (const l of inserted) {
      if (l.kind === "step_start") {
        await appendAudit(c, {
          actor: `runner:${who.job}`,
          action: "step_started",
          target: `job:${who.job}`,
          order: who.order,
          source: "runner",
          data: { step: l.step, attempt: l.attempt, seq: l.seq, ts: l.ts },
        });
      } else if (l.kind === "step_end") {
        await appendAudit(c, {
          actor: `runner:${who.job}`,
          action: STEP_END_ACTION[l.state ?? "Failed"],
          target: `job:${who.job}`,
          order: who.order,
          source: "runner",
          data: {
            step: l.step,
            attempt: l.attempt,
            seq: l.seq,
            ts: l.ts,
            exitCode: l.exitCode ?? null,
            message: l.message ?? null,
          },
        });
      } else if (l.kind === "run_end") {
        await appendAudit(c, {
          actor: `runner:${who.job}`,
          action: "run_finished",
          target: `job:${who.job}`,
          order: who.order,
          source: "runner",
          data: {
            state: l.state ?? null,
            exitCode: l.exitCode ?? null,
            message: l.message ?? null,
            seq: l.seq,
            ts: l.ts,
          },
        });
      }
    }
    const seqs = inserted.map((l) => l.seq);
    const notice: StepOutputNotice = {
      ns: who.namespace,
      order: who.order,
      job: who.job,
      minSeq: Math.min(...seqs),
      maxSeq: Math.max(...seqs),
    };
    // Delivered to listeners only when this transaction commits.
    await c.query("SELECT pg_notify($1, $2)", [STEP_OUTPUT_CHANNEL, JSON.stringify(notice)]);
    return { inserted: inserted.length };
  }).catch((err: unknown) => {
    throw translatePgError(err, "storing step output");
  });
}

type Row = {
  namespace: string;
  order_name: string;
  job: string;
  seq: string;
  ts: Date;
  kind: RunnerLine["kind"];
  step: string | null;
  attempt: number | null;
  stream: "stdout" | "stderr" | null;
  text: string | null;
  exit_code: number | null;
  state: RunnerLine["state"] | null;
  message: string | null;
};

function fromRow(r: Row): StoredLine {
  return {
    namespace: r.namespace,
    order: r.order_name,
    job: r.job,
    seq: Number(r.seq),
    ts: r.ts.toISOString(),
    kind: r.kind,
    ...(r.step !== null ? { step: r.step } : {}),
    ...(r.attempt !== null ? { attempt: r.attempt } : {}),
    ...(r.stream !== null ? { stream: r.stream } : {}),
    ...(r.text !== null ? { text: r.text } : {}),
    ...(r.exit_code !== null ? { exitCode: r.exit_code } : {}),
    ...(r.state !== null ? { state: r.state } : {}),
    ...(r.message !== null ? { message: r.message } : {}),
  };
}

const COLUMNS =
  "namespace, order_name, job, seq, ts, kind, step, attempt, stream, text, exit_code, state, message";

const INSERT_ROWS = `INSERT INTO step_output_lines (${COLUMNS})
     SELECT $1, $2, $3, u.seq, u.ts, u.kind, u.step, u.attempt, u.stream, u.text, u.exit_code, u.state, u.message
       FROM unnest($4::bigint[], $5::timestamptz[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[],
                   $11::int[], $12::text[], $13::text[])
         AS u(seq, ts, kind, step, attempt, stream, text, exit_code, state, message)`;

/** Idempotent form: a re-delivered line is skipped; RETURNING says which ones were new. */
const INSERT_SQL = `${INSERT_ROWS}
     ON CONFLICT (namespace, job, seq) DO NOTHING
     RETURNING seq`;

/** Postgres' unique_violation: the batch (or part of it) was stored before. */
const UNIQUE_VIOLATION = "23505";

function insertParams(who: { namespace: string; order: string; job: string }, lines: readonly RunnerLine[]) {
  return [
    who.namespace,
    who.order,
    who.job,
    lines.map((l) => l.seq),
    lines.map((l) => l.ts),
    lines.map((l) => l.kind),
    // withoutNul: a script printing binary must not make its batch fail (the runner would retry
    // the refused batch forever and stall the step).
    lines.map((l) => (l.step === undefined ? null : withoutNul(l.step))),
    lines.map((l) => l.attempt ?? null),
    lines.map((l) => l.stream ?? null),
    lines.map((l) => (l.text === undefined ? null : withoutNul(l.text))),
    lines.map((l) => l.exitCode ?? null),
    lines.map((l) => l.state ?? null),
    lines.map((l) => (l.message === undefined ? null : withoutNul(l.message))),
  ];
}

/**
 * The common case, a batch of plain output lines never stored before: one plain INSERT and the
 * NOTIFY in one statement and one round trip (autocommit makes it atomic; the notice is
 * delivered on commit). `ON CONFLICT` costs about a third more per row, so it is only used when
 * the plain INSERT meets a line already stored (the runner re-sent a batch whose answer it lost):
 * the statement then changed nothing, and the idempotent form stores what is new.
 */
async function insertPlainLines(
  db: Db,
  who: { namespace: string; order: string; job: string },
  lines: readonly RunnerLine[],
): Promise<number> {
  let min = Infinity;
  let max = -Infinity;
  for (const l of lines) {
    if (l.seq < min) min = l.seq;
    if (l.seq > max) max = l.seq;
  }
  const notice: StepOutputNotice = {
    ns: who.namespace,
    order: who.order,
    job: who.job,
    minSeq: min,
    maxSeq: max,
  };
  try {
    await db.query(`WITH ins AS (${INSERT_ROWS}) SELECT pg_notify($14, $15)`, [
      ...insertParams(who, lines),
      STEP_OUTPUT_CHANNEL,
      JSON.stringify(notice),
    ]);
    return lines.length;
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
  }
  const r = await db.query<{ n: number }>(
    `WITH ins AS (${INSERT_SQL}),
          agg AS (SELECT count(*)::int AS n, min(seq) AS mn, max(seq) AS mx FROM ins)
     SELECT n, CASE WHEN n > 0 THEN pg_notify($14,
              json_build_object('ns', $1::text, 'order', $2::text, 'job', $3::text, 'minSeq', mn, 'maxSeq', mx)::text)
            END AS notified
       FROM agg`,
    [...insertParams(who, lines), STEP_OUTPUT_CHANNEL],
  );
  return r.rows[0]?.n ?? 0;
}

/** One multi-row INSERT (arrays unnested: one statement and one plan whatever the batch size). */
async function insertLines(
  c: pg.PoolClient,
  who: { namespace: string; order: string; job: string },
  lines: readonly RunnerLine[],
): Promise<RunnerLine[]> {
  // RETURNING only the key: the new lines are the input lines with those seqs (sending every
  // column back would double the work of a batch).
  const r = await c.query<{ seq: string }>(INSERT_SQL, insertParams(who, lines));
  const fresh = new Set(r.rows.map((x) => Number(x.seq)));
  // delete(): a seq repeated inside one batch was stored once, so it counts once.
  return lines.filter((l) => fresh.delete(l.seq)).sort((a, b) => a.seq - b.seq);
}

/** An order's log, ordered per step by (order, job, seq). */
export async function readOrderLog(
  q: Queryable,
  namespace: string,
  order: string,
  opts: { job?: string; minSeq?: number; maxSeq?: number; limit?: number } = {},
): Promise<StoredLine[]> {
  const r = await q
    .query<Row>(
      `SELECT ${COLUMNS} FROM step_output_lines
        WHERE namespace = $1 AND order_name = $2
          AND ($3::text IS NULL OR job = $3)
          AND ($4::bigint IS NULL OR seq >= $4)
          AND ($5::bigint IS NULL OR seq <= $5)
        ORDER BY order_name, job, seq
        LIMIT $6`,
      [namespace, order, opts.job ?? null, opts.minSeq ?? null, opts.maxSeq ?? null, opts.limit ?? 100_000],
    )
    .catch((err: unknown) => {
      throw translatePgError(err, "reading an order's log");
    });
  return r.rows.map(fromRow);
}
