import { describe, expect, it } from "vitest";
import { filterFromSearch, searchOfFilter } from "./instance-filter.ts";

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
