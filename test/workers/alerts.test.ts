// Alerts in the Workers runtime: signed posts on failure, retries with every attempt logged, recovered, slow, the test button, tenancy.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { retentionMs } from "../../worker/core/retention.ts";
import { verifyWebhook } from "../../worker/core/triggers/webhook-signature.ts";
import { AlertLog } from "../../worker/db/alerts.ts";
import { purgeHistory } from "../../worker/db/retention.ts";
import { api, instance, isolatedGroup, mirrored, startRun } from "./helpers.ts";
import { fakeHttpTarget } from "./http-target.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";
import { eventually, publish, unique } from "./trigger-helpers.ts";

const scope = isolatedGroup();
const NODE_HOST = "alert-node.sluice.test";
const ALERT_HOST = "alert-receiver.sluice.test";
const ALERT_URL = `http://${ALERT_HOST}/hook`;

/** What the http nodes' target answers (per test); `hang` never answers until the request is aborted. */
let nodeAnswer: number | "hang" = 500;
/** What the alert receiver answers to its n-th request (per test). */
let receiverAnswer: (n: number) => number = () => 200;
/** Every alert the receiver got, with its headers and raw body. */
let received: { headers: Record<string, string>; body: string }[] = [];
beforeEach(() => {
  nodeAnswer = 500;
  receiverAnswer = () => 200;
  received = [];
});

fakeHttpTarget(NODE_HOST, (request) => {
  if (nodeAnswer !== "hang") return Promise.resolve(new Response("node answer", { status: nodeAnswer }));
  return new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason)));
});
fakeHttpTarget(ALERT_HOST, async (request, n) => {
  received.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
  const status = receiverAnswer(n);
  return new Response(status === 200 ? "thanks" : "receiver down", { status });
});

const coordinatorOf = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));

async function alertingWorkflow(alerts: Record<string, unknown>[], nodeExtra: Record<string, unknown> = {}) {
  const wf = await scope.createWorkflow({
    name: unique("alerting"),
    nodes: [{ name: "call", type: "http", http: { url: `http://${NODE_HOST}/work` }, timeoutSeconds: 30, ...nodeExtra }],
    policy: { alerts },
  });
  await publish(wf.id);
  return wf;
}

async function finishedRun(workflowId: string, envName: "prod" | "dev" = "prod"): Promise<string> {
  const id = await startRun(workflowId, { env: envName });
  await eventually(() => instance(id), (i) => i.status !== "running" && i.status !== "waiting");
  return id;
}

async function alertLog(workflowId: string): Promise<any[]> {
  await mirrored(workflowId);
  const res = await api("GET", `/api/v1/workflows/${workflowId}/alerts`);
  expect(res.status).toBe(200);
  return res.json.items;
}

async function secretOf(workflowId: string): Promise<string> {
  const res = await api("GET", `/api/v1/workflows/${workflowId}/alerts/secret`);
  expect(res.status).toBe(200);
  return res.json.secret;
}

/** Time passes for the coordinator's waiting deliveries: each is due now, and the alarm runs. */
async function retryDueNow(workflowId: string): Promise<void> {
  await runInDurableObject(coordinatorOf(workflowId), (_, state) => state.storage.sql.exec(`UPDATE alert_jobs SET next_at = 0`));
  await runDurableObjectAlarm(coordinatorOf(workflowId));
}

