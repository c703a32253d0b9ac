// An in-memory SchedulerHost with a clock the test moves and transactions that roll back, for the scheduler's unit tests.
import { DefinitionSchema, type WorkflowDefinition, type WorkflowDefinitionInput } from "../definition.ts";
import type { InstanceStatus } from "../progress.ts";
import type { QueuedTask } from "../runner-protocol.ts";
import type { InstanceChanges, NodeRunChanges, SchedulerEffect, SchedulerHost } from "./host.ts";
import type { HttpJob, InstanceRecord, NodeRunRecord, StartInstance, TimerKind } from "./records.ts";
import { Scheduler } from "./scheduler.ts";

export const GRACE_MS = 4_000;
export const LIVE_WINDOW_MS = 60 * 60_000;

interface Tables {
  definitions: Map<string, { def: WorkflowDefinition; weights: Record<string, number> }>;
  instances: Map<string, InstanceRecord>;
  runs: Map<string, NodeRunRecord>;
  timers: { id: number; dueAt: number; kind: TimerKind; ref: string }[];
  dedup: Map<string, { instanceId: string; expiresAt: number; status: string | null }>;
  /** When each D1 mirror row not yet delivered was written (the test delivers them by emptying it). */
  unmirrored: number[];
  httpJobs: Map<string, HttpJob>;
  effects: SchedulerEffect[];
  seq: number;
}

const emptyTables = (): Tables => ({
  definitions: new Map(), instances: new Map(), runs: new Map(), timers: [], dedup: new Map(), httpJobs: new Map(), effects: [], seq: 0, unmirrored: [],
});

/** The coordinator's tables as maps; every answer is a copy, as a database's would be. */
export class FakeHost implements SchedulerHost {
  clock = 1_000_000;
  t: Tables = emptyTables();
  inFlight = new Set<string>();
  /** Set to make the next emit of this kind throw (a transaction failing mid-way). */
  failOn: SchedulerEffect["kind"] | null = null;
  private timerIds = 0;

