// Rows the coordinator writes: its live instance as D1 mirrors it, and a node's fresh attempt.
import type { InstanceRow, NodeRunRow } from "../db/mirror.ts";
import type { LiveInstance } from "./store.ts";

export function mirrorRow(i: LiveInstance): InstanceRow {
  const { seq: _s, def_hash: _d, priority_override: _p, max_parallel: _m, ordering_key: _o, cyctime: _c, ...row } = i;
  return row;
}

export function pendingRun(instanceId: string, nodeName: string, nodeType: string, attempt: number): NodeRunRow {
  return {
    id: `${instanceId.replace(/^ins_/, "run_")}_${nodeName}_${attempt}`,
    instance_id: instanceId,
    node_name: nodeName,
    node_type: nodeType,
    attempt,
    status: "pending",
    runner_id: null,
    queued_at: null,
    started_at: null,
    finished_at: null,
    exit_code: null,
    error: null,
    outputs: null,
  };
}
