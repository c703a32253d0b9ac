// The console benchmark: a 400-node workflow opens from a deep link and pans smoothly, in a real chromium.
import { chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const LARGE_WORKFLOW_NODES = 400;
/** How long frames are counted while the canvas is dragged. */
const PAN_MS = 1_500;

export interface ConsoleTimings {
  /** From navigating to the deep link until the first canvas node is drawn. */
  openMs: number;
  /** Intervals between animation frames while panning: 16.7 ms at 60 Hz is perfectly smooth. */
  medianFrameMs: number;
  p95FrameMs: number;
  frames: number;
}

/** The largest workflow a person may build: 400 nodes (shell and python), each feeding up to three below it. */
export function largeWorkflowDefinition(name: string) {
  return {
    name,
    nodes: Array.from({ length: LARGE_WORKFLOW_NODES }, (_, i) => ({ name: `n${i}`, type: i % 2 ? "shell" : "python", code: `echo ${i}` })),
    edges: Array.from({ length: LARGE_WORKFLOW_NODES - 1 }, (_, i) => ({ from: `n${Math.floor(i / 3)}`, to: `n${i + 1}` })),
  };
}

async function createWorkflow(url: string, adminKey: string, definition: unknown): Promise<string> {
  const res = await fetch(`${url}/api/v1/workflows`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(definition),
  });
  if (res.status !== 201) throw new Error(`creating the ${LARGE_WORKFLOW_NODES}-node workflow: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

const frameGaps = (sorted: number[], at: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * at))] ?? 0;

/**
 * A point of the canvas with no node, edge or control on it, nearest the centre: a drag that starts
 * on a node would move that node (and change the draft) instead of panning.
 */
async function emptyPanePoint(page: Page): Promise<[number, number]> {
  const found = (await page.evaluate(`(() => {
    const pane = document.querySelector(".svelte-flow__pane").getBoundingClientRect();
    const points = [];
    for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) points.push([pane.left + (pane.width * i) / 20, pane.top + (pane.height * j) / 20]);
    const centre = [pane.left + pane.width / 2, pane.top + pane.height / 2];
    points.sort((a, b) => Math.hypot(a[0] - centre[0], a[1] - centre[1]) - Math.hypot(b[0] - centre[0], b[1] - centre[1]));
    return points.find(([x, y]) => document.elementFromPoint(x, y)?.classList.contains("svelte-flow__pane")) ?? null;
  })()`)) as [number, number] | null;
  if (!found) throw new Error("the canvas has no empty spot to drag");
  return found;
}

/** Opens the workflow in a signed-in tab, then drags the canvas while counting animation frames. */
async function openAndPan(page: Page, url: string, workflowId: string): Promise<ConsoleTimings> {
  const opening = performance.now();
  await page.goto(`${url}/workflows/${workflowId}`);
  await page.locator(".svelte-flow__node").first().waitFor();
  const openMs = Math.round(performance.now() - opening);

  const viewport = () => page.locator(".svelte-flow__viewport").getAttribute("style");
  const before = await viewport();
  const frames = page.evaluate(`(async () => {
    const gaps = [];
    let last = performance.now();
    let running = true;
    const tick = (t) => { gaps.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    await new Promise((r) => setTimeout(r, ${PAN_MS}));
    running = false;
    return gaps;
  })()`) as Promise<number[]>;
  const [x, y] = await emptyPanePoint(page);
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 0; i < 30; i++) await page.mouse.move(x - i * 12, y - i * 8);
  await page.mouse.up();
  // The first gap is from before the drag started.
  const gaps = (await frames).slice(1).sort((a, b) => a - b);
  // A drag that moves nothing would time an idle page: refuse to report it.
  if ((await viewport()) === before) throw new Error("the canvas did not pan when dragged");
  return { openMs, medianFrameMs: frameGaps(gaps, 0.5), p95FrameMs: frameGaps(gaps, 0.95), frames: gaps.length };
}

/**
 * Creates a 400-node workflow through the API, opens it in the console from a deep link and pans
 * its canvas. With `page`, a tab already signed in (the e2e journey's) does it; otherwise a headless
 * chromium is launched, signed in with the key, and closed again.
 */
export async function measureLargeWorkflow(url: string, adminKey: string, options: { page?: Page; name?: string } = {}): Promise<ConsoleTimings> {
  const workflowId = await createWorkflow(url, adminKey, largeWorkflowDefinition(options.name ?? `bench_console_${Date.now()}`));
  if (options.page) return openAndPan(options.page, url, workflowId);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(60_000);
    await page.goto(`${url}/signin`);
    await page.getByLabel("API key").fill(adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((to) => !to.pathname.startsWith("/signin"));
    return await openAndPan(page, url, workflowId);
  } finally {
    await browser.close();
  }
}
