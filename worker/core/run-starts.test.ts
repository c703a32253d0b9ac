// Tests for resolving run requests: parameters, cycle time and naming the bad run of a batch.
import { describe, expect, it } from "vitest";
import { DefinitionSchema } from "./definition.ts";
import { SluiceError } from "./errors.ts";
import { resolveRuns, type RunSpec } from "./run-starts.ts";

const def = DefinitionSchema.parse({ name: "w", params: { region: "eu", day: "x" }, policy: { timezone: "Asia/Shanghai" }, nodes: [{ name: "a", type: "noop" }] });
const run = (extra: Partial<RunSpec> = {}): RunSpec => ({
  instanceId: "ins_1",
  env: "dev",
  receivedAt: Date.UTC(2026, 2, 10, 12),
  runDate: null,
  priorityOverride: null,
  triggerType: "api",
  triggerMessage: {},
  params: null,
  ...extra,
});

function refusal(runs: RunSpec[], batch: boolean): SluiceError {
  try {
    resolveRuns(runs, () => def, batch);
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("resolveRuns", () => {
  it("overrides declared parameters and takes the cycle time from the run date in the workflow's time zone", () => {
    const [resolved] = resolveRuns([run({ params: { region: "us" }, runDate: "20260310" })], () => def, false);
    expect(resolved!.params).toEqual({ region: "us", day: "x" });
    expect(resolved!.cyctime).toBe(Date.UTC(2026, 2, 9, 16)); // midnight in Shanghai
  });

  it("uses the receive time and the declared values when the run names neither", () => {
    expect(resolveRuns([run()], () => def, false)).toEqual([{ params: { region: "eu", day: "x" }, cyctime: Date.UTC(2026, 2, 10, 12), concurrencyKey: null }]);
  });

  it("names the bad run of a batch by its place and field", () => {
    const err = refusal([run(), run({ params: { nope: "1" } }), run()], true);
    expect(err.status).toBe(400);
    expect(err.details).toEqual([expect.objectContaining({ path: "runs[1].params.nope" })]);
    expect(err.message).toMatch(/^runs\[1\]: .*'nope'/);
  });

  it("gathers the problems of every bad run, not only the first", () => {
    const err = refusal([run({ runDate: "20260230" }), run(), run({ params: { z: "1" } })], true);
    expect(err.details.map((d) => d.path)).toEqual(["runs[0].runDate", "runs[2].params.z"]);
  });

  it("keeps the single run's own message outside a batch", () => {
    expect(refusal([run({ params: { b: "2" } })], false).message).toMatch(/^params 'b'/);
  });
});
