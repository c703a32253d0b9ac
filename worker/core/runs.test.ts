// Tests for run requests: which version an environment runs, run-time params, message size, priority.
import { describe, expect, it } from "vitest";
import { DefinitionSchema } from "./definition.ts";
import { SluiceError } from "./errors.ts";
import { checkTriggerMessageSize, effectivePriority, MAX_TRIGGER_MESSAGE_BYTES, mergeRunParams, versionForRun } from "./runs.ts";

const def = DefinitionSchema.parse({ name: "w", policy: { priority: 3 }, nodes: [{ name: "a", type: "noop", priority: 7 }, { name: "b", type: "noop" }] });

describe("versionForRun", () => {
  it("runs the draft in dev and the published version in prod", () => {
    expect(versionForRun({ publishedVersion: 4 }, "dev")).toBeNull();
    expect(versionForRun({ publishedVersion: 4 }, "prod")).toBe(4);
  });

  it("refuses prod without a published version with 409 not_published", () => {
    const run = () => versionForRun({ publishedVersion: null }, "prod");
    expect(run).toThrow(SluiceError);
    expect(run).toThrow(/publish it/);
  });
});

describe("mergeRunParams", () => {
  it("overrides declared params and keeps the rest", () => {
    expect(mergeRunParams({ a: "1", b: "2" }, { b: "3" })).toEqual({ a: "1", b: "3" });
  });

  it("names params the workflow does not declare", () => {
    expect(() => mergeRunParams({ a: "1" }, { z: "9" })).toThrow(/'z'.*declared: a/);
  });
});

describe("checkTriggerMessageSize", () => {
  it("accepts up to 128 KB and refuses more with 413", () => {
    expect(() => checkTriggerMessageSize({ v: "x".repeat(1000) })).not.toThrow();
    try {
      checkTriggerMessageSize({ v: "x".repeat(MAX_TRIGGER_MESSAGE_BYTES) });
      expect.unreachable();
    } catch (err) {
      expect((err as SluiceError).status).toBe(413);
    }
  });
});

describe("effectivePriority", () => {
  it("prefers the runtime override, then the node's, then the workflow's", () => {
    const [a, b] = def.nodes;
    expect(effectivePriority(8, a!, def)).toBe(8);
    expect(effectivePriority(null, a!, def)).toBe(7);
    expect(effectivePriority(null, b!, def)).toBe(3);
  });
});
