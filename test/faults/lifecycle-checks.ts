// What the fault suite checks of lifecycles: ordering keys start in arrival order, terminated instances run nothing
// afterwards, no node runs twice at once, and nothing is handed out after it finished.
import type { HttpCall } from "./http-target.ts";
import { readCoordinator, type InstanceRow, type NodeRunRow } from "./invariants.ts";
import type { Operation } from "./operators.ts";
import type { Claim, Execution } from "./runners.ts";
import { tagIn, type World } from "./world.ts";

export interface LifecycleVerdict {
  /** Instances of one ordering key that started out of their arrival order. */
  outOfOrder: number;
  /** Node work that began after its instance's terminate was answered (and before any rerun of it). */
  ranAfterTerminate: number;
  /** Two processes (or http requests) of one node of one instance at the same time. */
  concurrentAttempts: number;
  /** Attempts claimed after the coordinator had recorded them finished (completed, lost, timed out or terminated). */
  claimedAfterFinish: number;
  /** Overlaps where the older process had lost its lease while alive (a slow runner, not injected): the lease model's limit. */
  overlapsAfterLostLease: number;
  problems: string[];
}

interface Live {
  instances: (InstanceRow & { workflow: string })[];
  runs: Map<string, NodeRunRow>;
}

async function readAll(world: World): Promise<Live> {
  const live: Live = { instances: [], runs: new Map() };
  for (const wf of world.workflows) {
    const { instances, nodeRuns } = await readCoordinator(wf);
    live.instances.push(...instances.map((i) => ({ ...i, workflow: wf.name })));
    for (const run of nodeRuns) live.runs.set(run.id, run);
  }
  return live;
}

export async function judgeLifecycles(
  world: World,
  operations: Operation[],
  claims: Claim[],
  executions: Execution[],
  httpCalls: HttpCall[],
  httpEnd: (call: HttpCall) => number,
): Promise<LifecycleVerdict> {
  const v: LifecycleVerdict = { outOfOrder: 0, ranAfterTerminate: 0, concurrentAttempts: 0, claimedAfterFinish: 0, overlapsAfterLostLease: 0, problems: [] };
  const note = (p: string) => v.problems.length < 30 && v.problems.push(p);
  const live = await readAll(world);
  const rerun = new Set(operations.filter((o) => o.kind === "rerun").map((o) => o.instanceId));

  // Ordering keys: by arrival (the coordinator's seq), each instance that started did so after the ones before it.
  for (const wf of world.workflows.filter((w) => w.ordered)) {
    const keys = new Map<string, InstanceRow[]>();
    for (const i of live.instances.filter((i) => i.workflow === wf.name && i.ordering_key !== null && !rerun.has(i.id))) {
      keys.set(i.ordering_key!, [...(keys.get(i.ordering_key!) ?? []), i]);
    }
    for (const [key, rows] of keys) {
      const started = rows.filter((i) => i.started_at !== null).sort((a, b) => a.seq - b.seq);
      for (let k = 1; k < started.length; k++) {
        if (started[k]!.started_at! >= started[k - 1]!.started_at!) continue;
        v.outOfOrder++;
        note(`${wf.name}: ordering key ${key}: ${started[k]!.id} (arrived #${started[k]!.seq}) started before ${started[k - 1]!.id} (#${started[k - 1]!.seq})`);
      }
    }
  }

  // Terminate: from its answer until the instance is rerun, no claim, no http request, no node start.
  const tagOf = new Map(live.instances.map((i) => [i.id, tagIn(i.trigger_message)]));
  const hooked = new Set(live.instances.filter((i) => i.workflow === "hooked").map((i) => i.id));
  for (const op of operations.filter((o) => o.kind === "terminate" && o.answeredAt !== null)) {
    const after = op.answeredAt!;
    // A rerun asked for while (or after) the terminate was under way ends the window when it is asked for.
    const until = Math.min(...operations.filter((o) => o.kind === "rerun" && o.instanceId === op.instanceId && o.requestedAt >= op.requestedAt).map((o) => o.requestedAt), Infinity);
    const within = (t: number | null) => t !== null && t > after && t < until;
    for (const c of claims.filter((c) => c.instanceId === op.instanceId && within(c.sentAt))) {
      v.ranAfterTerminate++;
      note(`${op.workflow}: ${c.attemptId} claimed ${c.sentAt - after} ms after its instance's terminate was answered`);
    }
    const tag = tagOf.get(op.instanceId);
    if (hooked.has(op.instanceId) && tag) {
      for (const call of httpCalls.filter((h) => h.tag === tag && within(h.from))) {
        v.ranAfterTerminate++;
        note(`${op.workflow}: an http request for ${op.instanceId} began ${call.from - after} ms after its terminate was answered`);
      }
    }
    for (const run of [...live.runs.values()].filter((r) => r.instance_id === op.instanceId && within(r.started_at) && r.status !== "terminated")) {
      v.ranAfterTerminate++;
      note(`${op.workflow}: node run ${run.id} started ${run.started_at! - after} ms after its instance's terminate was answered`);
    }
  }

  // One process per node: runner executions of a node (any attempt) never overlap, nor do its http requests. A lost
  // attempt's overlap is counted apart (overlapsAfterLostLease) to say which rule broke: the runner's lease watch.
  const byNode = new Map<string, Execution[]>();
  for (const e of executions) byNode.set(`${e.instanceId}/${e.nodeName}`, [...(byNode.get(`${e.instanceId}/${e.nodeName}`) ?? []), e]);
  for (const [node, list] of byNode) {
    const sorted = list.sort((a, b) => a.from - b.from);
    for (let k = 1; k < sorted.length; k++) {
      const earlier = sorted.slice(0, k).find((e) => (e.to ?? Infinity) > sorted[k]!.from);
      if (!earlier) continue;
      if (live.runs.get(earlier.attemptId)?.error?.startsWith("lost:")) {
        v.overlapsAfterLostLease++;
        continue;
      }
      v.concurrentAttempts++;
      note(`${node}: ${sorted[k]!.attemptId} started while ${earlier.attemptId} still ran (${live.runs.get(earlier.attemptId)?.status}: ${live.runs.get(earlier.attemptId)?.error})`);
    }
  }
  const byTag = new Map<string, HttpCall[]>();
  for (const call of httpCalls) byTag.set(call.tag, [...(byTag.get(call.tag) ?? []), call]);
  for (const [tag, calls] of byTag) {
    const sorted = calls.sort((a, b) => a.from - b.from);
    for (let k = 1; k < sorted.length; k++) {
      if (!sorted.slice(0, k).some((c) => httpEnd(c) > sorted[k]!.from)) continue;
      v.concurrentAttempts++;
      note(`hooked/right of ${tag}: an http request began while an earlier one was still open`);
    }
  }

  // Nothing is handed out after the coordinator recorded it finished.
  for (const c of claims) {
    const run = live.runs.get(c.attemptId);
    if (!run || run.finished_at === null || run.finished_at >= c.sentAt) continue;
    v.claimedAfterFinish++;
    note(`${c.attemptId} claimed ${c.sentAt - run.finished_at} ms after it finished (${run.status}: ${run.error})`);
  }
  return v;
}
