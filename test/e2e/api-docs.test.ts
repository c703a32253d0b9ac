// The API reference page in Chromium: Swagger UI from the Worker's own assets, with every other origin unreachable.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startStack, type Stack } from "../../scripts/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let stack: Stack;
let persistTo: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "web/build/api-docs/index.html"))) throw new Error("the API reference page is not built: run `npm run build:web` first");
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`);
  persistTo = mkdtempSync(join(tmpdir(), "sluice-api-docs-"));
  stack = await startStack({ quiet: true, persistTo, runners: [], cronEveryMs: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

describe("/api/docs", () => {
  it("redirects to the page of the Worker's assets, which carries the console's policy", async () => {
    const res = await fetch(`${stack.url}/api/docs`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/api-docs/");
    const page = await fetch(`${stack.url}/api-docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/api-docs/swagger-ui-bundle.js">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script: the policy needs no hash for it
    expect(html).not.toMatch(/https?:\/\//);
    const policy = page.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'self'");
    expect(policy).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    // Swagger UI asks validator.swagger.io for a badge, but only when the page is not on a local host, so the browser
    // check below cannot see it here: the initializer must turn it off.
    const init = await (await fetch(`${stack.url}/api-docs/api-docs.js`)).text();
    expect(init).toMatch(/validatorUrl:\s*null/);
  });

  it("renders the API's operations offline, under the policy, without a request leaving the Worker", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const origin = new URL(stack.url).origin;
    const offOrigin: string[] = [];
    const requested: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) {
        requested.push(url);
        return route.continue();
      }
      offOrigin.push(url);
      return route.abort("blockedbyclient");
    });
    const violations: string[] = [];
    await page.exposeFunction("__reportViolation", (v: string) => violations.push(v));
    await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportViolation(e.effectiveDirective + " blocked " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber));`);
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on("pageerror", (err) => problems.push(String(err)));

    await page.goto(`${stack.url}/api/docs`);
    expect(new URL(page.url()).pathname).toBe("/api-docs/");
    await page.getByText("Sluice API", { exact: false }).first().waitFor({ timeout: 30_000 });
    // An operation of the document, rendered by Swagger UI: its path and method as opblock elements.
    const workflows = page.locator(".opblock-summary-path", { hasText: /^\/api\/v1\/workflows$/ }).first();
    await workflows.waitFor({ timeout: 30_000 });
    expect(await page.locator(".opblock").count()).toBeGreaterThan(20);
    // Opening one shows its parameters and responses: the bundle's code runs under the policy, not just its first paint.
    await workflows.click();
    await page.locator(".opblock.is-open .responses-wrapper").first().waitFor({ timeout: 10_000 });

    expect(requested.some((u) => u.endsWith("/api/v1/openapi.json"))).toBe(true);
    expect(offOrigin).toEqual([]);
    expect(violations).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
