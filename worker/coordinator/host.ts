// The scheduler's host in the Durable Object: its SQLite store, and effects turned into outbox rows (D1 statements, pool calls).
import type { SchedulerEffect, SchedulerHost } from "../core/scheduler/host.ts";
import type { HttpJob, InstanceRecord, NodeRunRecord } from "../core/scheduler/records.ts";
import { fitsOneOutboxRow } from "../core/delivery.ts";
import { insertLog, insertRunDefinition, upsertInstance, upsertNodeRun, type InstanceRow, type NodeRunRow, type Statement } from "../db/mirror.ts";
import type { Outbox } from "./outbox.ts";
import type { CoordinatorStore } from "./store.ts";

/** The instance as D1 mirrors it: without its arrival number here and its limits (its definition has them). */
export function mirrorRow(i: InstanceRecord): InstanceRow {
  const { seq: _s, max_parallel: _m, concurrency_limit: _c, ...row } = i;
  return row;
}

export function mirrorRunRow(r: NodeRunRecord): NodeRunRow {
  const { current: _c, not_before: _n, chosen: _ch, lost: _l, exiting: _e, ...row } = r;
  return row;
}

/** The D1 statement that mirrors a row change, or null for effects that are not D1's. */
function mirrorStatement(effect: SchedulerEffect, now: number): Statement | null {
  if (effect.kind === "definition-saved") {
    const { hash, workspaceId, workflowId, def, weights } = effect;
    const statement = insertRunDefinition(hash, { workspaceId, workflowId }, JSON.stringify(def), JSON.stringify(weights), now);
    // A definition near the 1 MiB limit and dense with quotes may outgrow an outbox row once escaped: it is
    // then not kept, and a rerun after the live window falls back as for instances from before D1 kept them.
    return fitsOneOutboxRow(statement) ? statement : null;
  }
  if (effect.kind === "instance-changed") return upsertInstance(mirrorRow(effect.instance));
  if (effect.kind === "node-run-changed") return upsertNodeRun(mirrorRunRow(effect.run));
  if (effect.kind === "log") return insertLog(effect.attemptId, effect.text);
  return null;
}

/**
 * Storage is the coordinator's SQLite; effects join the current transaction's outbox rows, except the
 * two that only make sense once it commits: http requests and live notices, held here until then.
 */
export class StoreHost implements SchedulerHost {
  private readonly store: CoordinatorStore;
  private readonly outbox: Outbox;
  private readonly clock: () => number;
  private httpJobs: HttpJob[] = [];
  private readonly touched = new Set<string>();
  /** Whether this object has the attempt's http request in flight (set by the Durable Object). */
  inFlight: (attemptId: string) => boolean = () => false;
  /** Sees every effect inside its transaction: the coordinator's alerts (alert-jobs.ts) keep their rows from it. */
  observe: (effect: SchedulerEffect) => void = () => {};

  constructor(store: CoordinatorStore, outbox: Outbox, clock: () => number = Date.now) {
    this.store = store;
    this.outbox = outbox;
    this.clock = clock;
  }

