// Trigger management, workflow selection, roles, the event log's shape and the test bench.
import { describe, expect, it } from "vitest";
import { api, isolatedGroup, shellNode } from "./helpers.ts";
import { createTrigger, FIXTURES, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();

async function keyFor(role: string) {
  const res = await api("POST", "/api/v1/keys", { name: unique(role), role });
  if (res.status !== 201) throw new Error(`key: ${res.status} ${res.text}`);
  return res.json.key as string;
}

describe("trigger management", () => {
  it("creates, reads, lists, replaces and deletes a trigger; defaults are filled", async () => {
    const name = unique("oss_new_file_trigger");
    const created = await api("POST", "/api/v1/triggers", { name, type: "r2", config: { bucket: "uploads", keyPattern: "input/*.csv" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name,
      type: "r2",
      config: { bucket: "uploads", events: ["object-create"], keyPattern: "input/*.csv" },
      dedup: { key: null, windowSeconds: 86_400 },
      ordering: null,
      filter: null,
      enabled: true,
    });
    expect(created.json.secret).toBeUndefined();
    const id = created.json.id as string;
    expect((await api("GET", `/api/v1/triggers/${id}`)).json).toMatchObject({ id, workflows: [] });
    expect((await api("GET", "/api/v1/triggers?type=r2&limit=200")).json.items.map((t: { id: string }) => t.id)).toContain(id);
    const replaced = await api("PUT", `/api/v1/triggers/${id}`, { name, type: "r2", config: { bucket: "uploads", events: ["object-delete"] }, dedup: { windowSeconds: 60 } });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ config: { events: ["object-delete"], keyPattern: "**" }, dedup: { windowSeconds: 60 } });
    expect((await api("DELETE", `/api/v1/triggers/${id}`)).status).toBe(204);
    expect((await api("GET", `/api/v1/triggers/${id}`)).status).toBe(404);
  });

  it("refuses bad definitions with 400 naming each problem, and saves nothing", async () => {
    const name = unique("bad");
    const res = await api("POST", "/api/v1/triggers", {
      name,
      type: "queue",
      config: { queue: "orders" },
      filter: "value ==",
      ordering: { key: "${workflow.region}" },
      dedup: { windowSeconds: 30 * 86_400 },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details.map((d: { path: string }) => d.path)).toContain("dedup.windowSeconds");
    const semantic = await api("POST", "/api/v1/triggers", { name, type: "queue", config: { queue: "orders" }, filter: "value ==", ordering: { key: "${workflow.region}" } });
    expect(semantic.status).toBe(400);
    expect(semantic.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["config.queue", "filter", "ordering.key"]);
    expect((await api("GET", "/api/v1/triggers?limit=200")).json.items.some((t: { name: string }) => t.name === name)).toBe(false);
  });

  it("refuses a duplicate name (409) and a type change (400)", async () => {
    const name = unique("dup");
    const t = await createTrigger({ name, type: "webhook" });
    expect((await api("POST", "/api/v1/triggers", { name, type: "webhook" })).status).toBe(409);
    const change = await api("PUT", `/api/v1/triggers/${t.id}`, { name, type: "r2", config: { bucket: "uploads" } });
    expect(change.status).toBe(400);
    expect(change.json.error.message).toMatch(/type cannot change/);
  });

  it("shows a webhook secret only at creation and rotation, never on read", async () => {
    const t = await createTrigger({ name: unique("hook"), type: "webhook" });
    expect(t.secret).toMatch(/^whsec_/);
    const read = await api("GET", `/api/v1/triggers/${t.id}`);
    expect(read.text).not.toContain("whsec_");
    expect(read.json.hookUrl).toMatch(new RegExp(`/hooks/${t.id}$`));
    const r2 = await createTrigger({ name: unique("r2"), type: "r2", config: { bucket: "uploads" } });
    expect((await api("POST", `/api/v1/triggers/${r2.id}/rotate-secret`)).status).toBe(400);
  });

  it("lets workflows select only triggers of their workspace, and refuses deleting a selected trigger", async () => {
    const missing = await api("POST", "/api/v1/workflows", { name: unique("wf"), policy: { triggerId: "trg_missing" }, nodes: [{ name: "n", type: "noop" }] });
    expect(missing.status).toBe(400);
    expect(missing.json.error.details[0].path).toBe("policy.triggerId");
    const t = await createTrigger({ name: unique("used"), type: "webhook" });
    const wf = await group.createWorkflow({ name: unique("selects"), policy: { triggerId: t.id }, nodes: [{ name: "n", type: "noop" }] });
    const refused = await api("DELETE", `/api/v1/triggers/${t.id}`);
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/selects/);
    expect((await api("GET", `/api/v1/triggers/${t.id}`)).json.workflows).toMatchObject([{ id: wf.id, draft: true, published: false }]);
  });

  it("needs the edit role to manage triggers and the read role to see them", async () => {
    const viewer = await keyFor("viewer");
    expect((await api("POST", "/api/v1/triggers", { name: unique("v"), type: "webhook" }, viewer)).status).toBe(403);
    expect((await api("GET", "/api/v1/triggers", undefined, viewer)).status).toBe(200);
    const operator = await keyFor("operator");
    expect((await api("POST", "/api/v1/queues/user-behavior/messages", { key: unique("k"), value: "x" }, viewer)).status).toBe(403);
    expect((await api("POST", "/api/v1/queues/user-behavior/messages", { key: unique("k"), value: "x" }, operator)).status).toBe(202);
  });
});

