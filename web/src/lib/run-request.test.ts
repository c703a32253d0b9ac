import { describe, expect, it } from "vitest";
import { parseTriggerMessage, runRequestFrom } from "./run-request.ts";

describe("runRequestFrom", () => {
  it("sends the run date and the parsed trigger message", () => {
    const result = runRequestFrom({ env: "dev", runDate: " 20260310 ", triggerMessage: '{"key":"input/a.csv"}' });
    expect(result).toEqual({
      ok: true,
      request: { env: "dev", runDate: "20260310", triggerMessage: { key: "input/a.csv" } },
    });
  });

  it("leaves out a blank run date and a blank message", () => {
    expect(runRequestFrom({ env: "prod", runDate: "", triggerMessage: "  \n" })).toEqual({
      ok: true,
      request: { env: "prod" },
    });
  });

  it("keeps a JSON message that is not an object, such as a string or null", () => {
    const result = runRequestFrom({ env: "dev", runDate: "", triggerMessage: "null" });
    expect(result).toEqual({ ok: true, request: { env: "dev", triggerMessage: null } });
  });

  it("sends a chosen logged event instead of the message text that previews it", () => {
    const result = runRequestFrom({ env: "dev", runDate: "20260310", triggerMessage: '{"cut": tru', fromEventId: "evt_1" });
    expect(result).toEqual({ ok: true, request: { env: "dev", runDate: "20260310", fromEventId: "evt_1" } });
  });

  it("rejects a run date that is not a real date", () => {
    const result = runRequestFrom({ env: "dev", runDate: "20260231", triggerMessage: "" });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.runDate).toMatch(/yyyymmdd/);
  });

  it("reports both problems at once", () => {
    const result = runRequestFrom({ env: "dev", runDate: "2026", triggerMessage: "{oops" });
    expect(!result.ok && Object.keys(result.errors).sort()).toEqual(["runDate", "triggerMessage"]);
  });
});

describe("parseTriggerMessage", () => {
  it("says why a message is not JSON", () => {
    const result = parseTriggerMessage("{'single': 'quotes'}");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^The trigger message is not valid JSON: /);
  });
});
