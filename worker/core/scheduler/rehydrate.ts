// A finished instance gone from live state, rebuilt from its D1 history so a rerun can give its nodes new attempts.
import { Dag } from "../dag.ts";
import type { WorkflowDefinition } from "../definition.ts";
import { FINISHED_INSTANCE, notChosenReason, type InstanceStatus } from "../progress.ts";
import type { InstanceRecord, NodeRunRecord } from "./records.ts";

/**
 * The instance as D1 keeps it: the live record without its arrival number and limit. Rows mirrored before
 * D1 kept them have no def_hash and cyctime.
 */
export type HistoryInstance = Omit<InstanceRecord, "seq" | "max_parallel" | "concurrency_limit" | "def_hash" | "cyctime"> & {
  def_hash: string | null;
  cyctime: number | null;
};
/** A node attempt as D1 keeps it. */
export type HistoryRun = Omit<NodeRunRecord, "current" | "not_before" | "chosen" | "lost" | "exiting">;

/**
 * The live records of a finished instance from its history and the definition it ran (`defHash`: the one
 * its row names, or for a row from before D1 kept it, its published version's): the latest attempt of each
 * node is current (earlier ones stay history in D1). Its ordering key and priority override come back as
 * they were, so a rerun waits in line as the instance did; what D1 does not keep is derived: a branch's
 * choice from the nodes it skipped, the limit from the definition, an old row's cyctime from its creation.
 */
export function liveRecordsFromHistory(
  row: HistoryInstance,
  history: readonly HistoryRun[],
  def: WorkflowDefinition,
  defHash: string,
): { instance: Omit<InstanceRecord, "seq">; runs: NodeRunRecord[] } {
  if (!FINISHED_INSTANCE.has(row.status as InstanceStatus)) throw new Error(`instance ${row.id} is ${row.status}: only a finished one is rebuilt from history`);
  const latest = new Map<string, HistoryRun>();
  for (const run of history) if ((latest.get(run.node_name)?.attempt ?? 0) < run.attempt) latest.set(run.node_name, run);
  const dag = new Dag(def.nodes.map((n) => n.name), def.edges);
  const branches = new Set(def.nodes.filter((n) => n.type === "branch").map((n) => n.name));
  const runs = [...latest.values()]
    .filter((run) => def.nodes.some((n) => n.name === run.node_name))
    .map((run): NodeRunRecord => {
      const notChosen = (to: string) => latest.get(to)?.status === "skipped" && latest.get(to)?.error === notChosenReason(run.node_name);
      const chosen = branches.has(run.node_name) && run.status === "succeeded" ? JSON.stringify(dag.downstream(run.node_name).filter((to) => !notChosen(to))) : null;
      return { ...run, current: 1, not_before: null, chosen, lost: 0, exiting: 0 };
    });
  const instance: Omit<InstanceRecord, "seq"> = {
    ...row,
    def_hash: defHash,
    max_parallel: def.policy.maxParallel,
    concurrency_limit: def.policy.concurrency?.limit ?? null,
    concurrency_key: row.concurrency_key ?? null,
    reason: row.reason ?? null,
    cyctime: row.cyctime ?? row.created_at,
  };
  return { instance, runs };
}
