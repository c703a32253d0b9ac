import { describe, expect, it } from "vitest";
import { compileFilter, evaluateFilter } from "./filter.ts";

const event = { type: "r2:ObjectCreated:PutObject", data: { object: { key: "input/a.csv", size: 59537 } } };

describe("trigger filters (CEL)", () => {
  it("evaluates conditions over the message's fields", () => {
    expect(evaluateFilter("data.object.size > 0", event)).toEqual({ pass: true });
    expect(evaluateFilter('data.object.key.endsWith(".csv") && message.type == "r2:ObjectCreated:PutObject"', event)).toEqual({ pass: true });
    expect(evaluateFilter("data.object.size > 100000", event)).toEqual({ pass: false });
    expect(evaluateFilter('key == "some-key" && value.contains("login")', { key: "some-key", value: '{"action_type":"login"}' })).toEqual({ pass: true });
    expect(evaluateFilter("has(data.object.eTag)", event)).toEqual({ pass: false });
  });

  it("refuses at compile time a syntax error, an unknown function and a non-boolean result", () => {
    expect(compileFilter("data.object.size >").ok).toBe(false);
    expect(compileFilter("nosuchfn(1)").ok).toBe(false);
    const numeric = compileFilter("1 + 2");
    expect(numeric.ok).toBe(false);
    expect(!numeric.ok && numeric.error).toMatch(/bool/);
  });

  it("filters out with the error when evaluation fails, e.g. a missing field", () => {
    const result = evaluateFilter('data.object.eTag == "x"', event);
    expect(result.pass).toBe(false);
    expect(!result.pass && result.error).toMatch(/eTag/);
  });

  it("filters out a dynamic result that is not a boolean, naming it", () => {
    const result = evaluateFilter("data.object.key", event);
    expect(result).toEqual({ pass: false, error: 'the filter gave "input/a.csv", not true or false' });
  });

  it("binds the whole message as `message`, for reserved names like type and for non-object messages", () => {
    expect(evaluateFilter('message.type.startsWith("r2:ObjectCreated:")', event)).toEqual({ pass: true });
    expect(evaluateFilter("size(message) == 2", [1, 2])).toEqual({ pass: true });
    expect(evaluateFilter("x == 1", "text").pass).toBe(false);
  });
});
