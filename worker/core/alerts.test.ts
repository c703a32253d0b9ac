import { describe, expect, it } from "vitest";
import {
  afterAttempt,
  alertBody,
  alertsOnFinish,
  answerRecord,
  consoleLink,
  MAX_ALERT_ATTEMPTS,
  postAlert,
  slowStillApplies,
  slowWatches,
  watchesFinish,
  ALERT_RESPONSE_CHARS,
  type AlertFacts,
} from "./alerts.ts";
import { AlertSchema, type AlertPolicy } from "./definition.ts";
import { signWebhook, verifyWebhook } from "./triggers/webhook-signature.ts";

const alert = (on: AlertPolicy["on"], extra: Partial<AlertPolicy> = {}): AlertPolicy => AlertSchema.parse({ on, url: "https://hooks.example/a", ...extra });

const facts: AlertFacts = {
  workflow: { id: "wf_1", name: "nightly" },
  instance: {
    id: "ins_1",
    status: "failed",
    env: "prod",
    version: 3,
    createdAt: Date.UTC(2026, 0, 1, 0, 0, 0),
    startedAt: Date.UTC(2026, 0, 1, 0, 0, 1),
    finishedAt: Date.UTC(2026, 0, 1, 0, 1, 0),
    reason: null,
    failedNodes: [{ name: "load", error: "exit code 2" }],
  },
  url: "https://sluice.example/instances/ins_1",
};

describe("which alerts fire when an instance finishes", () => {
  const alerts = [alert(["failed", "recovered"]), alert(["terminated"], { url: "https://hooks.example/b" }), alert(["skipped"], { format: "slack" })];

  it("a failure fires the alerts on failed and is remembered", () => {
    expect(alertsOnFinish(alerts, "failed", null)).toEqual({ send: [{ event: "failed", url: "https://hooks.example/a", format: "standard" }], remember: "failed" });
  });

  it("terminated and skipped fire their own alerts and leave the remembered outcome alone", () => {
    expect(alertsOnFinish(alerts, "terminated", "failed")).toEqual({ send: [{ event: "terminated", url: "https://hooks.example/b", format: "standard" }], remember: "failed" });
    expect(alertsOnFinish(alerts, "skipped", "succeeded")).toEqual({ send: [{ event: "skipped", url: "https://hooks.example/a", format: "slack" }], remember: "succeeded" });
  });

  it("recovered fires on the first success after a failure, and not on the next", () => {
    const first = alertsOnFinish(alerts, "succeeded", "failed");
    expect(first.send.map((s) => s.event)).toEqual(["recovered"]);
    expect(first.remember).toBe("succeeded");
    expect(alertsOnFinish(alerts, "succeeded", first.remember).send).toEqual([]);
  });

  it("a success with no failure before it fires nothing", () => {
    expect(alertsOnFinish(alerts, "succeeded", null).send).toEqual([]);
  });

  it("the finish hook speaks only for production instances of definitions with alerts", () => {
    expect(watchesFinish(alerts, "prod")).toBe(true);
    expect(watchesFinish(alerts, "dev")).toBe(false);
    expect(watchesFinish([], "prod")).toBe(false);
  });
});

describe("slow", () => {
  it("watches each alert on slow from the run's start", () => {
    const alerts = [alert(["failed"]), alert(["slow"], { slowAfterSeconds: 90 }), alert(["slow", "failed"], { slowAfterSeconds: 5 })];
    expect(slowWatches(alerts, 1_000)).toEqual([
      { index: 1, dueAt: 91_000 },
      { index: 2, dueAt: 6_000 },
    ]);
  });

  it("a watch fires only while the same run is still running", () => {
    expect(slowStillApplies({ status: "running", started_at: 1_000 }, 1_000)).toBe(true);
    expect(slowStillApplies({ status: "succeeded", started_at: 1_000 }, 1_000)).toBe(false);
    expect(slowStillApplies({ status: "running", started_at: 2_000 }, 1_000), "a rerun started since").toBe(false);
    expect(slowStillApplies(undefined, 1_000)).toBe(false);
  });
});

