// WorkflowCoordinator Durable Object: one per workflow; admission, DAG progression, node results.
import { DurableObject } from "cloudflare:workers";
import { Dag } from "../core/dag.ts";
import type { Priority, WorkflowDefinition } from "../core/definition.ts";
import { dagShape, FINISHED_NODE, planProgress, type DagShape, type NodeStatus } from "../core/progress.ts";
import { prepareNodeRun } from "../core/node-run.ts";
import type { Completion } from "../core/runner-protocol.ts";
import type { TriggerType } from "../core/runs.ts";
import { insertLog, upsertInstance, upsertNodeRun, type InstanceRow, type NodeRunRow } from "../db/mirror.ts";
import { Outbox } from "./outbox.ts";
import { CoordinatorStore, type LiveInstance } from "./store.ts";

export interface StartInstance {
  instanceId: string;
  workspaceId: string;
  workflowId: string;
  workflowName: string;
  version: number | null;
  env: "dev" | "prod";
  definition: WorkflowDefinition;
  weights: Record<string, number>;
  priorityOverride: Priority | null;
  runDate: string | null;
  receivedAt: number;
  cyctime: number;
  triggerType: TriggerType;
  triggerMessage: unknown;
  params: Record<string, string>;
}

export class WorkflowCoordinator extends DurableObject<Env> {
  private readonly store: CoordinatorStore;
  private readonly outbox: Outbox;
  /** Derived from immutable definitions, so safe to cache in memory. */
  private readonly shapes = new Map<string, DagShape>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new CoordinatorStore(ctx.storage.sql);
    this.outbox = new Outbox(ctx.storage, env);
  }

  async start(input: StartInstance): Promise<{ id: string; status: string }> {
    const defJson = JSON.stringify(input.definition);
    const hash = await sha256(defJson + JSON.stringify(input.weights));
    const existing = this.store.instance(input.instanceId);
    if (existing) return { id: existing.id, status: existing.status };
    const status = this.ctx.storage.transactionSync(() => {
      this.store.saveDefinition(hash, input.definition, input.weights);
      const priority = input.priorityOverride ?? input.definition.policy.priority;
      this.store.insertInstance({
        id: input.instanceId,
        workspace_id: input.workspaceId,
        workflow_id: input.workflowId,
        workflow_name: input.workflowName,
        version: input.version,
        env: input.env,
        status: "waiting",
        priority,
        priority_override: input.priorityOverride,
        max_parallel: input.definition.policy.maxParallel,
        run_date: input.runDate,
        trigger_type: input.triggerType,
        trigger_message: JSON.stringify(input.triggerMessage ?? {}),
        params: JSON.stringify(input.params),
        def_hash: hash,
        cyctime: input.cyctime,
        created_at: input.receivedAt,
        started_at: null,
        finished_at: null,
      });
      const statements = [upsertInstance(this.mirrorRow(this.store.instance(input.instanceId)!))];
      for (const node of input.definition.nodes) {
        const run = pendingRun(input.instanceId, node.name, node.type, 1);
        this.store.insertNodeRun(run);
        statements.push(upsertNodeRun(run));
      }
      this.outbox.add({ kind: "d1", statements });
      this.admitWaiting(input.env);
      return this.store.instance(input.instanceId)!.status;
    });
    await this.outbox.flush();
    return { id: input.instanceId, status };
  }

  /** The pool handed the attempt to a runner. */
  async nodeStarted(attemptId: string, runnerId: string, at: number): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      const run = this.store.nodeRun(attemptId);
      if (!run || run.current !== 1 || run.status !== "queued") return;
      const updated = this.store.updateNodeRun(attemptId, { status: "running", runner_id: runnerId, started_at: at });
      this.outbox.add({ kind: "d1", statements: [upsertNodeRun(updated)] });
    });
    await this.outbox.flush();
  }

  /** A runner's result. Idempotent: a repeated or stale report changes nothing. */
  async nodeFinished(attemptId: string, completion: Completion): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      const run = this.store.nodeRun(attemptId);
      if (!run || run.current !== 1 || FINISHED_NODE.has(run.status as NodeStatus)) return;
      const ok = completion.exitCode === 0;
      const error = ok
        ? null
        : (completion.error ??
          (completion.exitCode === null ? `killed by signal ${completion.signal ?? "unknown"}` : `exit code ${completion.exitCode}`));
      const updated = this.store.updateNodeRun(attemptId, {
        status: ok ? "succeeded" : "failed",
        started_at: run.started_at ?? Date.now(),
        finished_at: Date.now(),
        exit_code: completion.exitCode,
        error,
        outputs: JSON.stringify(completion.outputs),
      });
      this.outbox.add({ kind: "d1", statements: [upsertNodeRun(updated)] });
      this.advance(run.instance_id);
    });
    await this.outbox.flush();
  }

  /** The pool declared the attempt's runner gone. */
  async nodeLost(attemptId: string, reason: string): Promise<void> {
    await this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error: `lost: ${reason}` });
  }

  override async alarm(): Promise<void> {
    await this.outbox.flush();
  }

  /** Starts waiting instances while the workflow's maxParallel allows (DESIGN §2.5). */
  private admitWaiting(env: string): void {
    for (;;) {
      const next = this.store.nextWaiting(env);
      if (!next) return;
      if (next.max_parallel !== null && this.store.countRunning(env) >= next.max_parallel) return;
      const running = this.store.setInstanceStatus(next.id, "running", Date.now());
      this.outbox.add({ kind: "d1", statements: [upsertInstance(this.mirrorRow(running))] });
      this.advance(next.id);
    }
  }

  /** Moves an instance forward until it waits on runners or ends. Runs inside a transaction. */
  private advance(instanceId: string): void {
    const instance = this.store.instance(instanceId)!;
    if (instance.status !== "running") return;
    const { def, weights } = this.store.definition(instance.def_hash);
    const shape = this.shape(instance.def_hash, def);
    for (;;) {
      const runs = this.store.currentRuns(instanceId);
      const byName = new Map(runs.map((r) => [r.node_name, r]));
      const plan = planProgress(shape, Object.fromEntries(runs.map((r) => [r.node_name, r.status as NodeStatus])));
      const statements = plan.skipped.map((name) =>
        upsertNodeRun(this.store.updateNodeRun(byName.get(name)!.id, { status: "skipped", finished_at: Date.now() })),
      );
      let inlineDone = false;
      for (const name of plan.ready) {
        const run = byName.get(name)!;
        const node = def.nodes.find((n) => n.name === name)!;
        const outcome = prepareNodeRun({ instance, def, node, runs, attemptId: run.id, attempt: run.attempt, weight: weights[name] ?? 0 });
        const now = Date.now();
        if (outcome.kind === "done") {
          inlineDone = true;
          statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: outcome.status, started_at: now, finished_at: now, error: outcome.error })));
          for (const line of outcome.log) statements.push(insertLog(run.id, line));
        } else {
          statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: "queued", queued_at: now })));
          this.outbox.add({ kind: "d1", statements: statements.splice(0) });
          this.outbox.add({ kind: "dispatch", resourceGroup: def.policy.resourceGroup, tasks: [outcome.queued] });
        }
      }
      if (statements.length > 0) this.outbox.add({ kind: "d1", statements });
      if (plan.finished) {
        const done = this.store.setInstanceStatus(instanceId, plan.finished, Date.now());
        this.outbox.add({ kind: "d1", statements: [upsertInstance(this.mirrorRow(done))] });
        this.admitWaiting(instance.env);
        return;
      }
      if (!inlineDone && plan.skipped.length === 0) return;
    }
  }

  private shape(hash: string, def: WorkflowDefinition): DagShape {
    let shape = this.shapes.get(hash);
    if (!shape) {
      shape = dagShape(def.nodes, def.edges, new Dag(def.nodes.map((n) => n.name), def.edges).topologicalOrder());
      this.shapes.set(hash, shape);
    }
    return shape;
  }

  private mirrorRow(i: LiveInstance): InstanceRow {
    const { seq: _s, def_hash: _d, priority_override: _p, max_parallel: _m, cyctime: _c, ...row } = i;
    return row;
  }
}

function pendingRun(instanceId: string, nodeName: string, nodeType: string, attempt: number): NodeRunRow {
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

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