describe("trigger test bench", () => {
  it("shows the trigger message, the verdict, the keys and how each reference resolves, without running", async () => {
    const t = await createTrigger({ name: unique("bench"), type: "r2", config: { bucket: "uploads", keyPattern: "input/*.csv" }, ordering: { key: "${workflow.triggerMessage.data.object.key}" } });
    const wf = await group.createWorkflow({
      name: unique("bench_wf"),
      policy: { triggerId: t.id },
      nodes: [shellNode("print_key", 'FILE_PATH="${workflow.triggerMessage.data.object.key}"\necho "A new file has arrived: ${FILE_PATH}"')],
    });
    await publish(wf.id);
    const res = await api("POST", `/api/v1/triggers/${t.id}/test`, { message: FIXTURES.put });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      triggerMessage: { specversion: "1.0", type: "r2:ObjectCreated:PutObject", subject: "input/test_file_20260310.csv" },
      matches: true,
      outcome: "would_start",
      dedupKey: "uploads/input/test_file_20260310.csv@c846ff7a18f28c2e262116d6e8719ef0",
      orderingKey: "input/test_file_20260310.csv",
      workflows: [{ id: wf.id, version: 1, wouldStart: true, references: [{ node: "print_key", ref: "${workflow.triggerMessage.data.object.key}", value: "input/test_file_20260310.csv" }] }],
    });
    const miss = await api("POST", `/api/v1/triggers/${t.id}/test`, { message: { ...FIXTURES.put, object: { key: "input/readme.txt" } } });
    expect(miss.json).toMatchObject({ matches: false, outcome: "key_mismatch" });
    const bad = await api("POST", `/api/v1/triggers/${t.id}/test`, { message: { key: "x" } });
    expect(bad.status).toBe(400);
    expect((await api("GET", `/api/v1/instances?workflowId=${wf.id}`)).json.items).toEqual([]);
    expect((await api("GET", `/api/v1/triggers/${t.id}/events`)).json.items).toEqual([]);
  });

  it("on a batching trigger shows the group the sample would join and resolves references against the batch's message", async () => {
    const t = await createTrigger({ name: unique("bench_batch"), type: "r2", config: { bucket: "uploads", keyPattern: "input/*.csv" }, batch: { maxEvents: 50, windowSeconds: 30, key: null } });
    const wf = await group.createWorkflow({
      name: unique("bench_batch_wf"),
      policy: { triggerId: t.id },
      nodes: [shellNode("count", 'echo "${workflow.triggerMessage.batch.count} files"')],
    });
    await publish(wf.id);
    const res = await api("POST", `/api/v1/triggers/${t.id}/test`, { message: FIXTURES.put });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      matches: true,
      outcome: "batched",
      detail: expect.stringMatching(/50 events arrived or 30 s after the first/),
      gatherKey: null,
      triggerMessage: { batch: { key: null, count: 1 }, events: [{ subject: "input/test_file_20260310.csv" }] },
      workflows: [{ id: wf.id, wouldStart: true, references: [{ node: "count", ref: "${workflow.triggerMessage.batch.count}", value: "1" }] }],
    });
    expect((await api("GET", `/api/v1/triggers/${t.id}/events`)).json.items).toEqual([]);
  });

  it("builds a queue record from a producer body and shows unresolvable references as errors", async () => {
    const t = await createTrigger({ name: unique("bench_q"), type: "queue", config: { queue: "user-behavior", key: "some-key" } });
    const wf = await group.createWorkflow({
      name: unique("bench_q_wf"),
      policy: { triggerId: t.id },
      nodes: [{ name: "parse", type: "python", code: "import json\nv = json.loads('${workflow.triggerMessage.value}')\nu = '${workflow.triggerMessage.user}'" }],
    });
    const res = await api("POST", `/api/v1/triggers/${t.id}/test`, { message: FIXTURES.userBehavior, messageId: "m-1" });
    expect(res.json).toMatchObject({
      triggerMessage: { topic: "user-behavior", key: "some-key", value: FIXTURES.userBehavior.value, id: "m-1" },
      matches: true,
      outcome: "unpublished",
      dedupKey: "m-1",
      workflows: [
        {
          id: wf.id,
          version: null,
          wouldStart: false,
          references: [
            { ref: "${workflow.triggerMessage.value}", value: FIXTURES.userBehavior.value },
            { ref: "${workflow.triggerMessage.user}", error: expect.stringMatching(/has no user/) },
          ],
        },
      ],
    });
  });
});

describe("OpenAPI", () => {
  it("documents the trigger, queue, upload and webhook endpoints", async () => {
    const doc = (await api("GET", "/api/v1/openapi.json", undefined, null)).json;
    for (const path of ["/api/v1/triggers", "/api/v1/triggers/{id}", "/api/v1/triggers/{id}/events", "/api/v1/triggers/{id}/test", "/api/v1/queues/{queue}/messages", "/api/v1/buckets/{bucket}/objects/{key}", "/hooks/{triggerId}"]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
  });
});
