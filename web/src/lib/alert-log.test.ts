import { describe, expect, it } from "vitest";
import type { AlertDelivery } from "./api/types.ts";
import { alertTone, mergeDeliveries } from "./alert-log.ts";

const delivery = (id: string, createdAt: string, status: AlertDelivery["status"] = "pending"): AlertDelivery => ({
  id, instanceId: null, event: "failed", url: "https://x", format: "standard", status, attempts: 1, responseStatus: null, response: null, createdAt, updatedAt: createdAt,
});

describe("alertTone", () => {
  it("tells delivered, failed and pending apart", () => {
    expect(alertTone("delivered")).toBe("ok");
    expect(alertTone("failed")).toBe("bad");
    expect(alertTone("pending")).toBe("idle");
  });
});

describe("mergeDeliveries", () => {
  it("takes the fresh status of rows on the first page and keeps older loaded rows", () => {
    const shown = [delivery("c", "2026-03-10T10:03:00Z"), delivery("b", "2026-03-10T10:02:00Z"), delivery("a", "2026-03-10T10:01:00Z")];
    const head = [delivery("d", "2026-03-10T10:04:00Z"), delivery("c", "2026-03-10T10:03:00Z", "delivered")];
    const merged = mergeDeliveries(head, shown);
    expect(merged.map((d) => `${d.id}:${d.status}`)).toEqual(["d:pending", "c:delivered", "b:pending", "a:pending"]);
  });

  it("shows nothing but the head when the log is empty", () => {
    expect(mergeDeliveries([], [delivery("a", "2026-03-10T10:01:00Z")])).toEqual([]);
  });
});
