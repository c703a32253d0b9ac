// No secret (API key, runner token, webhook secret) shows up anywhere but the one answer that hands it out.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signWebhook } from "../../worker/core/triggers/index.ts";
import { api, FakeRunner, isolatedGroup, shellNode } from "./helpers.ts";
import { publish, unique } from "./trigger-helpers.ts";

const scope = isolatedGroup();

/** The part of a secret that must never be repeated: all of it but the short public prefix keys are listed by. */
const body = (secret: string) => (secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret.slice(7));

/** Everything the Worker printed while the test ran (the tests share its isolate, Durable Objects included). */
const printed: string[] = [];
beforeAll(() => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      printed.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
});
afterAll(() => vi.restoreAllMocks());

/** Every row of every table in D1, as JSON. */
async function wholeDatabase(): Promise<string> {
  const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>();
  const dump: Record<string, unknown[]> = {};
  for (const { name } of tables.results) dump[name] = (await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results;
  return JSON.stringify(dump);
}

describe("secrets", () => {
  it("appear only in the answer that creates them: never in reads, errors, URLs, logs, the audit log or D1", async () => {
    const seen: { what: string; text: string }[] = [];
    const record = (what: string, res: { status: number; text: string }) => {
      seen.push({ what: `${what} (${res.status})`, text: res.text });
      return res;
    };

    // Hand out one secret of each kind (and a rotated webhook secret).
    const apiKey = (await api("POST", "/api/v1/keys", { name: unique("dev"), role: "developer" })).json.key as string;
    const runnerToken = (await api("POST", "/api/v1/keys", { name: unique("runner"), role: "runner", resourceGroup: scope.name() })).json.key as string;
    const created = await api("POST", "/api/v1/triggers", { name: unique("hook"), type: "webhook" }, apiKey);
    const triggerId = created.json.id as string;
    const firstSecret = created.json.secret as string;
    const rotated = (await api("POST", `/api/v1/triggers/${triggerId}/rotate-secret`, undefined, apiKey)).json.secret as string;
    const secrets = { apiKey, runnerToken, firstSecret, rotated };
    for (const [name, secret] of Object.entries(secrets)) expect(secret, name).toMatch(/^(sk_|rt_|whsec_)/);

    // Use them, right and wrong.
    const wf = await scope.createWorkflow({ name: unique("leaks"), policy: { triggerId }, nodes: [shellNode("n", "echo ${workflow.triggerMessage.order}")] });
    await publish(wf.id);
    const payload = JSON.stringify({ order: 7 });
    const hook = async (what: string, headers: Record<string, string>) => {
      const res = await SELF.fetch(`http://sluice.test/hooks/${triggerId}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: payload });
      return record(what, { status: res.status, text: `${[...res.headers].join("\n")}\n${await res.text()}` });
    };
    expect((await hook("signed webhook", signWebhook(rotated, "leak-1", payload))).status).toBe(202);
    expect((await hook("webhook signed with the old secret", signWebhook(firstSecret, "leak-2", payload))).status).toBe(202);
    expect((await hook("badly signed webhook", { ...signWebhook(rotated, "leak-3", payload), "webhook-signature": `v1,${body(rotated)}` })).status).toBe(401);

    const runner = new FakeRunner(runnerToken);
    const [task] = await runner.claim();
    record("runner log", await runner.log(task.attemptId, "7\n"));
    record("runner complete", await runner.complete(task.attemptId, 0));
    record("runner token on the management API", await api("GET", "/api/v1/workflows", undefined, runnerToken));
    record("API key on the runner API", await api("POST", "/api/v1/runner/claim", { runnerId: "x", name: "x", slots: 1, waitMs: 0 }, apiKey));
    record("a near-miss API key", await api("GET", "/api/v1/workflows", undefined, `${apiKey}x`));
    record("a near-miss runner token", await api("POST", "/api/v1/runner/claim", { runnerId: "x", name: "x", slots: 1, waitMs: 0 }, `${runnerToken}x`));
    record("a key in the query string", await api("GET", `/api/v1/workflows?key=${apiKey}`, undefined, null));

    // Read back everything a person or a log reader could see.
    for (const path of [
      "/api/v1/triggers",
      `/api/v1/triggers/${triggerId}`,
      `/api/v1/triggers/${triggerId}/events`,
      "/api/v1/keys",
      "/api/v1/audit?limit=500",
      `/api/v1/instances?workflowId=${wf.id}`,
      `/api/v1/instances/${task.instanceId}`,
      `/api/v1/instances/${task.instanceId}/nodes/n/log`,
      "/api/v1/runners",
    ]) {
      expect(record(`GET ${path}`, await api("GET", path)).status, path).toBe(200);
    }
    const hookUrl = (await api("GET", `/api/v1/triggers/${triggerId}`)).json.hookUrl as string;
    expect(hookUrl).toBe(`http://sluice.test/hooks/${triggerId}`);
    seen.push({ what: "the whole D1 database", text: await wholeDatabase() });
    seen.push({ what: "the Worker's console output", text: printed.join("\n") });

    const leaks = seen.flatMap(({ what, text }) => Object.entries(secrets).filter(([, s]) => text.includes(body(s))).map(([name]) => `${name} in ${what}`));
    expect(leaks).toEqual([]);
    // The checks looked at real material: the audit log and the event log have entries, the log has the run's output.
    const audit = seen.find((s) => s.what.startsWith("GET /api/v1/audit"))!.text;
    expect(audit).toContain("rotate-secret");
    expect(seen.find((s) => s.what.includes("/events"))!.text).toContain("started");
  });
});
