// Tests for policy.concurrency.key: save-time checks and resolution per run (templates and CEL).
import { describe, expect, it } from "vitest";
import { checkConcurrencyKey, resolveConcurrencyKey } from "./concurrency-key.ts";
import { DefinitionSchema } from "./definition.ts";
import { runClock } from "./params/index.ts";
import { resolveRuns, type RunSpec } from "./run-starts.ts";
import { parseDefinition } from "./validate.ts";

const withKey = (key: string) => ({ name: "w", params: { tenant: "t1" }, policy: { concurrency: { key, limit: 2 } }, nodes: [{ name: "a", type: "noop" }] });
const clock = runClock({ receivedAt: new Date(Date.UTC(2026, 2, 10, 12)), timezone: "UTC" });
const ctx = (triggerMessage: unknown, params: Record<string, string> = { tenant: "t1" }) => ({ triggerMessage, params, clock });

describe("checkConcurrencyKey", () => {
  it("accepts trigger message paths, workflow parameters, dates and CEL", () => {
    for (const key of ["${workflow.triggerMessage.user}", "${workflow.tenant}-${tenant}", "$[yyyymmdd]-${bizdate}", "global", "cel:bytes(workflow.triggerMessage.value).json().user"]) {
      expect(checkConcurrencyKey(DefinitionSchema.parse(withKey(key))), key).toEqual([]);
    }
  });

  it("refuses at save a key no run can resolve, naming policy.concurrency.key", () => {
    const refused = (key: string) => {
      try {
        parseDefinition(withKey(key));
      } catch (err) {
        return (err as { details: { path?: string; message: string }[] }).details;
      }
      throw new Error(`expected ${key} to be refused`);
    };
    expect(refused("${nodes.a.outputs.x}")).toEqual([expect.objectContaining({ path: "policy.concurrency.key", message: expect.stringMatching(/node outputs do not exist yet/) })]);
    expect(refused("${workflow.nope}")[0]!.message).toMatch(/the workflow has no parameter nope/);
    expect(refused("${nope}")[0]!.message).toMatch(/no workflow parameter is named nope/);
    expect(refused("cel:workflow.triggerMessage.(")[0]).toEqual(expect.objectContaining({ path: "policy.concurrency.key", message: expect.stringMatching(/does not compile/) }));
  });
});

describe("resolveConcurrencyKey", () => {
  it("resolves a template over the trigger message and parameters", () => {
    expect(resolveConcurrencyKey("${workflow.triggerMessage.user}/${tenant}", ctx({ user: "u1" }))).toEqual({ value: "u1/t1" });
  });

  it("reaches a field inside a JSON string value with CEL", () => {
    const message = { topic: "q", key: null, value: JSON.stringify({ user: "u7", n: 3 }) };
    expect(resolveConcurrencyKey("cel:bytes(workflow.triggerMessage.value).json().user", ctx(message))).toEqual({ value: "u7" });
    expect(resolveConcurrencyKey("cel:bytes(workflow.triggerMessage.value).json().n", ctx(message))).toEqual({ value: "3" });
    expect(resolveConcurrencyKey("cel:workflow.params.tenant + '-x'", ctx({}))).toEqual({ value: "t1-x" });
  });

  it("says why a key cannot be resolved: a missing field, or a value too long", () => {
    expect(resolveConcurrencyKey("${workflow.triggerMessage.user}", ctx({}))).toEqual({ error: expect.stringMatching(/^policy.concurrency.key could not be resolved: .*user/) });
    expect(resolveConcurrencyKey("cel:workflow.triggerMessage.user", ctx({}))).toEqual({ error: expect.stringMatching(/could not be resolved/) });
    expect(resolveConcurrencyKey("${workflow.triggerMessage.big}", ctx({ big: "x".repeat(600) }))).toEqual({ error: expect.stringMatching(/600 characters; a key value is at most 512/) });
  });

  it("is resolved once per run when the run's parameters are", () => {
    const def = DefinitionSchema.parse(withKey("${workflow.triggerMessage.user}"));
    const run = (triggerMessage: unknown): RunSpec => ({
      instanceId: "ins_1", env: "dev", receivedAt: 0, runDate: null, priorityOverride: null, triggerType: "api", triggerMessage, params: null,
    });
    const [found, missing] = resolveRuns([run({ user: "u1" }), run({})], () => def, true);
    expect(found!.concurrencyKey).toEqual({ value: "u1" });
    expect(missing!.concurrencyKey).toEqual({ error: expect.stringMatching(/could not be resolved/) });
  });
});
