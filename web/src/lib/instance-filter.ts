// The instances page keeps its filter in the query string, so a filtered list is a link.
import type { InstanceFilter } from "./api.ts";
import { isEnv, isInstanceStatus } from "./status.ts";

/** The filter a query string asks for; unknown statuses or environments are ignored, not sent. */
export function filterFromSearch(search: URLSearchParams): InstanceFilter {
  const filter: InstanceFilter = {};
  const workflowId = search.get("workflowId")?.trim();
  const status = search.get("status");
  const env = search.get("env");
  if (workflowId) filter.workflowId = workflowId;
  if (isInstanceStatus(status)) filter.status = status;
  if (isEnv(env)) filter.env = env;
  return filter;
}

/** `?workflowId=…&status=…&env=…` with only the parts that are set; empty for no filter. */
export function searchOfFilter(filter: InstanceFilter): string {
  const search = new URLSearchParams();
  if (filter.workflowId?.trim()) search.set("workflowId", filter.workflowId.trim());
  if (filter.status) search.set("status", filter.status);
  if (filter.env) search.set("env", filter.env);
  const text = search.toString();
  return text ? `?${text}` : "";
}
