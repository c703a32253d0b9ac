import { describe, expect, it } from "vitest";
import { SluiceError } from "../errors.ts";
import { parseTriggerInput, triggerSource } from "./config.ts";

const QUEUES = ["user-behavior"];
const parse = (input: unknown) => parseTriggerInput(input, QUEUES);
const refusal = (input: unknown) => {
  try {
    parse(input);
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
};

describe("trigger definitions", () => {
  it("fills defaults: object-create on every key, 24 h dedup by the type's default key, enabled", () => {
    const t = parse({ name: "uploads", type: "r2", config: { bucket: "uploads" } });
    expect(t).toMatchObject({
      type: "r2",
      config: { bucket: "uploads", events: ["object-create"], keyPattern: "**" },
      filter: null,
      dedup: { key: null, windowSeconds: 86_400 },
      ordering: null,
      enabled: true,
    });
    expect(triggerSource(t)).toBe("uploads");
  });

  it("accepts the scenario triggers of DESIGN §7", () => {
    expect(parse({ name: "r2", type: "r2", config: { bucket: "uploads", events: ["object-create"], keyPattern: "input/*.csv" } }).type).toBe("r2");
    const q = parse({ name: "q", type: "queue", config: { queue: "user-behavior", key: "some-key" } });
    expect(triggerSource(q)).toBe("user-behavior");
    expect(parse({ name: "w", type: "webhook" })).toMatchObject({ type: "webhook", config: {} });
  });

  it("refuses an unknown type, listing the known ones", () => {
    expect(refusal({ name: "x", type: "kafka", config: {} }).message).toMatch(/r2, queue, webhook/);
  });

  it("refuses a dedup window over 14 days", () => {
    const err = refusal({ name: "x", type: "webhook", dedup: { windowSeconds: 15 * 86_400 } });
    expect(err.details[0]).toMatchObject({ path: "dedup.windowSeconds" });
    expect(err.message).toMatch(/14 days/);
  });

  it("refuses a filter that does not compile, at save, as a 400 naming the filter", () => {
    const err = refusal({ name: "x", type: "r2", config: { bucket: "uploads" }, filter: "data.object.size >" });
    expect(err.status).toBe(400);
    expect(err.details[0]).toMatchObject({ path: "filter" });
  });

  it("refuses templates that use anything but the trigger message and dates", () => {
    const err = refusal({ name: "x", type: "queue", config: { queue: "user-behavior" }, ordering: { key: "${workflow.region}" }, dedup: { key: "${x:-${nodes.a.outputs.b}}" } });
    expect(err.details.map((d) => d.path).sort()).toEqual(["dedup.key", "dedup.key", "ordering.key"]);
    expect(parse({ name: "x", type: "queue", config: { queue: "user-behavior" }, dedup: { key: "${workflow.triggerMessage.key}-$[yyyymmdd]" } }).dedup.key).toContain("$[yyyymmdd]");
  });

  it("refuses a queue the Worker does not consume, naming the ones it does", () => {
    const err = refusal({ name: "x", type: "queue", config: { queue: "orders" } });
    expect(err.details[0]).toMatchObject({ path: "config.queue" });
    expect(err.message).toMatch(/user-behavior/);
  });

  it("refuses unknown fields and an invalid bucket name", () => {
    expect(refusal({ name: "x", type: "r2", config: { bucket: "uploads", prefix: "in/" } }).details[0]!.path).toBe("config");
    expect(refusal({ name: "x", type: "r2", config: { bucket: "Uploads!" } }).details[0]!.path).toBe("config.bucket");
  });
});