describe("alerts on a finished instance", () => {
  it("a failed prod run posts one alert signed with the workflow's alert secret, and logs it delivered", async () => {
    const wf = await alertingWorkflow([{ on: ["failed"], url: ALERT_URL }]);
    const id = await finishedRun(wf.id);
    expect((await instance(id)).status).toBe("failed");
    await eventually(async () => received.length, (n) => n >= 1);

    const [alert] = received;
    const secret = await secretOf(wf.id);
    expect(secret).toMatch(/^whsec_/);
    expect(verifyWebhook([secret], alert!.body, alert!.headers).ok).toBe(true);
    const body = JSON.parse(alert!.body);
    expect(body.type).toBe("instance.failed");
    expect(body.data.workflow.id).toBe(wf.id);
    expect(body.data.instance).toMatchObject({ id, status: "failed", env: "prod", version: 1 });
    expect(body.data.instance.failedNodes).toEqual([{ name: "call", error: "HTTP 500" }]);
    expect(body.data.url).toMatch(new RegExp(`/instances/${id}$`));

    const log = await eventually(() => alertLog(wf.id), (items) => items[0]?.status === "delivered");
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: alert!.headers["webhook-id"], instanceId: id, event: "failed", url: ALERT_URL, format: "standard", attempts: 1, responseStatus: 200, response: "thanks" });
    expect(received).toHaveLength(1);
  });

  it("a dev run fires no alert", async () => {
    const wf = await alertingWorkflow([{ on: ["failed"], url: ALERT_URL }]);
    expect((await instance(await finishedRun(wf.id, "dev"))).status).toBe("failed");
    // The alert would have been decided in the transaction that failed the instance; the mirror carries its row.
    expect(await alertLog(wf.id)).toEqual([]);
    expect(received).toEqual([]);
  });

  it("a receiver answering 500 is tried again with the same webhook-id, and the log shows each attempt's answer", async () => {
    receiverAnswer = (n) => (n === 1 ? 500 : 200);
    const wf = await alertingWorkflow([{ on: ["failed"], url: ALERT_URL, format: "slack" }]);
    await finishedRun(wf.id);
    const first = await eventually(() => alertLog(wf.id), (items) => items[0]?.attempts === 1);
    expect(first[0]).toMatchObject({ status: "pending", attempts: 1, responseStatus: 500, response: "receiver down" });

    await retryDueNow(wf.id);
    const log = await eventually(() => alertLog(wf.id), (items) => items[0]?.status === "delivered");
    expect(log[0]).toMatchObject({ status: "delivered", attempts: 2, responseStatus: 200, format: "slack" });
    expect(received).toHaveLength(2);
    expect(received[1]!.headers["webhook-id"]).toBe(received[0]!.headers["webhook-id"]);
    expect(received[1]!.body).toBe(received[0]!.body);
    expect(JSON.parse(received[1]!.body).text).toMatch(/failed/);
    expect(verifyWebhook([await secretOf(wf.id)], received[1]!.body, received[1]!.headers).ok).toBe(true);
  });

  it("recovered fires on the first success after a failure, and not again", async () => {
    const wf = await alertingWorkflow([{ on: ["recovered"], url: ALERT_URL }]);
    nodeAnswer = 200;
    expect((await instance(await finishedRun(wf.id))).status).toBe("succeeded");
    nodeAnswer = 500;
    expect((await instance(await finishedRun(wf.id))).status).toBe("failed");
    nodeAnswer = 200;
    const recovered = await finishedRun(wf.id);
    expect((await instance(await finishedRun(wf.id))).status).toBe("succeeded");

    const log = await eventually(() => alertLog(wf.id), (items) => items.length > 0 && items.every((i) => i.status === "delivered"));
    expect(log.map((i) => [i.event, i.instanceId])).toEqual([["recovered", recovered]]);
    expect(received.map((r) => JSON.parse(r.body).type)).toEqual(["instance.recovered"]);
  });

  it("an instance skipped by its overlap policy posts a skipped alert carrying the reason", async () => {
    const wf = await alertingWorkflow([{ on: ["skipped"], url: ALERT_URL }]);
    const def = (await api("GET", `/api/v1/workflows/${wf.id}`)).json;
    const put = await api("PUT", `/api/v1/workflows/${wf.id}`, { ...def.definition, policy: { ...def.definition.policy, maxParallel: 1, overlap: "skip" } });
    expect(put.status).toBe(200);
    await publish(wf.id);
    nodeAnswer = "hang";
    const first = await startRun(wf.id, { env: "prod" });
    const second = await startRun(wf.id, { env: "prod" });
    expect((await instance(second)).status).toBe("skipped");

    await eventually(async () => received.length, (n) => n >= 1);
    const body = JSON.parse(received[0]!.body);
    expect(body.type).toBe("instance.skipped");
    expect(body.data.instance).toMatchObject({ id: second, status: "skipped", reason: expect.stringMatching(/maxParallel 1 reached.*overlap: skip/) });
    expect((await api("POST", `/api/v1/instances/${first}/terminate`)).status).toBe(200);
  });
});

