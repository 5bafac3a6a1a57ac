// A node:test reporter that ends the run with one plain line, "N passed, N failed, N skipped",
// which CI reads as the suite's verdict. Skips and todos count as skipped, never as passed.
type Event = {
  type: string;
  data: { details?: { type?: string }; skip?: unknown; todo?: unknown; nesting?: number };
};

export async function* summaryReporter(source: AsyncIterable<Event>): AsyncGenerator<string> {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const ev of source) {
    // Count leaf tests only: a suite reports pass/fail too, with details.type "suite".
    if (ev.type !== "test:pass" && ev.type !== "test:fail") continue;
    if (ev.data.details?.type === "suite") continue;
    if (ev.data.skip !== undefined || ev.data.todo !== undefined) skipped++;
    else if (ev.type === "test:pass") passed++;
    else failed++;
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}

export { summaryReporter as default };