describe("delivery", () => {
  it("retries after 10 s, 30 s, 2 min, 10 min and 30 min, then gives up", () => {
    let attempts = 0;
    let now = 0;
    const waits: number[] = [];
    for (;;) {
      const state = afterAttempt(attempts, { status: 500, body: "" }, now);
      attempts = state.attempts;
      if (state.status !== "pending") {
        expect(state.status).toBe("failed");
        break;
      }
      waits.push(state.nextAt - now);
      now = state.nextAt;
    }
    expect(waits).toEqual([10_000, 30_000, 120_000, 600_000, 1_800_000]);
    expect(attempts).toBe(MAX_ALERT_ATTEMPTS);
  });

  it("a 2xx answer delivers; a missing answer counts as a failed attempt", () => {
    expect(afterAttempt(2, { status: 204, body: "" }, 0)).toEqual({ status: "delivered", attempts: 3 });
    expect(afterAttempt(0, { error: "request failed: refused" }, 0)).toEqual({ status: "pending", attempts: 1, nextAt: 10_000 });
    expect(afterAttempt(0, { status: 302, body: "" }, 0).status, "a redirect is not followed, so not delivered").toBe("pending");
  });

  it("keeps the first characters of an answer or the reason none came", () => {
    expect(answerRecord({ status: 500, body: "x".repeat(5_000) })).toEqual({ responseStatus: 500, response: "x".repeat(ALERT_RESPONSE_CHARS) });
    expect(answerRecord({ error: "no answer within 10s" })).toEqual({ responseStatus: null, response: "no answer within 10s" });
  });

  it("posts the body signed like a Standard Webhook, with the delivery id as webhook-id", async () => {
    const secret = "whsec_c2VjcmV0LXZhbHVlLW9mLTMyLWJ5dGVzLi4uLi4uLi4=";
    let seen: Request | null = null;
    const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
      seen = new Request(input as RequestInfo, init);
      return new Response("ok", { status: 200 });
    }) as typeof fetch;
    const now = Date.now();
    const body = alertBody("failed", "standard", facts, now);
    const answer = await postAlert(fetcher, { id: "alr_1", url: "https://hooks.example/a", body }, (id, text, at) => signWebhook(secret, id, text, at), now);
    expect(answer).toEqual({ status: 200, body: "ok" });
    const request = seen! as Request;
    expect(request.method).toBe("POST");
    const headers = Object.fromEntries(request.headers);
    expect(headers["webhook-id"]).toBe("alr_1");
    expect(verifyWebhook([secret], await request.text(), headers)).toEqual({ ok: true, webhookId: "alr_1" });
  });

  it("reports a request that throws as no answer", async () => {
    const fetcher = (async () => {
      throw new Error("connection refused");
    }) as typeof fetch;
    expect(await postAlert(fetcher, { id: "alr_1", url: "https://x", body: "{}" }, () => ({}), 0)).toEqual({ error: "request failed: connection refused" });
  });
});

describe("payload", () => {
  it("the standard body names the event, workflow, instance, its failed nodes and console link", () => {
    const at = Date.UTC(2026, 0, 1, 0, 1, 0);
    expect(JSON.parse(alertBody("failed", "standard", facts, at))).toEqual({
      type: "instance.failed",
      timestamp: "2026-01-01T00:01:00.000Z",
      data: {
        workflow: { id: "wf_1", name: "nightly" },
        instance: {
          id: "ins_1",
          status: "failed",
          env: "prod",
          version: 3,
          createdAt: "2026-01-01T00:00:00.000Z",
          startedAt: "2026-01-01T00:00:01.000Z",
          finishedAt: "2026-01-01T00:01:00.000Z",
          failedNodes: [{ name: "load", error: "exit code 2" }],
        },
        url: "https://sluice.example/instances/ins_1",
        summary: "Workflow nightly: instance ins_1 (prod, v3) failed; failed nodes: load (exit code 2)",
      },
    });
  });

  it("a skipped instance's reason is in the body", () => {
    const skipped = { ...facts, instance: { ...facts.instance, status: "skipped", reason: "waited longer than 60s", failedNodes: [] } };
    const body = JSON.parse(alertBody("skipped", "standard", skipped, 0));
    expect(body.type).toBe("instance.skipped");
    expect(body.data.instance.reason).toBe("waited longer than 60s");
  });

  it("the slack body is one text line with the console link", () => {
    expect(JSON.parse(alertBody("recovered", "slack", facts, 0))).toEqual({
      text: "Workflow nightly: instance ins_1 (prod, v3) succeeded again after a failure; failed nodes: load (exit code 2) <https://sluice.example/instances/ins_1|open in Sluice>",
    });
  });

  it("the console link is the instance page on the public origin, or its path without one", () => {
    expect(consoleLink("https://sluice.example/", "ins_1")).toBe("https://sluice.example/instances/ins_1");
    expect(consoleLink(undefined, "ins_1")).toBe("/instances/ins_1");
  });
});

describe("payload size", () => {
  it("names at most 20 failed nodes, each error cut to 500 characters", () => {
    const many = { ...facts, instance: { ...facts.instance, failedNodes: Array.from({ length: 30 }, (_, i) => ({ name: `n${i}`, error: "e".repeat(2_000) })) } };
    const body = JSON.parse(alertBody("failed", "standard", many, 0));
    expect(body.data.instance.failedNodes).toHaveLength(20);
    expect(body.data.instance.failedNodes[0].error).toHaveLength(500);
  });
});