  now = () => this.clock;
  saveDefinition = (hash: string, def: WorkflowDefinition, weights: Record<string, number>) => {
    if (this.t.definitions.has(hash)) return false;
    this.t.definitions.set(hash, { def, weights });
    return true;
  };
  definition = (hash: string) => this.t.definitions.get(hash)!;
  instance = (id: string) => copy(this.t.instances.get(id));
  insertInstance = (row: Omit<InstanceRecord, "seq">) => {
    const instance = { ...row, seq: ++this.t.seq };
    this.t.instances.set(row.id, instance);
    return { ...instance };
  };
  updateInstance = (id: string, changes: InstanceChanges) => ({ ...Object.assign(this.t.instances.get(id)!, changes) });
  purgeInstance = (id: string) => {
    const status = this.t.instances.get(id)?.status ?? null;
    for (const entry of this.t.dedup.values()) if (entry.instanceId === id) entry.status = status;
    for (const [runId, run] of this.t.runs) {
      if (run.instance_id !== id) continue;
      this.t.runs.delete(runId);
      this.t.httpJobs.delete(runId);
      this.t.timers = this.t.timers.filter((t) => t.ref !== runId);
    }
    this.t.instances.delete(id);
  };
  forgetUnusedDefinitions = () => {
    const used = new Set([...this.t.instances.values()].map((i) => i.def_hash));
    const unused = [...this.t.definitions.keys()].filter((h) => !used.has(h));
    for (const h of unused) this.t.definitions.delete(h);
    return unused;
  };
  oldestUnmirroredAt = () => (this.t.unmirrored.length ? Math.min(...this.t.unmirrored) : null);
  hasExitingRuns = (instanceId: string) => [...this.t.runs.values()].some((r) => r.instance_id === instanceId && r.exiting === 1);
  private instancesOf = (env: string, status: string) => [...this.t.instances.values()].filter((i) => i.env === env && i.status === status);
  private inLineOrder = (rows: InstanceRecord[]) => rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
  /** Counts how many rows each call read, so a test can bound the work of one admission. */
  headsRead = 0;
  waitingLineHeads = (env: string) => {
    const seen = new Set<string>();
    const heads = this.inLineOrder(this.instancesOf(env, "waiting")).filter((i) => {
      if (i.concurrency_key === null) return true;
      if (seen.has(i.concurrency_key)) return false;
      seen.add(i.concurrency_key);
      return true;
    });
    const read = () => heads.map((i) => ((this.headsRead++), { ...i }));
    return { [Symbol.iterator]: function* () { yield* read(); } };
  };
  keyPlacesHeld = (env: string, key: string) => {
    const exiting = new Set(this.instancesWithExitingRuns());
    const withKey = [...this.t.instances.values()].filter((i) => i.env === env && i.concurrency_key === key);
    return { running: withKey.filter((i) => i.status === "running").length, exiting: withKey.filter((i) => i.status !== "running" && exiting.has(i.id)).length };
  };
  countWaitingAheadWithKey = (env: string, key: string, priority: number, seq: number) =>
    this.instancesOf(env, "waiting").filter((i) => i.concurrency_key === key && (i.priority > priority || (i.priority === priority && i.seq < seq))).length;
  firstWithConcurrencyKey = (env: string, key: string | null, status: "waiting" | "running") =>
    copy(this.instancesOf(env, status).filter((i) => i.concurrency_key === key).sort((a, b) => a.seq - b.seq)[0]);
  waitingWithConcurrencyKey = (env: string, key: string) =>
    this.inLineOrder(this.instancesOf(env, "waiting").filter((i) => i.concurrency_key === key)).map((i) => ({ ...i }));
  oldestRunning = (env: string) => copy(this.instancesOf(env, "running").sort((a, b) => a.seq - b.seq)[0]);
  countWaitingAhead = (env: string, priority: number, seq: number) =>
    this.instancesOf(env, "waiting").filter((i) => i.priority > priority || (i.priority === priority && i.seq < seq)).length;
  countRunning = (env: string) => this.instancesOf(env, "running").length;
  firstWithOrderingKey = (env: string, key: string, status: "waiting" | "running") =>
    copy(this.instancesOf(env, status).filter((i) => i.ordering_key === key).sort((a, b) => a.seq - b.seq)[0]);
  instancesWithExitingRuns = () => [...new Set([...this.t.runs.values()].filter((r) => r.exiting === 1).map((r) => r.instance_id))];
  nodeRun = (id: string) => copy(this.t.runs.get(id));
  currentRuns = (instanceId: string) => [...this.t.runs.values()].filter((r) => r.instance_id === instanceId && r.current === 1).map((r) => ({ ...r }));
  insertNodeRun = (run: NodeRunRecord) => void this.t.runs.set(run.id, { ...run });
  updateNodeRun = (id: string, changes: NodeRunChanges) => ({ ...Object.assign(this.t.runs.get(id)!, changes) });
  addTimer = (kind: TimerKind, ref: string, dueAt: number) => void this.t.timers.push({ id: ++this.timerIds, dueAt, kind, ref });
  addTimerOnce = (kind: TimerKind, ref: string, dueAt: number) => {
    const set = this.t.timers.filter((t) => t.kind === kind && t.ref === ref);
    if (set.some((t) => t.dueAt <= dueAt)) return;
    this.dropTimers(kind, ref);
    this.addTimer(kind, ref, dueAt);
  };
  dropTimers = (kind: TimerKind, ref: string) => void (this.t.timers = this.t.timers.filter((t) => t.kind !== kind || t.ref !== ref));
  takeDueTimers = (now: number) => {
    const due = this.t.timers.filter((t) => t.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.id - b.id);
    this.t.timers = this.t.timers.filter((t) => t.dueAt > now);
    return due.map(({ kind, ref }) => ({ kind, ref }));
  };
  nextTimerAt = () => (this.t.timers.length ? Math.min(...this.t.timers.map((t) => t.dueAt)) : null);
  dedupEntry = (key: string) => copy(this.t.dedup.get(key));
  rememberDedup = (key: string, instanceId: string, expiresAt: number) => void this.t.dedup.set(key, { instanceId, expiresAt, status: null });
  forgetExpiredDedup = (now: number, limit: number) => {
    const expired = [...this.t.dedup].filter(([, e]) => e.expiresAt <= now).sort((a, b) => a[1].expiresAt - b[1].expiresAt).slice(0, limit);
    for (const [key] of expired) this.t.dedup.delete(key);
  };
  earliestDedupExpiry = () => (this.t.dedup.size ? Math.min(...[...this.t.dedup.values()].map((e) => e.expiresAt)) : null);
  saveHttpJob = (job: HttpJob) => void this.t.httpJobs.set(job.attemptId, job);
  httpJob = (attemptId: string) => this.t.httpJobs.get(attemptId);
  dropHttpJob = (attemptId: string) => void this.t.httpJobs.delete(attemptId);
  httpInFlight = (attemptId: string) => this.inFlight.has(attemptId);

