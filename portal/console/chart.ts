// Stacked bar charts drawn on the server as SVG (ADR 0012): no script, no style attribute (the
// CSP allows neither inline), readable without colour (every segment has a <title>, and the
// page prints the same numbers in a table under the chart). Pure.
import { html, type SafeHtml } from "../html.ts";

export type Series = { name: string; values: number[] };

// Colour-blind-safe palette (Okabe–Ito), dark enough against white for 3:1 non-text contrast.
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"];

export function colourOf(i: number): string {
  return PALETTE[i % PALETTE.length] ?? "#000000";
}

/** Round axis maximum: 1, 2 or 5 times a power of ten at or above `v`. */
export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function stackedBars(p: {
  id: string;
  title: string;
  labels: string[];
  series: Series[];
  format: (n: number) => string;
  threshold?: { value: number; label: string } | undefined;
}): SafeHtml {
  const W = 720;
  const H = 300;
  const left = 80;
  const bottom = 40;
  const top = 16;
  const plotH = H - bottom - top;
  const plotW = W - left - 10;
  const totals = p.labels.map((_, i) => p.series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = niceMax(Math.max(...totals, p.threshold?.value ?? 0, 0));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const slot = plotW / Math.max(1, p.labels.length);
  const barW = Math.min(60, slot * 0.6);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  return html`<figure class="chart">
    <svg
      viewBox="0 0 ${W} ${H}"
      role="img"
      aria-labelledby="${p.id}-t"
      xmlns="http://www.w3.org/2000/svg"
      focusable="false"
    >
      <title id="${p.id}-t">${p.title}</title>
      ${ticks.map(
        (v) =>
          html`<g>
            <line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#d0d5dd" stroke-width="1" />
            <text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="12" fill="#333"
              >${p.format(v)}</text
            >
          </g>`,
      )}
      ${p.labels.map((label, i) => {
        const x = left + i * slot + (slot - barW) / 2;
        let acc = 0;
        return html`<g>
          ${p.series.map((s, si) => {
            const v = s.values[i] ?? 0;
            if (v <= 0) return "";
            const y0 = y(acc);
            acc += v;
            const y1 = y(acc);
            return html`<rect
              x="${x}"
              y="${y1}"
              width="${barW}"
              height="${Math.max(0, y0 - y1)}"
              fill="${colourOf(si)}"
              ><title>${label}, ${s.name}: ${p.format(v)}</title></rect
            >`;
          })}
          <text x="${x + barW / 2}" y="${H - bottom + 16}" text-anchor="middle" font-size="12" fill="#333"
            >${label}</text
          >
        </g>`;
      })}
      ${
        p.threshold
          ? html`<line
                x1="${left}"
                x2="${W - 10}"
                y1="${y(p.threshold.value)}"
                y2="${y(p.threshold.value)}"
                stroke="#B00020"
                stroke-width="2"
                stroke-dasharray="6 4"
              /><text
                x="${W - 12}"
                y="${y(p.threshold.value) - 4}"
                text-anchor="end"
                font-size="12"
                fill="#B00020"
              >
                ${p.threshold.label}
              </text>`
          : ""
      }
    </svg>
    <figcaption>
      <ul class="legend">
        ${p.series.map(
          (s, i) =>
            html`<li>
              <svg width="12" height="12" aria-hidden="true" focusable="false">
                <rect width="12" height="12" fill="${colourOf(i)}" />
              </svg>
              ${s.name}
            </li>`,
        )}
      </ul>
    </figcaption>
  </figure>`;
}
