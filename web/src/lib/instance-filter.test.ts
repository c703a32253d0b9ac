import { describe, expect, it } from "vitest";
import type { InstanceSummary } from "./api/types.ts";
import { filterFromSearch, matchesLocally, searchOfFilter, serverFilter } from "./instance-filter.ts";

describe("filterFromSearch", () => {
  it("reads the workflow, status and environment", () => {
    const search = new URLSearchParams("workflowId=wf_1&status=failed&env=prod");
    expect(filterFromSearch(search)).toEqual({ workflowId: "wf_1", status: "failed", env: "prod" });
  });

  it("drops values the API does not know", () => {
    const search = new URLSearchParams("workflowId=%20%20&status=broken&env=staging");
    expect(filterFromSearch(search)).toEqual({});
  });
});

describe("searchOfFilter", () => {
  it("round-trips a filter through the query string", () => {
    const filter = { workflowId: "wf 1/é", status: "running", env: "dev" } as const;
    expect(filterFromSearch(new URLSearchParams(searchOfFilter(filter)))).toEqual(filter);
  });

  it("is empty when nothing is filtered", () => {
    expect(searchOfFilter({ workflowId: " " })).toBe("");
  });
});

describe("trigger type and time", () => {
  const instance = (triggerType: string, createdAt: string) => ({ triggerType, createdAt }) as InstanceSummary;

  it("round-trips trigger type and time window, and sends only what the API filters on", () => {
    const filter = filterFromSearch(new URLSearchParams("trigger=r2&since=24&status=failed&since_bad=1"));
    expect(filter).toEqual({ triggerType: "r2", sinceHours: 24, status: "failed" });
    expect(filterFromSearch(new URLSearchParams(searchOfFilter(filter)))).toEqual(filter);
    expect(serverFilter(filter)).toEqual({ workflowId: undefined, status: "failed", env: undefined });
  });

  it("ignores unknown trigger types and windows", () => {
    expect(filterFromSearch(new URLSearchParams("trigger=cron&since=5"))).toEqual({});
  });

  it("keeps loaded instances of the trigger type within the window", () => {
    const now = new Date("2026-03-10T12:00:00Z");
    const filter = { triggerType: "r2" as const, sinceHours: 1 };
    expect(matchesLocally(instance("r2", "2026-03-10T11:30:00Z"), filter, now)).toBe(true);
    expect(matchesLocally(instance("r2", "2026-03-10T10:30:00Z"), filter, now)).toBe(false);
    expect(matchesLocally(instance("manual", "2026-03-10T11:30:00Z"), filter, now)).toBe(false);
  });
});
