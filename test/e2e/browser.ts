// The console journeys' browser: Debian's chromium driven by playwright-core, one persistent profile per journey.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ROOT } from "../../scripts/stack.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "docs/screenshots");

/** Fails at once, saying what to do, when the console is not built or chromium is missing. */
export function requireConsoleAndChromium(): void {
  if (!existsSync(join(ROOT, "web/build/index.html"))) throw new Error("the console is not built: run `npm run build:web` first");
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`);
}

export interface ConsoleBrowser {
  browser: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A headless chromium with a fresh profile and a desktop viewport; screenshots go to docs/screenshots. */
export async function openConsoleBrowser(name: string): Promise<ConsoleBrowser> {
  const profile = mkdtempSync(join(tmpdir(), `sluice-chromium-${name}-`));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    page,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