  emit(effect: SchedulerEffect): void {
    if (this.failOn === effect.kind) {
      this.failOn = null;
      throw new Error(`injected failure at ${effect.kind}`);
    }
    this.t.effects.push(effect);
  }
}

const copy = <T extends object>(row: T | undefined): T | undefined => (row ? { ...row } : undefined);

/** A scheduler over a fake host, driven the way the coordinator drives it: one transaction per call. */
export class World {
  readonly host = new FakeHost();
  scheduler: Scheduler;
  private ids = 0;
  /** Effects already looked at by `take`. */
  private seen = 0;

  /** `maxCachedRuns`: how many node runs the scheduler keeps in memory (small ones make it reload often). */
  private readonly maxCachedRuns: number | undefined;

  constructor(maxCachedRuns?: number) {
    this.maxCachedRuns = maxCachedRuns;
    this.scheduler = this.newScheduler();
  }

  private newScheduler(): Scheduler {
    return new Scheduler(this.host, { timeoutGraceMs: GRACE_MS, liveWindowMs: LIVE_WINDOW_MS, maxCachedRuns: this.maxCachedRuns });
  }

  /** Runs a change as a transaction: on a throw the tables go back to where they were and the scheduler forgets it. */
  tx<T>(change: (s: Scheduler) => T): T {
    const { effects, ...tables } = this.host.t;
    const before = { ...structuredClone(tables), effects };
    const emitted = effects.length;
    try {
      const result = change(this.scheduler);
      this.scheduler.committed();
      return result;
    } catch (err) {
      effects.length = emitted;
      this.host.t = before;
      this.seen = Math.min(this.seen, emitted);
      this.scheduler.discardUncommitted();
      throw err;
    }
  }

  /** The Durable Object was evicted: a new scheduler over the same storage, with nothing in memory. */
  evict(): void {
    this.scheduler = this.newScheduler();
  }

  start(input: WorkflowDefinitionInput, extra: Partial<StartInstance> = {}): { id: string; status: InstanceStatus; duplicate?: boolean } {
    const definition = DefinitionSchema.parse(input);
    const instanceId = extra.instanceId ?? `ins_${++this.ids}`;
    const start: StartInstance = {
      instanceId, workspaceId: "ws", workflowId: "wf", workflowName: definition.name, version: null, env: "dev", definition, weights: {},
      priorityOverride: null, runDate: null, receivedAt: this.host.clock, cyctime: this.host.clock, triggerType: "manual", triggerMessage: {}, params: {},
      ...extra,
    };
    return this.tx((s) => s.startMany([start], [`hash_${JSON.stringify(input)}`]))[0]!;
  }

  /** Effects emitted since the last call. */
  take(): SchedulerEffect[] {
    const fresh = this.host.t.effects.slice(this.seen);
    this.seen = this.host.t.effects.length;
    return fresh;
  }

  /** Tasks dispatched to the pool since the last call (other effects are passed over). */
  dispatched(): QueuedTask[] {
    return this.take().flatMap((e) => (e.kind === "dispatch" ? e.tasks : []));
  }

