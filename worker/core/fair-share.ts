// Fair share within a priority level (DESIGN §2.9): stride scheduling of free slots among the workflows with ready work.
import type { PoolTask } from "./leases.ts";

/**
 * Stride scheduling. Each workflow has, per priority level, a virtual `pass`; every slot goes to the workflow
 * with the smallest pass, whose pass then grows by `PASS_UNIT / share`. Over a busy period each workflow gets
 * slots in proportion to its share, whatever its backlog: a spike of 10,000 ready tasks of one workflow gets
 * one turn in the round like any other workflow.
 *
 * The level's `clock` is the pass of the last workflow served. Every workflow that stayed ready since has a
 * pass at or above it (the one served always has the smallest), so a stored pass below the clock belongs to a
 * workflow that was idle: it starts again from the clock, and idle time banks no credit. A pass at or below
 * the clock therefore says nothing and its row may go.
 */
export const PASS_UNIT = 1_000_000;

/** How far one slot moves a workflow's pass: integers, so sums stay exact across restarts. */
export const strideOf = (share: number): number => Math.round(PASS_UNIT / Math.max(1, share));

/** A level's stride state as the pool stores it: passes of workflows ahead of the clock only. */
export interface LevelPasses {
  clock: number;
  passes: Map<string, number>;
}

/** What fair share needs from the pool: bounded, indexed reads of ready tasks, and the stored passes. */
export interface FairShareHost {
  /** The highest priority level below `below` (null: any) with ready tasks of the workspace; null when none. */
  topReadyLevel(workspaceId: string, below: number | null): number | null;
  /** The workflows with ready tasks of the workspace at this level. */
  readyWorkflows(workspaceId: string, priority: number): string[];
  /**
   * Up to `limit` ready tasks of one workflow at one level in its own order (weight, highest first, then the
   * oldest), the first ones after `after` in that order (null: from the start).
   */
  readyOfWorkflow(workspaceId: string, priority: number, workflowId: string, after: PoolTask | null, limit: number): PoolTask[];
  levelPasses(workspaceId: string, priority: number): LevelPasses;
  /** The level's clock moved to `clock` and the workflow's pass to `pass`; passes at or below the clock may go. */
  savePass(workspaceId: string, priority: number, clock: number, workflowId: string, pass: number): void;
}

/**
 * Ready tasks of a workflow read per page: a line costs one short indexed read, not its whole backlog. The
 * first read takes only the head, which is all a workflow that does not win the slot ever needs.
 */
const PAGE = 16;

/** One workflow's ready tasks at a level, in its own order, read page by page; skipped tasks are passed over. */
class Line {
  private buffer: PoolTask[] = [];
  private last: PoolTask | null = null;
  private exhausted = false;
  /** The head passed `eligible` and nothing was granted since: another line's grant cannot make a node of this one busy. */
  private verified = false;

  readonly workflowId: string;
  private readonly read: (after: PoolTask | null, limit: number) => PoolTask[];

  constructor(workflowId: string, read: (after: PoolTask | null, limit: number) => PoolTask[]) {
    this.workflowId = workflowId;
    this.read = read;
  }

  /** The first task `eligible` accepts, left at the head; null once the line has none. */
  head(eligible: (task: PoolTask) => boolean): PoolTask | null {
    if (this.verified && this.buffer.length > 0) return this.buffer[0]!;
    for (;;) {
      while (this.buffer.length > 0) {
        this.verified = eligible(this.buffer[0]!);
        if (this.verified) return this.buffer[0]!;
        this.buffer.shift();
      }
      if (this.exhausted) return null;
      const limit = this.last === null ? 1 : PAGE;
      const page = this.read(this.last, limit);
      if (page.length < limit) this.exhausted = true;
      if (page.length > 0) this.last = page[page.length - 1]!;
      this.buffer = page;
    }
  }

  take(): void {
    this.buffer.shift();
    this.verified = false;
  }
}

/** Within one workflow: weight, highest first, then the oldest (DESIGN §2.4). */
const lineOrder = (a: PoolTask, b: PoolTask): number => b.weight - a.weight || a.seq - b.seq;

/**
 * Ready tasks of a workspace in the order slots go to them: levels strictly from the highest priority down;
 * within a level, the workflow with the smallest pass (ties: the better head task), then its next task.
 * `eligible` says whether a task may be granted now (its node may be busy); a workflow with no eligible task
 * left drops out of the round (its pass waits; if the clock passes it meanwhile, it rejoins at the clock, as
 * an idle one does). Every task yielded is charged to its workflow's pass: the caller takes it.
 */
export function* fairReadyOrder(host: FairShareHost, workspaceId: string, eligible: (task: PoolTask) => boolean): Generator<PoolTask> {
  for (let level = host.topReadyLevel(workspaceId, null); level !== null; level = host.topReadyLevel(workspaceId, level)) {
    yield* levelOrder(host, workspaceId, level, eligible);
  }
}

function* levelOrder(host: FairShareHost, workspaceId: string, level: number, eligible: (task: PoolTask) => boolean): Generator<PoolTask> {
  const state = host.levelPasses(workspaceId, level);
  const passOf = (workflowId: string) => Math.max(state.passes.get(workflowId) ?? 0, state.clock);
  let lines = host
    .readyWorkflows(workspaceId, level)
    .map((wf) => new Line(wf, (after, limit) => host.readyOfWorkflow(workspaceId, level, wf, after, limit)));
  for (;;) {
    let best: { line: Line; task: PoolTask; pass: number } | null = null;
    const open: Line[] = [];
    for (const line of lines) {
      const task = line.head(eligible);
      if (task === null) continue;
      open.push(line);
      const pass = passOf(line.workflowId);
      if (best === null || pass < best.pass || (pass === best.pass && lineOrder(task, best.task) < 0)) best = { line, task, pass };
    }
    if (best === null) return;
    lines = open;
    state.clock = best.pass;
    const next = best.pass + strideOf(best.task.share);
    state.passes.set(best.line.workflowId, next);
    host.savePass(workspaceId, level, state.clock, best.line.workflowId, next);
    best.line.take();
    yield best.task;
  }
}
