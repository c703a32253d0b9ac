// The OpenAPI document's answers say what the API returns: no structureless object where the structure is known
// (openapi-shape.ts), and real answers pass their route's own zod schema without losing a field.
import { describe, expect, it } from "vitest";
import type { z } from "@hono/zod-openapi";
import { createApp } from "../../worker/api/app.ts";
import { api, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";
import { createTrigger, deliverBatch, eventually, FIXTURES, grantDirectly, message, publish, queueTriggerSetup, unique } from "./trigger-helpers.ts";
import { FREE_FORM_FIELDS, structurelessSchemas } from "./openapi-shape.ts";

const scope = isolatedGroup();

/** The zod schema a route declares for a JSON answer, from the app's own registry (the source of the document). */
function declared(method: string, path: string, status: number): z.ZodType {
  for (const def of createApp().openAPIRegistry.definitions) {
    if (def.type !== "route" || def.route.method !== method || def.route.path !== path) continue;
    const response = def.route.responses[status];
    const media = response && "content" in response ? response.content?.["application/json"] : undefined;
    const schema = media && "schema" in media ? media.schema : undefined;
    if (schema) return schema as z.ZodType;
  }
  throw new Error(`no ${status} JSON schema declared for ${method} ${path}`);
}

/** The answer passes the schema, and the schema keeps every field of it (an undeclared field would be stripped). */
function expectConforms(method: string, path: string, status: number, answer: unknown) {
  const parsed = declared(method, path, status).safeParse(answer);
  if (!parsed.success) throw new Error(`${method} ${path} ${status} does not match its schema: ${parsed.error.message}`);
  expect(parsed.data).toEqual(answer);
}

describe("the OpenAPI document's answers", () => {
  it("give every JSON answer a structure, except free-form fields named as such", async () => {
    const res = await api("GET", "/api/v1/openapi.json", undefined, null);
    expect(res.status).toBe(200);
    expect(structurelessSchemas(res.json)).toEqual([]);
  });

  it("the walker finds a structureless answer and allows only the named free-form fields", () => {
    const doc = {
      paths: { "/x": { get: { responses: { 200: { content: { "application/json": { schema: { $ref: "#/components/schemas/X" } } } } } } } },
      components: {
        schemas: {
          X: {
            type: "object",
            properties: { loose: { type: "object", additionalProperties: {} }, params: { type: "object", additionalProperties: { type: "string" } }, any: {} },
          },
        },
      },
    };
    expect(structurelessSchemas(doc)).toEqual(["GET /x 200 → X.loose: no properties", "GET /x 200 → X.any: no properties"]);
    expect(FREE_FORM_FIELDS.has("params")).toBe(true);
  });

  it("real answers of instances, node runs, runner tasks, versions and compare match their schemas", async () => {
    const wf = await scope.createWorkflow({ name: "typed", params: { who: "world" }, nodes: [shellNode("a", "echo a"), shellNode("b", "echo b")], edges: [{ from: "a", to: "b" }] });
    await publish(wf.id);
    await api("PUT", `/api/v1/workflows/${wf.id}`, { name: "typed", params: { who: "there" }, policy: { resourceGroup: scope.name() }, nodes: [shellNode("a", "echo A")] });
    await publish(wf.id);
    const compare = await api("GET", `/api/v1/workflows/${wf.id}/versions/1/compare/2`);
    expect(compare.json.nodes.changed[0].code.hunks.length).toBeGreaterThan(0);
    expectConforms("get", "/api/v1/workflows/{id}/versions/{a}/compare/{b}", 200, compare.json);
    expectConforms("get", "/api/v1/workflows/{id}/versions/{n}", 200, (await api("GET", `/api/v1/workflows/${wf.id}/versions/1`)).json);

    const id = await startRun(wf.id, { env: "dev", runDate: "20260310" });
    const runner = await scope.newRunner();
    const claim = await api("POST", "/api/v1/runner/claim", { runnerId: await runner.register(), name: "test", slots: 1, waitMs: 0 }, runner.token);
    expect(claim.json.tasks).toHaveLength(1);
    expectConforms("post", "/api/v1/runner/claim", 200, claim.json);
    const [task] = claim.json.tasks;
    runner.leases.set(task.attemptId, task.leaseId);
    const done = await runner.complete(task.attemptId, 0, { rows: "3" });
    expectConforms("post", "/api/v1/runner/attempts/{attemptId}/complete", 200, done.json);

    const view = await api("GET", `/api/v1/instances/${id}`);
    expect(view.json.nodes[0]).toMatchObject({ name: "a", status: "succeeded", outputs: { rows: "3" } });
    expectConforms("get", "/api/v1/instances/{id}", 200, view.json);
    await mirrored(wf.id);
    const list = await api("GET", `/api/v1/instances?workflowId=${wf.id}`);
    expect(list.json.items.map((i: { id: string }) => i.id)).toEqual([id]);
    expectConforms("get", "/api/v1/instances", 200, list.json);
    const workflows = await api("GET", "/api/v1/workflows?limit=200");
    expect(workflows.json.items.find((w: { id: string }) => w.id === wf.id).lastRun).toMatchObject({ id, status: "succeeded", env: "dev" });
    expectConforms("get", "/api/v1/workflows", 200, workflows.json);
    expectConforms("get", "/api/v1/workflows/{id}", 200, (await api("GET", `/api/v1/workflows/${wf.id}`)).json);
  });

  it("a schema that leaves a field out fails the check", () => {
    expect(() => expectConforms("post", "/api/v1/instances/{id}/terminate", 200, { id: "i", status: "running", extra: 1 })).toThrow();
  });

  it("real answers of triggers, trigger events and the test bench match their schemas", async () => {
    const bucket = unique("bkt");
    await grantDirectly("bucket", bucket);
    const trigger = await createTrigger({ name: unique("r2"), type: "r2", config: { bucket, events: ["object-create"], keyPattern: "input/*.csv" } });
    expectConforms("get", "/api/v1/triggers/{id}", 200, (await api("GET", `/api/v1/triggers/${trigger.id}`)).json);
    expectConforms("get", "/api/v1/triggers", 200, (await api("GET", "/api/v1/triggers")).json);
    const bench = await api("POST", `/api/v1/triggers/${trigger.id}/test`, { message: { ...FIXTURES.put, bucket } });
    expect(bench.status).toBe(200);
    expectConforms("post", "/api/v1/triggers/{id}/test", 200, bench.json);

    const queued = await queueTriggerSetup(scope);
    await deliverBatch("user-behavior", [message(unique("m"), { key: queued.key, value: "clicked" })]);
    const events = await eventually(
      async () => (await api("GET", `/api/v1/triggers/${queued.trigger.id}/events`)).json,
      (page) => page.items.length === 1,
    );
    expect(events.items[0].outcome).toBe("started");
    expectConforms("get", "/api/v1/triggers/{id}/events", 200, events);
  });

  it("real answers of runners, stats, keys, workspaces, audit, alerts, bulk and errors match their schemas", async () => {
    const wf = await scope.createWorkflow({ name: unique("ops"), nodes: [shellNode("a", "echo a")] });
    await startRun(wf.id);
    const runner = await scope.newRunner();
    await runner.claim(1);
    const runners = await api("GET", `/api/v1/runners?resourceGroup=${scope.name()}`);
    expect(runners.json.items).toHaveLength(1);
    expectConforms("get", "/api/v1/runners", 200, runners.json);
    const bulk = await api("POST", "/api/v1/instances/bulk", { action: "terminate", filter: { workflowId: wf.id }, dryRun: true });
    expect(bulk.status).toBe(200);
    expectConforms("post", "/api/v1/instances/bulk", 200, bulk.json);
    for (const path of ["/api/v1/stats", "/api/v1/keys", "/api/v1/workspaces", "/api/v1/audit"]) {
      const res = await api("GET", path);
      expect(res.status, path).toBe(200);
      expectConforms("get", path, 200, res.json);
    }
    expectConforms("get", "/api/v1/workflows/{id}/alerts", 200, (await api("GET", `/api/v1/workflows/${wf.id}/alerts`)).json);
    const missing = await api("GET", "/api/v1/instances/wf_nope.ins_nope");
    expect(missing.status).toBe(404);
    expectConforms("get", "/api/v1/instances/{id}", 404, missing.json);
    const invalid = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev", runDate: "tomorrow" });
    expect(invalid.status).toBe(400);
    expectConforms("post", "/api/v1/workflows/{id}/runs", 400, invalid.json);
  });

  it("real answers of run starts, version lists, keys, queue sends and trigger operations match their schemas", async () => {
    const wf = await scope.createWorkflow({ name: unique("calls"), nodes: [{ name: "n", type: "noop" }] });
    const started = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" });
    expect(started.status).toBe(201);
    expectConforms("post", "/api/v1/workflows/{id}/runs", 201, started.json);
    const published = await api("POST", `/api/v1/workflows/${wf.id}/publish`, { message: "one" });
    expectConforms("post", "/api/v1/workflows/{id}/publish", 200, published.json);
    expectConforms("get", "/api/v1/workflows/{id}/versions", 200, (await api("GET", `/api/v1/workflows/${wf.id}/versions`)).json);
    const key = await api("POST", "/api/v1/keys", { name: unique("dev"), role: "developer" });
    expect(key.status).toBe(201);
    expectConforms("post", "/api/v1/keys", 201, key.json);

    const { key: messageKey, trigger } = await queueTriggerSetup(scope);
    const sent = await api("POST", "/api/v1/queues/user-behavior/messages", { key: messageKey, value: "clicked" });
    expectConforms("post", "/api/v1/queues/{queue}/messages", sent.status, sent.json);
    const paused = await api("POST", `/api/v1/triggers/${trigger.id}/pause`, {});
    expectConforms("post", "/api/v1/triggers/{id}/pause", 200, paused.json);
    const resumed = await api("POST", `/api/v1/triggers/${trigger.id}/resume`, {});
    expectConforms("post", "/api/v1/triggers/{id}/resume", 200, resumed.json);
    const discarded = await api("POST", `/api/v1/triggers/${trigger.id}/discard`, {});
    expectConforms("post", "/api/v1/triggers/{id}/discard", 200, discarded.json);
    const [first] = (await eventually(async () => (await api("GET", `/api/v1/triggers/${trigger.id}/events`)).json.items, (items: unknown[]) => items.length === 1)) as { id: string }[];
    const replayed = await api("POST", `/api/v1/triggers/${trigger.id}/events/${first!.id}/replay`, {});
    expectConforms("post", "/api/v1/triggers/{id}/events/{eventId}/replay", replayed.status, replayed.json);
  });
});