  /** The pool handed the attempt to a runner and the runner reported `exitCode`. */
  run(attemptId: string, exitCode = 0, outputs: Record<string, string> = {}): void {
    this.tx((s) => s.nodeStarted(attemptId, "runner-1", this.host.clock));
    this.tx((s) => s.nodeFinished(attemptId, { exitCode, signal: null, outputs, error: null }));
  }

  /** Moves the clock and fires the timers due, as the alarm does. */
  advance(ms: number): void {
    this.host.clock += ms;
    this.tx((s) => s.fireTimers());
  }

  status(instanceId: string): string | undefined {
    return this.host.t.instances.get(instanceId)?.status;
  }

  nodes(instanceId: string): Record<string, string> {
    return Object.fromEntries(this.host.currentRuns(instanceId).map((r) => [r.node_name, r.status]).sort());
  }

  /** Instances holding a place in maxParallel: running, or with a stopped process still exiting. */
  placesHeld(env = "dev"): number {
    return this.holdingPlaces(env).length;
  }

  /** Instances holding a place, by concurrency key value (instances without a key are left out). */
  keyPlaces(env = "dev"): Map<string, number> {
    const byKey = new Map<string, number>();
    for (const i of this.holdingPlaces(env)) if (i.concurrency_key !== null) byKey.set(i.concurrency_key, (byKey.get(i.concurrency_key) ?? 0) + 1);
    return byKey;
  }

  private holdingPlaces(env: string): InstanceRecord[] {
    const exiting = new Set(this.host.instancesWithExitingRuns());
    return [...this.host.t.instances.values()].filter((i) => i.env === env && (i.status === "running" || exiting.has(i.id)));
  }

  reason(instanceId: string): string | null | undefined {
    return this.host.t.instances.get(instanceId)?.reason;
  }
}

export const shell = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: "shell", code: "true", ...extra });
export const edge = (from: string, to: string) => ({ from, to });

/** A small deterministic PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

/**
 * A seeded storm over one World: bursts of starts (`start`), terminates, lost attempts, exits, time passing and
 * evictions for `rounds` rounds, `check` after every step (and between a node's start and its result), then a drain
 * until nothing is queued or timed. Answers the ids started, so the caller can check every one ended.
 */
export function churn(w: World, random: () => number, rounds: number, start: () => string[], check: (when: string) => void): string[] {
  const started: string[] = [];
  const queued: string[] = [];
  const step = (when: string) => {
    check(when);
    queued.push(...w.dispatched().map((t) => t.task.attemptId));
  };
  for (let round = 0; round < rounds; round++) {
    const roll = random();
    if (roll < 0.3) {
      started.push(...start());
    } else if (roll < 0.4 && started.length > 0) {
      const id = started[Math.floor(random() * started.length)]!;
      if (["waiting", "running"].includes(w.status(id)!)) w.tx((s) => s.terminate(id));
    } else if (roll < 0.5 && queued.length > 0) {
      w.tx((s) => s.nodeLost(queued.shift()!, "runner stopped heartbeating"));
    } else if (roll < 0.6) {
      const exiting = [...w.host.t.runs.values()].filter((r) => r.exiting === 1).map((r) => r.id);
      w.tx((s) => s.processGone(exiting.slice(0, 1)));
    } else if (roll < 0.65) {
      w.advance(2 * GRACE_MS);
    } else if (roll < 0.7) {
      w.evict();
    } else if (queued.length > 0) {
      const attempt = queued.shift()!;
      w.tx((s) => s.nodeStarted(attempt, "r1", w.host.clock));
      step(`round ${round}, started`);
      w.tx((s) => s.nodeFinished(attempt, { exitCode: random() < 0.25 ? 1 : 0, signal: null, outputs: {}, error: null }));
    }
    step(`round ${round}`);
  }
  const pendingTimers = () => w.host.t.timers.some((t) => t.kind !== "purge");
  for (let i = 0; i < 500 && (queued.length > 0 || pendingTimers()); i++) {
    if (queued.length > 0) w.run(queued.shift()!, 0);
    else w.advance(GRACE_MS);
    step(`drain ${i}`);
  }
  return started;
}
