// The console's Content-Security-Policy and security headers on the real stack, and a browser session that breaks no rule.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startStack, type Stack } from "../../scripts/stack.ts";
import { API_CONTENT_SECURITY_POLICY, COMMON_SECURITY_HEADERS, consoleContentSecurityPolicy, inlineScriptHashes } from "../../worker/core/security-headers.ts";
import { client } from "./client.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let stack: Stack;
let persistTo: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "web/build/_headers"))) throw new Error("the console is not built (no web/build/_headers): run `npm run build:web` first");
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`);
  persistTo = mkdtempSync(join(tmpdir(), "sluice-csp-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "csp-runner", slots: 2 }] });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

function expectCommonHeaders(res: Response, what: string) {
  for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) expect(res.headers.get(name), `${name} on ${what}`).toBe(value);
}

/** Collects every CSP violation the page reports (events), and console messages that speak of one. */
async function watchViolations(page: Page): Promise<{ events: string[]; console: string[] }> {
  const seen = { events: [] as string[], console: [] as string[] };
  await page.exposeFunction("__reportViolation", (v: string) => seen.events.push(v));
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    window.__reportViolation(e.effectiveDirective + " blocked " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber));`);
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) seen.console.push(m.text());
  });
  return seen;
}

describe("console security headers", () => {
  it("sends the policy and the security headers on /, on a deep link and on assets, matching the served page", async () => {
    const home = await fetch(`${stack.url}/`);
    const html = await home.text();
    expect(home.status).toBe(200);
    const policy = consoleContentSecurityPolicy(await inlineScriptHashes(html));
    // The policy names the hash of every inline script the page has (SvelteKit's bootstrap, app.html's theme script).
    expect((await inlineScriptHashes(html)).length).toBeGreaterThanOrEqual(2);
    expect(home.headers.get("content-security-policy")).toBe(policy);
    expectCommonHeaders(home, "/");
    for (const directive of [
      "default-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
      "form-action 'self'",
    ]) {
      expect(policy).toContain(directive);
    }
    expect(policy).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);

    const deep = await fetch(`${stack.url}/workflows/wf_does_not_exist/versions`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    expect(deep.headers.get("content-security-policy")).toBe(policy);
    expectCommonHeaders(deep, "a deep link");

    const script = /<link href="(\/_app\/immutable\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${stack.url}${script}`);
    expect(asset.status).toBe(200);
    expectCommonHeaders(asset, script!);

    // The API answers with the same headers, and a policy under which a JSON answer can load nothing.
    const health = await fetch(`${stack.url}/api/v1/health`);
    expectCommonHeaders(health, "/api/v1/health");
    expect(health.headers.get("content-security-policy")).toBe(API_CONTENT_SECURITY_POLICY);
    // The generated file is what was served.
    expect(readFileSync(join(ROOT, "web/build/_headers"), "utf8")).toContain(`Content-Security-Policy: ${policy}`);
  });

  it("lets a person sign in from a deep link, edit a workflow and follow a debug run live without one violation", async () => {
    const api = client(stack);
    const workflowId = await api.createWorkflow({
      name: "csp_journey",
      nodes: [
        { name: "hello", type: "shell", code: "printf '\\033[1;32mgreen\\033[0m\\n'; sleep 1; echo \"done ${bizdate}\"" },
        { name: "after", type: "python", code: "print('after')" },
      ],
      edges: [{ from: "hello", to: "after" }],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(30_000);
    const violations = await watchViolations(page);
    const frames: string[] = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(String(f.payload))));

    await page.goto(`${stack.url}/workflows/${workflowId}`);
    await page.waitForURL(/\/signin\?next=/);
    await page.getByLabel("API key").fill(stack.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/workflows/${workflowId}$`));
    await page.locator('.svelte-flow__node[data-id="hello"]').click();
    const code = page.getByRole("textbox", { name: "Code of hello" });
    await code.click();
    await page.keyboard.press("End");
    await page.keyboard.insertText("\necho more");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("All changes saved").waitFor();

    await page.getByRole("button", { name: "Debug run" }).click();
    await page.locator("dialog[open]").getByLabel("Run date").fill("20260310");
    await page.locator("dialog[open]").getByRole("button", { name: "Run", exact: true }).click();
    await page.getByRole("tab", { name: /hello/ }).click();
    await page.locator(".run-log pre").filter({ hasText: "done 20260309" }).waitFor({ timeout: 60_000 });
    await page.locator('.svelte-flow__node[data-id="after"] .badge:text-is("succeeded")').waitFor({ timeout: 60_000 });
    // The live status came over the same-origin WebSocket (connect-src 'self'), not the polling fallback.
    expect(frames.some((f) => f.includes('"type":"log"') && f.includes("green"))).toBe(true);
    expect(violations).toEqual({ events: [], console: [] });

    // The policy is really enforced: an injected inline script and an inline event handler do not run.
    // (eval cannot be probed from here: scripts evaluated over the DevTools protocol are exempt from the page's CSP.)
    const injected = await page.evaluate(`(() => {
      const s = document.createElement("script");
      s.textContent = "window.__script = true";
      document.body.append(s);
      const b = document.createElement("button");
      b.setAttribute("onclick", "window.__handler = true");
      document.body.append(b);
      b.click();
      b.remove();
      return { script: window.__script === true, handler: window.__handler === true };
    })()`);
    expect(injected).toEqual({ script: false, handler: false });
    await expect.poll(() => violations.events.map((v) => v.split(" ")[0]).sort()).toEqual(["script-src-attr", "script-src-elem"]);
    expect(violations.console.length).toBeGreaterThanOrEqual(2);
    await page.close();
  });
});
