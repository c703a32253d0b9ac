// Tenant boundaries: pool names per workspace and source grants.
import { describe, expect, it } from "vitest";
import { holds, normalizeGrants, notGrantedReason, poolName, revokedSourceDetail, unknownSources } from "./tenancy.ts";

describe("poolName", () => {
  it("keeps the default workspace on the group's bare name, where its pools were before", () => {
    expect(poolName("default", "etl")).toBe("etl");
  });

  it("gives another workspace's group of the same name its own pool", () => {
    expect(poolName("ws_b", "default")).toBe("ws_b/default");
    expect(poolName("ws_b", "default")).not.toBe(poolName("default", "default"));
    expect(poolName("ws_b", "etl")).not.toBe(poolName("ws_c", "etl"));
  });
});

describe("source grants", () => {
  const installed = { buckets: ["uploads"], queues: ["user-behavior"] };

  it("names every source the installation does not have, with the ones it has", () => {
    expect(unknownSources({ buckets: ["uploads", "secret"], queues: ["nope"] }, installed)).toEqual([
      { path: "buckets[1]", message: "buckets[1]: this installation has no bucket 'secret' (its buckets: uploads)" },
      { path: "queues[0]", message: "queues[0]: this installation has no queue 'nope' (its queues: user-behavior)" },
    ]);
  });

  it("accepts a subset of the installation's sources, and none at all", () => {
    expect(unknownSources({ buckets: ["uploads"], queues: [] }, installed)).toEqual([]);
    expect(unknownSources({ buckets: [], queues: [] }, installed)).toEqual([]);
  });

  it("stores each name once, sorted", () => {
    expect(normalizeGrants({ buckets: ["b", "a", "b"], queues: [] })).toEqual({ buckets: ["a", "b"], queues: [] });
  });

  it("refuses a source not held, naming it, and allows one held", () => {
    const grants = { buckets: ["uploads"], queues: [] };
    expect(holds(grants, "bucket", "uploads")).toBe(true);
    expect(notGrantedReason(grants, "bucket", "uploads")).toBeNull();
    expect(notGrantedReason(grants, "queue", "user-behavior")).toMatch(/not granted queue 'user-behavior'/);
    expect(notGrantedReason(grants, "bucket", "other")).toMatch(/bucket 'other'/);
  });

  it("says why a revoked source's events no longer reach a trigger", () => {
    expect(revokedSourceDetail("queue", "user-behavior")).toMatch(/no longer holds queue 'user-behavior'/);
  });
});
