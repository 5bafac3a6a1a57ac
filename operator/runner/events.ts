// The runner's output contract: one JSON object per line on stdout (and POSTed to the ingest
// endpoint). Pure.
import type { StepState } from "./decide.ts";

export type RunnerEvent = {
  /** RFC 3339 with milliseconds. */
  ts: string;
  /** Per run, increasing from 1 without gaps. */
  seq: number;
  kind: "step_start" | "line" | "step_end" | "run_end";
  /** Step name; absent on run_end. */
  step?: string;
  /** 1-based attempt; 0 for a Skipped step that never started. */
  attempt?: number;
  stream?: "stdout" | "stderr";
  /** A line of output, secrets already masked. */
  text?: string;
  exitCode?: number;
  /** step_end: the attempt's result (Succeeded/Failed) or Skipped; run_end: the run's. */
  state?: StepState;
  message?: string;
};

export type EventInput = Omit<RunnerEvent, "ts" | "seq">;

/** Numbers events in order and stamps them with `now()`. */
export function createSequencer(now: () => Date): (e: EventInput) => RunnerEvent {
  let seq = 0;
  return (e) => ({ ts: now().toISOString(), seq: ++seq, ...e });
}

/** Longest line text carried in one event; longer lines are split. */
export const MAX_LINE_CHARS = 16 * 1024;

/**
 * Splits a stream into lines. Feed chunks; get back complete lines (without the newline, a
 * trailing \r removed). `end()` returns the last partial line, if any.
 */
export function createLineSplitter(): { push(chunk: string): string[]; end(): string[] } {
  let rest = "";
  const cut = (line: string) => {
    const out: string[] = [];
    for (let i = 0; i < line.length; i += MAX_LINE_CHARS) out.push(line.slice(i, i + MAX_LINE_CHARS));
    return out.length > 0 ? out : [""];
  };
  return {
    push(chunk) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      const lines = parts.flatMap((l) => cut(l.endsWith("\r") ? l.slice(0, -1) : l));
      // A line without a newline for a long time still comes out in bounded pieces.
      while (rest.length > MAX_LINE_CHARS) {
        lines.push(rest.slice(0, MAX_LINE_CHARS));
        rest = rest.slice(MAX_LINE_CHARS);
      }
      return lines;
    },
    end() {
      const last = rest;
      rest = "";
      return last.length > 0 ? cut(last.endsWith("\r") ? last.slice(0, -1) : last) : [];
    },
  };
}
