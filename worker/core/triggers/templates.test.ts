import { describe, expect, it } from "vitest";
import { checkTemplate, resolveTemplate } from "./templates.ts";

const at = Date.UTC(2026, 2, 11, 5, 40, 45);

describe("trigger templates", () => {
  it("resolves paths into the trigger message, defaults and dates", () => {
    const message = { key: "user-1", data: { eventTime: "T" } };
    expect(resolveTemplate("${workflow.triggerMessage.key}", message, at)).toEqual({ ok: true, value: "user-1" });
    expect(resolveTemplate("${workflow.triggerMessage.data.eTag:-${workflow.triggerMessage.data.eventTime}}", message, at)).toEqual({ ok: true, value: "T" });
    expect(resolveTemplate("$[yyyymmdd]/${bizdate}", message, at)).toEqual({ ok: true, value: "20260311/20260310" });
  });

  it("reports a path the message lacks, naming it", () => {
    const result = resolveTemplate("${workflow.triggerMessage.user.id}", { key: "k" }, at);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/workflow\.triggerMessage\.user\.id/);
  });

  it("accepts only trigger-message references, builtins and dates", () => {
    expect(checkTemplate("${workflow.triggerMessage.a[0].b}-${cyctime}-$[hh24miss]", "dedup.key")).toEqual([]);
    expect(checkTemplate("${target}", "dedup.key")[0]!.message).toMatch(/\$\{target\} is not available to a trigger/);
  });
});
