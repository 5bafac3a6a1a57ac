// Chromium for the browser tests (Debian's package, driven by playwright-core): the skip when it
// is not installed, the launch, axe-core (WCAG 2.1 AA, serious and critical only) and the
// screenshots at laptop and phone width, kept as artefacts in $IPSOLIS_ARTIFACTS or the temp dir.
import type { TestContext } from "node:test";
import { access, mkdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
const AXE = join(import.meta.dirname, "../../node_modules/axe-core/axe.min.js");

type AxeResult = {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
};

/**
 * Skips the test, saying why and how to fix it, when Chromium is not installed; otherwise makes
 * the artefacts folder `area` and returns its path.
 */
export async function chromiumOrSkip(t: TestContext, area: string): Promise<string | undefined> {
  const have = await access(CHROMIUM).then(
    () => true,
    () => false,
  );
  if (!have) {
    t.skip(`${CHROMIUM} not installed (apt-get install chromium)`);
    return undefined;
  }
  const dir = join(process.env.IPSOLIS_ARTIFACTS ?? join(tmpdir(), "ipsolis-artifacts"), area);
  await mkdir(dir, { recursive: true });
  t.diagnostic(`screenshots in ${dir}`);
  return dir;
}

/** Headless Chromium; `args` are added to the usual flags. The caller closes it. */
export function launchChromium(args: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      ...args,
    ],
  });
}

/** axe-core on the current page (evaluated as source: the page's CSP forbids injected script tags). */
export async function checkAxe(page: Page, name: string, found: string[]): Promise<void> {
  const src = await readFile(AXE, "utf8");
  const result = await page.evaluate<AxeResult>(
    `(async () => { ${src}; return await axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }); })()`,
  );
  for (const v of result.violations)
    if (v.impact === "serious" || v.impact === "critical")
      found.push(
        `${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
      );
}

export type ShootOptions = {
  /** Run axe-core first (default true). */
  axe?: boolean;
  /** The whole page (default) or only the viewport (for very long pages). */
  fullPage?: boolean;
  /** Report a page that scrolls sideways at 360 px (default true). */
  sideways?: boolean;
};

/** `<dir>/<name>-1280.png` and `-360.png`; findings (axe, sideways scrolling) go to `found`. */
export async function shoot(
  page: Page,
  dir: string,
  name: string,
  found: string[],
  opts: ShootOptions = {},
): Promise<void> {
  if (opts.axe ?? true) await checkAxe(page, name, found);
  for (const [w, h] of [
    [1280, 800],
    [360, 740],
  ] as const) {
    await page.setViewportSize({ width: w, height: h });
    // No horizontal scrolling of the page itself at phone width (wide tables scroll in their box).
    if (w === 360 && (opts.sideways ?? true)) {
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      if (overflow > 2) found.push(`${name}: the page scrolls sideways at 360 px by ${overflow} px`);
    }
    await page.screenshot({ path: join(dir, `${name}-${w}.png`), fullPage: opts.fullPage ?? true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}