  now = () => this.clock();
  saveDefinition: SchedulerHost["saveDefinition"] = (hash, def, weights) => this.store.saveDefinition(hash, def, weights);
  definition: SchedulerHost["definition"] = (hash) => this.store.definition(hash);
  instance: SchedulerHost["instance"] = (id) => this.store.instance(id);
  insertInstance: SchedulerHost["insertInstance"] = (row) => this.store.insertInstance(row);
  updateInstance: SchedulerHost["updateInstance"] = (id, changes) => this.store.updateInstance(id, changes);
  purgeInstance: SchedulerHost["purgeInstance"] = (id) => this.store.purgeInstance(id);
  forgetUnusedDefinitions: SchedulerHost["forgetUnusedDefinitions"] = () => this.store.forgetUnusedDefinitions();
  oldestUnmirroredAt: SchedulerHost["oldestUnmirroredAt"] = () => this.outbox.oldestMirrorWrittenAt();
  hasExitingRuns: SchedulerHost["hasExitingRuns"] = (instanceId) => this.store.hasExitingRuns(instanceId);
  addTimerOnce: SchedulerHost["addTimerOnce"] = (kind, ref, dueAt) => this.store.addTimerOnce(kind, ref, dueAt);
  earliestDedupExpiry: SchedulerHost["earliestDedupExpiry"] = () => this.store.earliestDedupExpiry();
  waitingLineHeads: SchedulerHost["waitingLineHeads"] = (env) => this.store.waitingLineHeads(env);
  keyPlacesHeld: SchedulerHost["keyPlacesHeld"] = (env, key) => this.store.keyPlacesHeld(env, key);
  countWaitingAheadWithKey: SchedulerHost["countWaitingAheadWithKey"] = (env, key, priority, seq) => this.store.countWaitingAheadWithKey(env, key, priority, seq);
  firstWithConcurrencyKey: SchedulerHost["firstWithConcurrencyKey"] = (env, key, status) => this.store.firstWithConcurrencyKey(env, key, status);
  waitingWithConcurrencyKey: SchedulerHost["waitingWithConcurrencyKey"] = (env, key) => this.store.waitingWithConcurrencyKey(env, key);
  oldestRunning: SchedulerHost["oldestRunning"] = (env) => this.store.oldestRunning(env);
  countWaitingAhead: SchedulerHost["countWaitingAhead"] = (env, priority, seq) => this.store.countWaitingAhead(env, priority, seq);
  countRunning: SchedulerHost["countRunning"] = (env) => this.store.countRunning(env);
  firstWithOrderingKey: SchedulerHost["firstWithOrderingKey"] = (env, key, status) => this.store.firstWithOrderingKey(env, key, status);
  instancesWithExitingRuns: SchedulerHost["instancesWithExitingRuns"] = () => this.store.instancesWithExitingRuns();
  nodeRun: SchedulerHost["nodeRun"] = (id) => this.store.nodeRun(id);
  currentRuns: SchedulerHost["currentRuns"] = (instanceId) => this.store.currentRuns(instanceId);
  insertNodeRun: SchedulerHost["insertNodeRun"] = (run) => this.store.insertNodeRun(run);
  updateNodeRun: SchedulerHost["updateNodeRun"] = (id, changes) => this.store.updateNodeRun(id, changes);
  addTimer: SchedulerHost["addTimer"] = (kind, ref, dueAt) => this.store.addTimer(kind, ref, dueAt);
  dropTimers: SchedulerHost["dropTimers"] = (kind, ref) => this.store.dropTimers(kind, ref);
  takeDueTimers: SchedulerHost["takeDueTimers"] = (now) => this.store.takeDueTimers(now);
  nextTimerAt: SchedulerHost["nextTimerAt"] = () => this.store.nextTimerAt();
  dedupEntry: SchedulerHost["dedupEntry"] = (key) => this.store.dedupEntry(key);
  rememberDedup: SchedulerHost["rememberDedup"] = (key, instanceId, expiresAt) => this.store.rememberDedup(key, instanceId, expiresAt);
  forgetExpiredDedup: SchedulerHost["forgetExpiredDedup"] = (now, limit) => this.store.forgetExpiredDedup(now, limit);
  saveHttpJob: SchedulerHost["saveHttpJob"] = (job) => this.store.saveHttpJob(job);
  httpJob: SchedulerHost["httpJob"] = (attemptId) => this.store.httpJob(attemptId);
  dropHttpJob: SchedulerHost["dropHttpJob"] = (attemptId) => this.store.dropHttpJob(attemptId);
  httpInFlight: SchedulerHost["httpInFlight"] = (attemptId) => this.inFlight(attemptId);

  emit(effect: SchedulerEffect): void {
    this.observe(effect);
    const statement = mirrorStatement(effect, this.clock());
    if (statement) return this.outbox.add({ kind: "d1", statements: [statement] });
    if (effect.kind === "dispatch" || effect.kind === "cancel") return this.outbox.add(effect);
    if (effect.kind === "http") this.httpJobs.push(effect.job);
    else if (effect.kind === "touched") this.touched.add(effect.instanceId);
  }

  /** http requests to make now that their transaction committed. */
  takeHttpJobs(): HttpJob[] {
    return this.httpJobs.splice(0);
  }

  /** Instances the committed transactions changed, for live subscribers. */
  takeTouched(): string[] {
    const ids = [...this.touched];
    this.touched.clear();
    return ids;
  }

  /** A transaction rolled back: its http requests and notices must not go out with the next commit. */
  discardUncommitted(): void {
    this.httpJobs = [];
    this.touched.clear();
  }
}
