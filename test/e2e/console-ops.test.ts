// The console's flow-control and operations journey (DESIGN §2.9, §2.10) in a real browser on the real local stack:
// policy fields, alerts and their log, batch settings, pause/resume/discard, replay, debug run from an event,
// rerun from a node, skipped instances and bulk actions.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { startAlertReceiver, type AlertReceiver } from "./alert-receiver.ts";
import { openConsoleBrowser, requireConsoleAndChromium, SCREENSHOTS, type ConsoleBrowser } from "./browser.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;
let chrome: ConsoleBrowser;
let page: Page;
let api: ReturnType<typeof client>;

let receiver: AlertReceiver;

beforeAll(async () => {
  requireConsoleAndChromium();
  receiver = await startAlertReceiver();
  persistTo = mkdtempSync(join(tmpdir(), "sluice-console-ops-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "ops-runner", slots: 6 }] });
  api = client(stack);
  chrome = await openConsoleBrowser("ops");
  page = chrome.page;
});

afterAll(async () => {
  await chrome?.close();
  await stack?.stop();
  await receiver?.close();
  rmSync(persistTo, { recursive: true, force: true });
});

// ---- helpers ----

/** Polls through the client, well inside the test timeout, then fails with what it last saw. */
const until = <T>(read: () => Promise<T>, done: (value: T) => boolean, what: string) => api.until(read, done, what, 90_000);

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const res = await api.call(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

const events = async (triggerId: string): Promise<any[]> => (await ok("GET", `/api/v1/triggers/${triggerId}/events?limit=100`)).items;
const instances = async (query: string): Promise<any[]> => (await ok("GET", `/api/v1/instances?limit=100&${query}`)).items;
const send = (key: string, value: unknown) => ok("POST", "/api/v1/queues/user-behavior/messages", { key, value });

const FINISHED = ["succeeded", "failed", "terminated", "skipped"];
const nav = (label: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label }).click();
const status = (text: string) => page.locator(`h1 .badge:text-is("${text}")`);
const dialog = () => page.locator("dialog[open]");
const workflowForm = () => page.getByRole("form", { name: "Workflow settings" });

describe("the console's operations", () => {
  it(
    "a user sets flow control and alerts, pauses and replays trigger events, reruns from a node and acts in bulk",
    async () => {
      try {
        await journey();
      } catch (error) {
        const shot = join(tmpdir(), "sluice-console-ops-failure.png");
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        console.error(`console ops journey failed at ${page.url()}; screenshot: ${shot}\n${stack.output.join("").slice(-3000)}`);
        throw error;
      }
    },
    900_000,
  );
});

async function journey() {
  const started = Date.now();
  await page.goto(`${stack.url}/workflows`);
  await page.waitForURL(/\/signin/);
  await page.getByLabel("API key").fill(stack.adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/workflows$/);

  const workflowId = await api.createWorkflow({
    name: "ops_journey",
    nodes: [
      { name: "fetch", type: "shell", code: 'echo "fetch ${workflow.triggerMessage.key:-none}"' },
      { name: "transform", type: "shell", code: 'echo "transform ${workflow.triggerMessage.key:-none}"' },
      { name: "load", type: "shell", code: 'echo "load ${workflow.triggerMessage.key:-none}"' },
    ],
    edges: [
      { from: "fetch", to: "transform" },
      { from: "transform", to: "load" },
    ],
  });
  await flowPolicy(workflowId);
  await alertLog();
  const triggerId = await triggerSettings();
  await selectTriggerAndPublish(workflowId, triggerId);
  await pauseResumeDiscard(triggerId, workflowId);
  await replay(triggerId, workflowId);
  await debugRunFromEvent(workflowId);
  await rerunFromNode(workflowId);
  await skippedAndBulk();
  await batchedEvents(triggerId);
  console.log(`console ops journey: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Concurrency key and limit, overlap, waiting timeout, share and an alert row; a refused URL lands on its field. */
async function flowPolicy(workflowId: string) {
  await page.goto(`${stack.url}/workflows/${workflowId}`);
  await page.locator(".svelte-flow__node").first().waitFor();
  await page.getByRole("tab", { name: "Workflow" }).click();
  const form = workflowForm();
  await form.getByLabel("Concurrency key").fill("${workflow.triggerMessage.key}");
  await form.getByLabel("Limit per key").fill("2");
  await form.getByLabel("When a limit is full").selectOption("skip");
  await form.getByTestId("overlap-help").filter({ hasText: "never starts" }).waitFor();
  await form.getByLabel("Waiting timeout (seconds)").fill("300");
  await form.getByLabel("Share").fill("3");
  // Number fields take their value when left, as a person tabs on; the timeout's help then says it in words.
  await form.getByText("5 min").waitFor();

  await form.getByRole("button", { name: "Add alert" }).click();
  const alert = form.getByRole("group", { name: "Alert 1", exact: true });
  await alert.getByLabel("slow").check();
  await alert.getByLabel("Slow after (seconds)").fill("900");
  await alert.getByLabel("recovered").check();
  // A URL the server refuses: its message is shown on the URL field of that row.
  await alert.getByLabel("URL").fill("not a url");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await alert.locator(".field-error").filter({ hasText: "url" }).waitFor();
  expect(await alert.getByLabel("URL").getAttribute("aria-invalid")).toBe("true");

  await alert.getByLabel("URL").fill(receiver.url);
  await alert.getByLabel("Format").selectOption("standard");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("All changes saved").waitFor();
  const saved = await ok("GET", `/api/v1/workflows/${workflowId}`);
  expect(saved.definition.policy).toMatchObject({
    concurrency: { key: "${workflow.triggerMessage.key}", limit: 2 },
    overlap: "skip",
    waitingTimeoutSeconds: 300,
    share: 3,
    alerts: [{ on: ["failed", "slow", "recovered"], slowAfterSeconds: 900, url: receiver.url, format: "standard" }],
  });
  await form.getByText("Flow control").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOTS, "flow-policy.png") });
}

/** The alert log tab: the signing secret on demand, a test alert delivered to the receiver, its delivery row. */
async function alertLog() {
  await page.getByRole("tab", { name: "Alerts" }).click();
  const log = page.getByRole("region", { name: "Alert log" });
  await log.getByRole("button", { name: "Reveal secret" }).click();
  const secret = await log.getByTestId("alert-secret").inputValue();
  expect(secret).toMatch(/^whsec_/);

  await log.getByRole("button", { name: "Send test alert" }).click();
  await log.getByTestId("alert-test-result").filter({ hasText: "HTTP 200" }).waitFor();
  const row = log.getByTestId("alert-delivery").filter({ hasText: "test" }).first();
  await row.locator('.badge:text-is("delivered")').waitFor();
  await row.getByText("1 attempt").waitFor();
  await row.getByRole("button", { name: "Response" }).click();
  await row.getByText("thanks from the receiver").waitFor();
  // The receiver got a Standard Webhook signed with the secret the console revealed.
  const sample = receiver.received.at(-1)!;
  const verified = new Webhook(secret).verify(sample.body, sample.headers as Record<string, string>) as { type: string; data: { workflow: { name: string } } };
  expect(verified).toMatchObject({ type: "alert.test", data: { workflow: { name: "ops_journey" } } });
  await page.screenshot({ path: join(SCREENSHOTS, "alert-log.png") });
}

/** A queue trigger made in the console with batching (checked through the API), then back to one run per event. */
async function triggerSettings(): Promise<string> {
  await page.goto(`${stack.url}/triggers/new?type=queue`);
  await page.getByLabel("Name", { exact: true }).fill("ops_queue");
  await page.getByLabel("Batch", { exact: true }).check();
  await page.getByText("one run starts when the batch is full").waitFor();
  await page.getByLabel("Max events").fill("3");
  await page.getByLabel("Window (seconds)").fill("20");
  await page.getByRole("region", { name: "Settings" }).screenshot({ path: join(SCREENSHOTS, "trigger-batch-settings.png") });
  await page.getByRole("button", { name: "Create trigger" }).click();
  await page.waitForURL(/\/triggers\/trg_/);
  const triggerId = new URL(page.url()).pathname.split("/").pop()!;
  expect((await ok("GET", `/api/v1/triggers/${triggerId}`)).batch).toEqual({ maxEvents: 3, windowSeconds: 20, key: null });

  // Debounce is the other way to gather; a key the server cannot read is named on its field.
  await page.getByLabel("Debounce", { exact: true }).check();
  await page.getByLabel("Quiet window (seconds)").fill("5");
  await page.getByLabel("Debounce key").fill("${workflow.nope}");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator("label", { hasText: "Debounce key" }).locator(".field-error").waitFor();

  await page.getByLabel("One run per event").check();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  const trigger = await ok("GET", `/api/v1/triggers/${triggerId}`);
  expect([trigger.batch, trigger.debounce]).toEqual([null, null]);
  return triggerId;
}

async function selectTriggerAndPublish(workflowId: string, triggerId: string) {
  const workflow = await ok("GET", `/api/v1/workflows/${workflowId}`);
  await ok("PUT", `/api/v1/workflows/${workflowId}`, { ...workflow.definition, policy: { ...workflow.definition.policy, triggerId } });
  await ok("POST", `/api/v1/workflows/${workflowId}/publish`, { message: "on the queue" });
}

/** Pause keeps events, resume starts them in order and says how many, discard (confirmed) drops the kept ones. */
async function pauseResumeDiscard(triggerId: string, workflowId: string) {
  await page.goto(`${stack.url}/triggers/${triggerId}`);
  const state = page.getByTestId("pause-state");
  await state.getByRole("button", { name: "Pause" }).click();
  await state.locator('.badge:text-is("paused")').waitFor();
  expect((await ok("GET", `/api/v1/triggers/${triggerId}`)).paused).toBe(true);

  await send("u1", { step: "kept-1" });
  await send("u2", { step: "kept-2" });
  await until(() => events(triggerId), (list) => list.filter((e) => e.outcome === "paused").length === 2, "two kept events");
  await state.getByText("(2 waiting)").waitFor();
  await page.locator('tr .badge:text-is("paused")').nth(1).waitFor();
  expect(await instances(`workflowId=${workflowId}`)).toHaveLength(0);
  await page.screenshot({ path: join(SCREENSHOTS, "trigger-pause.png"), fullPage: true });
  // The triggers list shows the pause too.
  await nav("Triggers");
  await page.locator("tbody tr").filter({ hasText: "ops_queue" }).locator('.badge:text-is("paused")').waitFor();
  await page.getByRole("link", { name: "ops_queue" }).click();

  await state.getByRole("button", { name: "Resume" }).click();
  await page.getByTestId("pause-result").filter({ hasText: "Resumed 2 events in arrival order." }).waitFor();
  await state.locator('.badge:text-is("receiving")').waitFor();
  const runs = await until(() => instances(`workflowId=${workflowId}`), (list) => list.length === 2 && list.every((i) => FINISHED.includes(i.status)), "the two resumed runs");
  expect(runs.map((i) => i.status)).toEqual(["succeeded", "succeeded"]);

  // Pause again, keep one, and discard it after confirming.
  await state.getByRole("button", { name: "Pause" }).click();
  await state.locator('.badge:text-is("paused")').waitFor();
  await send("u3", { step: "dropped" });
  await state.getByText("(1 waiting)").waitFor({ timeout: 60_000 });
  await state.getByRole("button", { name: "Discard kept events" }).click();
  await dialog().getByText("The 1 event kept by this pause will never start a run").waitFor();
  await dialog().getByRole("button", { name: "Discard", exact: true }).click();
  await page.getByTestId("pause-result").filter({ hasText: "Discarded 1 kept event" }).waitFor();
  await page.locator('tr .badge:text-is("discarded")').waitFor();
  await state.getByRole("button", { name: "Resume" }).click();
  await state.locator('.badge:text-is("receiving")').waitFor();
  expect(await instances(`workflowId=${workflowId}`)).toHaveLength(2);
}

/** Replay from the event log: the new event's outcome on the row, and the new event names the one it replays. */
async function replay(triggerId: string, workflowId: string) {
  const original = (await events(triggerId)).find((e) => e.outcome === "started" || (e.outcome === "paused" && e.instanceIds.length));
  const first = original ?? (await events(triggerId)).find((e) => e.instanceIds.length > 0);
  expect(first, "an event that started a run").toBeTruthy();
  const row = page.locator(`tr[data-event-id="${first.id}"]`);
  await row.getByRole("button", { name: `Replay event ${first.id}` }).click();
  await row.getByTestId("replay-result").filter({ hasText: "Replayed: started a run." }).waitFor();
  const replayed = await until(() => events(triggerId), (list) => list.some((e) => e.replayOf === first.id), "the replayed event");
  const event = replayed.find((e) => e.replayOf === first.id);
  expect(event.outcome).toBe("started");
  await page.locator(`tr[data-event-id="${event.id}"]`).getByText("replay of").waitFor();
  await until(() => instances(`workflowId=${workflowId}`), (list) => list.length === 3 && list.every((i) => FINISHED.includes(i.status)), "the replay's run");
  await page.getByRole("region", { name: "Event log" }).screenshot({ path: join(SCREENSHOTS, "event-replay.png") });
}

/** The debug-run dialog lists the trigger's events; the chosen one's message is the run's trigger message. */
async function debugRunFromEvent(workflowId: string) {
  await page.goto(`${stack.url}/workflows/${workflowId}`);
  await page.locator(".svelte-flow__node").first().waitFor();
  await page.getByRole("button", { name: "Debug run" }).click();
  const picker = dialog().getByLabel("Trigger message from a logged event");
  await picker.locator("option", { hasText: "u2" }).first().waitFor({ state: "attached" });
  const value = await picker.locator("option", { hasText: "u2" }).first().getAttribute("value");
  await picker.selectOption(value!);
  await dialog().getByText("The run gets this event's whole stored message").waitFor();
  await dialog().locator(".cm-content").filter({ hasText: '"key": "u2"' }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "debug-run-event.png") });
  await dialog().getByRole("button", { name: "Run", exact: true }).click();
  await page.getByRole("tab", { name: /transform/ }).click();
  await page.locator(".run-log pre").filter({ hasText: "transform u2" }).waitFor({ timeout: 60_000 });
  const [dev] = await instances(`workflowId=${workflowId}&env=dev`);
  expect((await ok("GET", `/api/v1/instances/${dev.id}`)).triggerMessage).toMatchObject({ key: "u2" });
}

/** Rerun from a node through the node's menu: it and what follows run again, upstream keeps its one attempt. */
async function rerunFromNode(workflowId: string) {
  const [prod] = (await instances(`workflowId=${workflowId}&env=prod`)).filter((i) => i.status === "succeeded");
  await page.goto(`${stack.url}/instances/${prod.id}`);
  await status("succeeded").waitFor();
  await page.locator('.svelte-flow__node[data-id="transform"]').click();
  await page.getByRole("tab", { name: /transform/ }).and(page.locator('[aria-selected="true"]')).waitFor();
  await page.getByLabel("Actions for transform").first().click();
  await page.getByRole("menuitem", { name: "Rerun from transform" }).click();
  await dialog().getByText("transform, load").waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "rerun-from-node.png") });
  await dialog().getByRole("button", { name: "Rerun from transform" }).click();
  const after = await until(
    () => ok("GET", `/api/v1/instances/${prod.id}`),
    (i) => i.status === "succeeded" && i.nodes.find((n: any) => n.name === "load").attempt === 2,
    "the rerun from transform",
  );
  const attempts = Object.fromEntries(after.nodes.map((n: any) => [n.name, n.attempt]));
  expect(attempts).toEqual({ fetch: 1, transform: 2, load: 2 });
  await status("succeeded").waitFor();
}

/** A skipped instance with its reason and key; bulk terminate over a filter (dry run first) and rerun of selected rows. */
async function skippedAndBulk() {
  const sleepy = await api.createWorkflow({
    name: "sleepy_keys",
    policy: { concurrency: { key: "${workflow.triggerMessage.key}", limit: 1 }, overlap: "skip" },
    nodes: [{ name: "nap", type: "shell", code: "sleep 120" }],
  });
  await ok("POST", `/api/v1/workflows/${sleepy}/publish`, { message: "naps" });
  const first = await api.run(sleepy, { env: "prod", triggerMessage: { key: "k1" } });
  await until(() => ok("GET", `/api/v1/instances/${first}`), (i) => i.status === "running", "the first nap to run");
  const skipped = await api.run(sleepy, { env: "prod", triggerMessage: { key: "k1" } });
  await api.run(sleepy, { env: "prod", triggerMessage: { key: "k2" } });
  await until(() => ok("GET", `/api/v1/instances/${skipped}`), (i) => i.status === "skipped", "the second k1 run to be skipped");

  await page.goto(`${stack.url}/instances/${skipped}`);
  await status("skipped").waitFor();
  await page.getByTestId("skip-reason").filter({ hasText: "Skipped, it never ran: concurrency key 'k1' limit 1 reached" }).waitFor();
  expect(await page.getByTestId("concurrency-key").textContent()).toBe("k1");
  await page.screenshot({ path: join(SCREENSHOTS, "instance-skipped.png") });

  // Bulk terminate over the filter: the dry run counts the running ones first.
  await page.goto(`${stack.url}/instances?workflowId=${sleepy}&status=running`);
  await until(() => instances(`workflowId=${sleepy}&status=running`), (list) => list.length === 2, "both keys running");
  await page.locator("tbody tr").filter({ hasText: "running" }).nth(1).waitFor();
  const bulk = page.getByRole("group", { name: "Bulk actions" });
  await bulk.getByRole("button", { name: "Terminate…" }).click();
  await dialog().getByTestId("bulk-count").filter({ hasText: "This will terminate 2 instances." }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "bulk-actions.png") });
  await dialog().getByRole("button", { name: "Terminate 2" }).click();
  await dialog().getByTestId("bulk-result").filter({ hasText: "Terminated 2 instances." }).waitFor();
  await dialog().getByRole("button", { name: "Done" }).click();
  await until(() => instances(`workflowId=${sleepy}&status=terminated`), (list) => list.length === 2, "both terminated");

  // The skipped status is a filter choice, and its row says why it never ran.
  await page.goto(`${stack.url}/instances?workflowId=${sleepy}&status=skipped`);
  await page.getByLabel("Status").locator('option[value="skipped"]').waitFor({ state: "attached" });
  await page.locator("tbody tr").filter({ hasText: "skipped" }).locator(".reason").waitFor();

  // Selected rows: rerun the terminated nodes of the two terminated instances, counted first.
  await page.goto(`${stack.url}/instances?workflowId=${sleepy}&status=terminated`);
  await page.locator("tbody tr").filter({ hasText: "terminated" }).nth(1).waitFor();
  await page.getByLabel("Select all 2 shown").check();
  await bulk.getByTestId("bulk-scope").filter({ hasText: "2 selected" }).waitFor();
  await bulk.getByRole("button", { name: "Rerun failed…" }).click();
  await dialog().getByTestId("bulk-count").filter({ hasText: "This will rerun the failed nodes of 2 instances." }).waitFor();
  await dialog().getByRole("button", { name: "Rerun failed 2" }).click();
  await dialog().getByTestId("bulk-result").filter({ hasText: "Reran the failed nodes of 2 instances." }).waitFor();
  await dialog().getByRole("button", { name: "Done" }).click();
  await until(() => instances(`workflowId=${sleepy}&status=running`), (list) => list.length === 2, "the two reruns running");
  // Leave nothing sleeping.
  const cleanup = await ok("POST", "/api/v1/instances/bulk", { action: "terminate", filter: { workflowId: sleepy, status: "running" }, dryRun: false });
  expect(cleanup.affected).toHaveLength(2);
}

/** Batched events in the event log: each names the one run it joined; the run's message holds the batch. */
async function batchedEvents(liveTriggerId: string) {
  // The first trigger listens to the same queue: off, so only the batch trigger decides what follows.
  await ok("POST", `/api/v1/triggers/${liveTriggerId}/disable`);
  const trigger = await ok("POST", "/api/v1/triggers", {
    name: "ops_batch",
    type: "queue",
    config: { queue: "user-behavior", key: "batched" },
    batch: { maxEvents: 2, windowSeconds: 60, key: null },
  });
  const sink = await api.createWorkflow({ name: "batch_sink", policy: { triggerId: trigger.id }, nodes: [{ name: "count", type: "noop" }] });
  await ok("POST", `/api/v1/workflows/${sink}/publish`, { message: "sink" });
  await send("batched", { n: 1 });
  await send("batched", { n: 2 });
  const [run] = await until(() => instances(`workflowId=${sink}`), (list) => list.length === 1, "the batch's one run");
  expect((await ok("GET", `/api/v1/instances/${run.id}`)).triggerMessage).toMatchObject({ batch: { count: 2 } });
  await page.goto(`${stack.url}/triggers/${trigger.id}`);
  const log = page.getByRole("region", { name: "Event log" });
  await log.locator('.badge:text-is("batched")').nth(1).waitFor();
  expect(await log.locator('.badge[data-outcome="batched"].tone-live').count()).toBe(2);
  await log.screenshot({ path: join(SCREENSHOTS, "trigger-batched.png") });
}
