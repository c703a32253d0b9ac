// R2 triggers in the Workers runtime: notifications delivered to the queue handler, 1-3 times each.
import { describe, expect, it } from "vitest";
import { api, isolatedGroup, shellNode } from "./helpers.ts";
import { createTrigger, deliverBatch, eventsOf, eventually, FIXTURES, grantDirectly, instancesOf, message, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();
const R2_QUEUE = "sluice-r2-events";

/** An R2 trigger on its own bucket (so no other test's notifications reach it) and a published workflow on it. */
async function r2Setup(config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, published = true) {
  const bucket = unique("b");
  await grantDirectly("bucket", bucket);
  const trigger = await createTrigger({ name: unique("r2"), type: "r2", config: { bucket, events: ["object-create"], keyPattern: "input/*.csv", ...config }, ...extra });
  const wf = await group.createWorkflow({
    name: unique("process_r2_file_workflow"),
    policy: { triggerId: trigger.id },
    nodes: [shellNode("print_key", 'message="${workflow.triggerMessage}"\nFILE_PATH="${workflow.triggerMessage.data.object.key}"\necho "A new file has arrived: ${FILE_PATH}"')],
  });
  if (published) await publish(wf.id);
  const notification = (patch: Record<string, unknown> = {}) => ({ ...FIXTURES.put, bucket, ...patch });
  return { bucket, trigger, wf, notification };
}

describe("R2 triggers", () => {
  it("starts exactly one run per distinct upload when each notification is delivered 1-3 times", async () => {
    const { trigger, wf, notification } = await r2Setup();
    const a = notification();
    const b = notification({ object: { key: "input/b.csv", size: 10, eTag: "e-b" } });
    const c = notification({ object: { key: "input/c.csv", size: 10, eTag: "e-c" } });
    const at = new Date();
    // a once; b twice in one batch and again later; c three times as three different queue messages.
    const first = await deliverBatch(R2_QUEUE, [message("m-a", a, at), message("m-b", b, at), message("m-b", b, at), message("m-c1", c, at)]);
    expect(first.retryMessages).toEqual([]);
    expect(first.explicitAcks.sort()).toEqual(["m-a", "m-b", "m-b", "m-c1"].sort());
    await deliverBatch(R2_QUEUE, [message("m-b", b, at), message("m-c2", c, at), message("m-c3", c, at)]);
    const instances = await instancesOf(wf.id);
    expect(instances).toHaveLength(3);
    expect(instances.every((i) => i.triggerType === "r2")).toBe(true);
    const events = await eventsOf(trigger.id);
    // A redelivered message keeps its one row; c's other messages are logged as duplicates of its run.
    expect(events.filter((e) => e.outcome === "started")).toHaveLength(3);
    expect(events.filter((e) => e.outcome === "duplicate")).toHaveLength(2);
    expect(events.find((e) => e.sourceId === "m-b").deliveries).toBe(3);
  });

  it("gives the run the CloudEvents envelope as workflow.triggerMessage", async () => {
    const { bucket, wf, notification } = await r2Setup();
    await deliverBatch(R2_QUEUE, [message("m-1", notification())]);
    const [only] = await instancesOf(wf.id);
    const found = await api("GET", `/api/v1/instances/${only!.id}`);
    expect(found.json.triggerMessage).toMatchObject({
      specversion: "1.0",
      source: `r2://${bucket}`,
      type: "r2:ObjectCreated:PutObject",
      subject: "input/test_file_20260310.csv",
      time: "2026-03-11T05:40:45.379Z",
      datacontenttype: "application/json",
      data: notification(),
    });
  });

  it("starts nothing for a key that does not match, and logs a key mismatch", async () => {
    const { trigger, wf, notification } = await r2Setup();
    await deliverBatch(R2_QUEUE, [message("m-readme", notification({ object: { key: "input/readme.txt", size: 3, eTag: "x" } }))]);
    expect(await instancesOf(wf.id)).toEqual([]);
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "key_mismatch", detail: "key 'input/readme.txt' does not match input/*.csv", instanceIds: [] }]);
  });

  it("matches object-delete and specific actions, dedups deletes by event time", async () => {
    const deletes = await r2Setup({ events: ["object-delete"] });
    const del = deletes.notification({ ...FIXTURES.delete, bucket: deletes.bucket });
    await deliverBatch(R2_QUEUE, [message("d-1", del), message("d-2", del), message("p-1", deletes.notification())]);
    expect(await instancesOf(deletes.wf.id)).toHaveLength(1);
    expect((await eventsOf(deletes.trigger.id)).map((e) => e.outcome).sort()).toEqual(["duplicate", "filtered", "started"]);

    const copies = await r2Setup({ events: ["CopyObject"] });
    await deliverBatch(R2_QUEUE, [message("c-1", { ...FIXTURES.copy, bucket: copies.bucket }), message("p-2", copies.notification())]);
    expect(await instancesOf(copies.wf.id)).toHaveLength(1);
  });

  it("logs unpublished, disabled and filtered events and starts nothing", async () => {
    const unpublished = await r2Setup({}, {}, false);
    await deliverBatch(R2_QUEUE, [message("u-1", unpublished.notification())]);
    expect(await eventsOf(unpublished.trigger.id)).toMatchObject([{ outcome: "unpublished", detail: expect.stringContaining("process_r2_file_workflow") }]);
    expect(await instancesOf(unpublished.wf.id)).toEqual([]);

    const disabled = await r2Setup();
    expect((await api("POST", `/api/v1/triggers/${disabled.trigger.id}/disable`)).status).toBe(200);
    await deliverBatch(R2_QUEUE, [message("x-1", disabled.notification())]);
    expect(await eventsOf(disabled.trigger.id)).toMatchObject([{ outcome: "disabled" }]);
    expect(await instancesOf(disabled.wf.id)).toEqual([]);

    const filtered = await r2Setup({}, { filter: "data.object.size > 100000" });
    await deliverBatch(R2_QUEUE, [message("f-1", filtered.notification())]);
    expect(await eventsOf(filtered.trigger.id)).toMatchObject([{ outcome: "filtered", detail: "filter data.object.size > 100000 is false" }]);
    expect(await instancesOf(filtered.wf.id)).toEqual([]);
  });

  it("logs no_workflow when no workflow selects the trigger", async () => {
    const bucket = unique("b");
    await grantDirectly("bucket", bucket);
    const trigger = await createTrigger({ name: unique("lonely"), type: "r2", config: { bucket } });
    await deliverBatch(R2_QUEUE, [message("n-1", { ...FIXTURES.put, bucket })]);
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "no_workflow" }]);
  });

  it("retries a message that makes the consumer throw, acks the others, and loses nothing", async () => {
    const { wf, notification } = await r2Setup();
    const result = await deliverBatch(R2_QUEUE, [
      message("ok-1", notification({ object: { key: "input/1.csv", size: 1, eTag: "e1" } })),
      message("poison", { not: "an R2 notification" }),
      message("ok-2", notification({ object: { key: "input/2.csv", size: 1, eTag: "e2" } })),
    ]);
    expect(result.explicitAcks.sort()).toEqual(["ok-1", "ok-2"]);
    expect(result.retryMessages).toMatchObject([{ msgId: "poison" }]);
    expect(result.retryBatch.retry).toBe(false);
    expect(await instancesOf(wf.id)).toHaveLength(2);
  });

  it("starts every published workflow that selects the trigger", async () => {
    const { trigger, wf, notification } = await r2Setup();
    const second = await group.createWorkflow({ name: unique("second"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(second.id);
    await deliverBatch(R2_QUEUE, [message("both", notification())]);
    expect(await instancesOf(wf.id)).toHaveLength(1);
    expect(await instancesOf(second.id)).toHaveLength(1);
    expect((await eventsOf(trigger.id))[0].instanceIds).toHaveLength(2);
  });
});

describe("object upload", () => {
  it("stores the object and emulates R2's notification, which starts the run", async () => {
    const trigger = await createTrigger({ name: unique("uploads"), type: "r2", config: { bucket: "uploads", keyPattern: `${unique("in")}/*.csv` } });
    const pattern = (await api("GET", `/api/v1/triggers/${trigger.id}`)).json.config.keyPattern as string;
    const wf = await group.createWorkflow({ name: unique("upload_wf"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(wf.id);
    const key = pattern.replace("*", "data file $(x)");
    const res = await fetchUpload(`/api/v1/buckets/uploads/objects/${key.split("/").map(encodeURIComponent).join("/")}`, "a,b\n1,2\n");
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ bucket: "uploads", key, size: 8, notification: "sent" });
    const instances = await eventually(() => instancesOf(wf.id), (list) => list.length > 0);
    expect(instances).toHaveLength(1);
    const events = await eventsOf(trigger.id);
    expect(events[0]).toMatchObject({ outcome: "started", message: { subject: key, data: { account: "local", action: "PutObject", object: { key, size: 8 } } } });
  });

  it("deletes the object and emulates R2's DeleteObject notification for object-delete triggers", async () => {
    const prefix = unique("gone");
    const trigger = await createTrigger({ name: unique("deletes"), type: "r2", config: { bucket: "uploads", events: ["object-delete"], keyPattern: `${prefix}/**` } });
    const wf = await group.createWorkflow({ name: unique("delete_wf"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(wf.id);
    expect((await fetchUpload(`/api/v1/buckets/uploads/objects/${prefix}/a.csv`, "x")).status).toBe(201);
    const { SELF } = await import("cloudflare:test");
    const res = await SELF.fetch(`http://sluice.test/api/v1/buckets/uploads/objects/${prefix}/a.csv`, { method: "DELETE", headers: { authorization: "Bearer test-admin-key" } });
    expect(res.status).toBe(200);
    const events = await eventually(() => eventsOf(trigger.id), (list) => list.some((e) => e.outcome === "started"));
    expect(events.find((e) => e.outcome === "started").message).toMatchObject({ type: "r2:ObjectDeleted:DeleteObject", subject: `${prefix}/a.csv` });
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });

  it("answers 404 naming the bound buckets for any other bucket", async () => {
    const res = await fetchUpload("/api/v1/buckets/elsewhere/objects/a.csv", "x");
    expect(res.status).toBe(404);
    expect(res.json.error.message).toMatch(/uploads/);
  });
});

async function fetchUpload(path: string, content: string) {
  const { SELF } = await import("cloudflare:test");
  const res = await SELF.fetch(`http://sluice.test${path}`, { method: "PUT", headers: { authorization: "Bearer test-admin-key", "content-type": "text/csv" }, body: content });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}
