// The pool's tables in memory for lease and fair-share tests: tasks, passes, a clock the test moves, lease ids counted up.
import type { LevelPasses } from "./fair-share.ts";
import { readyOrder, type LeaseHost, type PoolTask } from "./leases.ts";

export class FakeLeaseHost implements LeaseHost {
  clock = 1_000;
  tasks = new Map<string, PoolTask>();
  finished = new Set<string>();
  slots = new Map<string, number>([["r1", 4], ["r2", 4]]);
  /** Stored passes per `${workspace}/${priority}`, as the pool's SQLite keeps them across restarts. */
  levels = new Map<string, { clock: number; passes: Map<string, number> }>();
  /** How many ready tasks the fair-share reads returned: reads stay bounded by what is granted. */
  tasksRead = 0;
  private leases = 0;
  private seq = 0;

  add(attemptId: string, over: Partial<PoolTask> = {}): void {
    this.tasks.set(attemptId, {
      attemptId, workflowId: "wf", instanceId: `ins_${attemptId}`, nodeName: "n", attempt: 1, workspaceId: "ws",
      priority: 5, weight: 0, share: 1, seq: ++this.seq, state: "ready", runnerId: null, leaseId: null,
      leaseExpiresAt: null, deadlineAt: null, acked: false, logBytes: 0, timeoutSeconds: 60, ...over,
    });
  }
  now = () => this.clock;
  newLeaseId = () => `lse_${++this.leases}`;
  task = (id: string) => this.tasks.get(id);
  known = (id: string) => this.tasks.has(id) || this.finished.has(id);
  attemptsOfNode = (i: string, n: string) => [...this.tasks.values()].filter((t) => t.instanceId === i && t.nodeName === n);
  attemptsOfRunner = (r: string) => [...this.tasks.values()].filter((t) => t.runnerId === r);
  runnerSlots = (r: string) => this.slots.get(r) ?? 0;
  expiredLeases = (now: number) => [...this.tasks.values()].filter((t) => (t.state === "leased" || t.state === "cancelling") && t.leaseExpiresAt! <= now);
  overdue = (now: number) => [...this.tasks.values()].filter((t) => t.state === "leased" && t.deadlineAt! <= now);
  reportsDue = (now: number) => [...this.tasks.values()].filter((t) => (t.state === "lost" || t.state === "gone") && t.leaseExpiresAt! <= now);
  save = (t: PoolTask) => void this.tasks.set(t.attemptId, { ...t });
  finish = (id: string) => {
    this.tasks.delete(id);
    this.finished.add(id);
  };

  private ready = (ws: string) => [...this.tasks.values()].filter((t) => t.state === "ready" && t.workspaceId === ws);
  topReadyLevel = (ws: string, below: number | null) => {
    const levels = this.ready(ws).map((t) => t.priority).filter((p) => below === null || p < below);
    return levels.length === 0 ? null : Math.max(...levels);
  };
  readyWorkflows = (ws: string, priority: number) => [...new Set(this.ready(ws).filter((t) => t.priority === priority).map((t) => t.workflowId))].sort();
  readyOfWorkflow = (ws: string, priority: number, workflowId: string, after: PoolTask | null, limit: number) => {
    const line = this.ready(ws).filter((t) => t.priority === priority && t.workflowId === workflowId).sort(readyOrder);
    const from = after === null ? 0 : line.findIndex((t) => readyOrder(t, after) > 0);
    const page = from < 0 ? [] : line.slice(from, from + limit);
    this.tasksRead += page.length;
    return page;
  };
  levelPasses = (ws: string, priority: number): LevelPasses => {
    const level = this.levels.get(`${ws}/${priority}`);
    return { clock: level?.clock ?? 0, passes: new Map(level?.passes ?? []) };
  };
  savePass = (ws: string, priority: number, clock: number, workflowId: string, pass: number) => {
    const level = this.levels.get(`${ws}/${priority}`) ?? { clock, passes: new Map<string, number>() };
    level.clock = clock;
    level.passes.set(workflowId, pass);
    for (const [wf, p] of level.passes) if (p <= clock) level.passes.delete(wf);
    this.levels.set(`${ws}/${priority}`, level);
  };
}