describe("slow", () => {
  it("fires once for an instance still running slowAfterSeconds after it started", async () => {
    nodeAnswer = "hang";
    const wf = await alertingWorkflow([{ on: ["slow"], slowAfterSeconds: 1, url: ALERT_URL }]);
    const id = await startRun(wf.id, { env: "prod" });
    await eventually(() => instance(id), (i) => i.status === "running");
    await new Promise((r) => setTimeout(r, 1_100));
    await runDurableObjectAlarm(coordinatorOf(wf.id));
    await eventually(async () => received.length, (n) => n >= 1);
    // The watch is gone once it fired: later alarms send nothing more for this run.
    await runDurableObjectAlarm(coordinatorOf(wf.id));
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);

    const log = await eventually(() => alertLog(wf.id), (items) => items[0]?.status === "delivered");
    expect(log.map((i) => [i.event, i.instanceId])).toEqual([["slow", id]]);
    const body = JSON.parse(received[0]!.body);
    expect(body.type).toBe("instance.slow");
    expect(body.data.instance).toMatchObject({ id, status: "running" });
    expect(received).toHaveLength(1);
  });

  it("does not fire for an instance that finished before slowAfterSeconds", async () => {
    nodeAnswer = 200;
    const wf = await alertingWorkflow([{ on: ["slow"], slowAfterSeconds: 1, url: ALERT_URL }]);
    expect((await instance(await finishedRun(wf.id))).status).toBe("succeeded");
    await new Promise((r) => setTimeout(r, 1_100));
    await runDurableObjectAlarm(coordinatorOf(wf.id));
    expect(await alertLog(wf.id)).toEqual([]);
    expect(received).toEqual([]);
  });
});

describe("the test button and the secret", () => {
  it("sends a signed sample to every configured url now and logs it as a test delivery", async () => {
    const wf = await alertingWorkflow([{ on: ["failed"], url: ALERT_URL }, { on: ["terminated"], url: ALERT_URL }]);
    const res = await api("POST", `/api/v1/workflows/${wf.id}/alerts/test`, {});
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0]).toMatchObject({ instanceId: null, event: "test", url: ALERT_URL, status: "delivered", attempts: 1, responseStatus: 200 });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body).type).toBe("alert.test");
    expect(verifyWebhook([await secretOf(wf.id)], received[0]!.body, received[0]!.headers).ok).toBe(true);
    expect((await alertLog(wf.id)).map((i) => i.id)).toEqual([res.json.items[0].id]);
  });

  it("sends to a given url, logs a failed answer, and refuses when there is nowhere to send", async () => {
    receiverAnswer = () => 503;
    const wf = await scope.createWorkflow({ name: unique("no-alerts"), nodes: [{ name: "a", type: "noop" }] });
    expect((await api("POST", `/api/v1/workflows/${wf.id}/alerts/test`, {})).status).toBe(400);
    expect((await api("POST", `/api/v1/workflows/${wf.id}/alerts/test`, { url: "ftp://x" })).status).toBe(400);
    const res = await api("POST", `/api/v1/workflows/${wf.id}/alerts/test`, { url: `http://${ALERT_HOST}/other` });
    expect(res.json.items[0]).toMatchObject({ status: "failed", attempts: 1, responseStatus: 503, response: "receiver down" });
  });

  it("keeps the same secret, shows it to editors only, and hides another workspace's workflow", async () => {
    const wf = await scope.createWorkflow({ name: unique("secret"), nodes: [{ name: "a", type: "noop" }] });
    const secret = await secretOf(wf.id);
    expect(await secretOf(wf.id)).toBe(secret);
    const viewer = await api("POST", "/api/v1/keys", { name: "viewer", role: "viewer" });
    expect((await api("GET", `/api/v1/workflows/${wf.id}/alerts/secret`, undefined, viewer.json.key)).status).toBe(403);
    expect((await api("GET", `/api/v1/workflows/${wf.id}/alerts`, undefined, viewer.json.key)).status).toBe(200);
    const other = await otherWorkspace(unique("ws"));
    for (const [method, path] of [["GET", "alerts"], ["GET", "alerts/secret"], ["POST", "alerts/test"]] as const) {
      expect((await api(method, `/api/v1/workflows/${wf.id}/${path}`, method === "POST" ? { url: ALERT_URL } : undefined, other.admin)).status).toBe(404);
    }
    expect(received).toEqual([]);
  });
});

describe("retention", () => {
  it("purges alert log rows with run history and keeps the younger ones", async () => {
    const now = Date.now();
    const workflowId = `wf_alertlog_${crypto.randomUUID().slice(0, 8)}`;
    const row = (id: string, createdAt: number) => ({
      id, workspaceId: "default", workflowId, instanceId: null, event: "test" as const, url: ALERT_URL, format: "standard" as const,
      status: "delivered" as const, attempts: 1, responseStatus: 200, response: "ok", createdAt, updatedAt: createdAt,
    });
    const log = new AlertLog(env.DB, "default");
    await log.insert(row(`alr_old_${workflowId}`, now - retentionMs(30) - 86_400_000));
    await log.insert(row(`alr_young_${workflowId}`, now - retentionMs(30) + 86_400_000));
    const purged = await purgeHistory(env, 30, now);
    expect(purged.alertDeliveries).toBeGreaterThanOrEqual(1);
    expect((await log.list(workflowId, 10, null)).items.map((i) => i.id)).toEqual([`alr_young_${workflowId}`]);
  });
});
