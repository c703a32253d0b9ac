// The instances page keeps its filter in the query string, so a filtered list is a link.
import type { InstanceFilter, InstanceSummary, TriggerType } from "./api/types.ts";
import { isEnv, isInstanceStatus } from "./status.ts";

export const TRIGGER_TYPES: readonly TriggerType[] = ["manual", "api", "r2", "queue", "webhook"];
/** Time windows the page offers, in hours. */
export const SINCE_CHOICES = [
  { hours: 1, label: "Last hour" },
  { hours: 24, label: "Last 24 hours" },
  { hours: 24 * 7, label: "Last 7 days" },
  { hours: 24 * 30, label: "Last 30 days" },
] as const;

/** The API filters by workflow, status and environment; trigger type and time are applied to the loaded pages. */
export interface ConsoleFilter extends InstanceFilter {
  triggerType?: TriggerType;
  /** Only instances created within this many hours. */
  sinceHours?: number;
}

/** The filter a query string asks for; unknown values are ignored, not sent. */
export function filterFromSearch(search: URLSearchParams): ConsoleFilter {
  const filter: ConsoleFilter = {};
  const workflowId = search.get("workflowId")?.trim();
  const status = search.get("status");
  const env = search.get("env");
  const triggerType = search.get("trigger");
  const since = Number(search.get("since"));
  if (workflowId) filter.workflowId = workflowId;
  if (isInstanceStatus(status)) filter.status = status;
  if (isEnv(env)) filter.env = env;
  if (TRIGGER_TYPES.includes(triggerType as TriggerType)) filter.triggerType = triggerType as TriggerType;
  if (SINCE_CHOICES.some((c) => c.hours === since)) filter.sinceHours = since;
  return filter;
}

/** `?workflowId=…&status=…&env=…&trigger=…&since=…` with only the parts that are set; empty for no filter. */
export function searchOfFilter(filter: ConsoleFilter): string {
  const search = new URLSearchParams();
  if (filter.workflowId?.trim()) search.set("workflowId", filter.workflowId.trim());
  if (filter.status) search.set("status", filter.status);
  if (filter.env) search.set("env", filter.env);
  if (filter.triggerType) search.set("trigger", filter.triggerType);
  if (filter.sinceHours) search.set("since", String(filter.sinceHours));
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** What the API can filter on. */
export function serverFilter({ workflowId, status, env }: ConsoleFilter): InstanceFilter {
  return { workflowId, status, env };
}

/** The loaded instances that also match the trigger type and time window. */
export function matchesLocally(instance: InstanceSummary, filter: ConsoleFilter, now: Date = new Date()): boolean {
  if (filter.triggerType && instance.triggerType !== filter.triggerType) return false;
  if (filter.sinceHours && Date.parse(instance.createdAt) < now.getTime() - filter.sinceHours * 3_600_000) return false;
  return true;
}
