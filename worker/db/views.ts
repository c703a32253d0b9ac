// The API's view of an instance, built from the same rows whether they come from D1 or a coordinator.
import type { InstanceStatus, NodeStatus } from "../core/progress.ts";
import type { TriggerType } from "../core/runs.ts";
import type { InstanceRow, NodeRunRow } from "./mirror.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function instanceSummary(r: InstanceRow) {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    workflowName: r.workflow_name,
    version: r.version,
    // The rows hold what the coordinator wrote from these unions; the API's schema (api/response-schemas.ts) names them.
    env: r.env as "dev" | "prod",
    status: r.status as InstanceStatus,
    priority: r.priority,
    runDate: r.run_date,
    triggerType: r.trigger_type as TriggerType,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    /** Why a skipped instance never ran (or who replaced a terminated one). */
    reason: r.reason ?? null,
    /** The value policy.concurrency.key resolved to at its start. */
    concurrencyKey: r.concurrency_key ?? null,
  };
}

/** The instance with the latest attempt of each node; older attempts stay as history behind `?attempt=`. */
export function instanceView(r: InstanceRow, runs: readonly NodeRunRow[], waitReason: string | null = null) {
  const latest = new Map<string, NodeRunRow>();
  for (const run of runs) {
    const seen = latest.get(run.node_name);
    if (!seen || seen.attempt < run.attempt) latest.set(run.node_name, run);
  }
  return {
    ...instanceSummary(r),
    triggerMessage: JSON.parse(r.trigger_message) as unknown,
    params: JSON.parse(r.params) as Record<string, string>,
    waitReason,
    nodes: [...latest.values()]
      .sort((a, b) => a.node_name.localeCompare(b.node_name))
      .map((n) => ({
        name: n.node_name,
        type: n.node_type,
        status: n.status as NodeStatus,
        attempt: n.attempt,
        queuedAt: iso(n.queued_at),
        startedAt: iso(n.started_at),
        finishedAt: iso(n.finished_at),
        exitCode: n.exit_code,
        error: n.error,
        outputs: n.outputs ? (JSON.parse(n.outputs) as Record<string, string>) : {},
      })),
  };
}

export type InstanceView = ReturnType<typeof instanceView>;
