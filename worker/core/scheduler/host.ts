// What the scheduler needs from its Durable Object: records, timers, dedup keys, a clock, and a way to emit effects.
import type { WorkflowDefinition } from "../definition.ts";
import type { QueuedTask } from "../runner-protocol.ts";
import type { HttpJob, InstanceRecord, NodeRunRecord, TimerKind } from "./records.ts";

/**
 * What a transition asks of the world, in order. The host delivers them only if the transaction that
 * emitted them commits: row changes become D1 mirror statements, pool calls go through the outbox.
 */
export type SchedulerEffect =
  | { kind: "instance-changed"; instance: InstanceRecord }
  | { kind: "node-run-changed"; run: NodeRunRecord }
  | { kind: "log"; attemptId: string; text: string }
  /** A definition this coordinator had not stored: D1 keeps it for reruns after the live window. */
  | { kind: "definition-saved"; hash: string; workspaceId: string; workflowId: string; def: WorkflowDefinition; weights: Record<string, number> }
  | { kind: "dispatch"; workspaceId: string; resourceGroup: string; tasks: QueuedTask[] }
  | { kind: "cancel"; workspaceId: string; resourceGroup: string; attemptIds: string[] }
  | { kind: "http"; job: HttpJob }
  /** A production instance whose definition has alerts finished: which alerts fire is the coordinator's to decide (core/alerts.ts). */
  | { kind: "alert"; instance: InstanceRecord; status: "succeeded" | "failed" | "terminated" | "skipped" }
  /** The instance changed: live subscribers are sent its new view. */
  | { kind: "touched"; instanceId: string };

export type InstanceChanges = Partial<Pick<InstanceRecord, "status" | "started_at" | "finished_at" | "reason">>;
export type NodeRunChanges = Partial<Omit<NodeRunRecord, "id" | "instance_id" | "node_name" | "node_type" | "attempt">>;

/**
 * The scheduler's storage and effects. Every method answers from one indexed lookup or scan; the
 * scheduler makes the decisions. Writes happen inside the caller's transaction.
 */
export interface SchedulerHost {
  now(): number;

  /** Stores a definition by its hash; false when it was stored already. */
  saveDefinition(hash: string, def: WorkflowDefinition, weights: Record<string, number>): boolean;
  definition(hash: string): { def: WorkflowDefinition; weights: Record<string, number> };

  instance(id: string): InstanceRecord | undefined;
  /** Records a new instance; the host numbers its arrival (`seq`). */
  insertInstance(row: Omit<InstanceRecord, "seq">): InstanceRecord;
  /** Changes an instance and returns it as changed. */
  updateInstance(id: string, changes: InstanceChanges): InstanceRecord;
  /**
   * Forgets a finished instance: its node runs, their timers and http jobs. Dedup keys that name it keep
   * its final status, so a duplicate start inside the key's window still answers with it.
   */
  purgeInstance(id: string): void;
  /** Forgets the definitions no live instance uses; returns their hashes. */
  forgetUnusedDefinitions(): string[];
  /** When the oldest D1 mirror row not yet delivered was written (null: none is pending). */
  oldestUnmirroredAt(): number | null;
  /** Whether a stopped attempt of the instance may still be running. */
  hasExitingRuns(instanceId: string): boolean;
  /**
   * The waiting instances of an environment that head their line, in (priority descending, arrival) order,
   * read lazily: every one without a concurrency key, and per key value the first of its key's line. An
   * instance behind another of its key can start only after it, so admission never reads past it.
   */
  waitingLineHeads(env: string): Iterable<InstanceRecord>;
  /** Waiting instances of an environment ahead of (priority, seq) in that order. */
  countWaitingAhead(env: string, priority: number, seq: number): number;
  countRunning(env: string): number;
  /** The earliest arrival with this ordering key and status in the environment. */
  firstWithOrderingKey(env: string, key: string, status: "waiting" | "running"): InstanceRecord | undefined;
  /** Instances with at least one stopped attempt whose process may still live. */
  instancesWithExitingRuns(): string[];
  /**
   * Instances of a concurrency key value holding a place: running, and not running but with a stopped
   * process that may still live (as placesHeld counts them for maxParallel).
   */
  keyPlacesHeld(env: string, key: string): { running: number; exiting: number };
  /** Waiting instances of a key value ahead of (priority, seq) in (priority descending, arrival) order. */
  countWaitingAheadWithKey(env: string, key: string, priority: number, seq: number): number;
  /** The earliest arrival with this concurrency key value (null: without a key) and status in the environment. */
  firstWithConcurrencyKey(env: string, key: string | null, status: "waiting" | "running"): InstanceRecord | undefined;
  /** Waiting instances of a concurrency key value in (priority descending, arrival) order, read lazily. */
  waitingWithConcurrencyKey(env: string, key: string): Iterable<InstanceRecord>;
  /** The earliest arrival running in the environment, whatever its key. */
  oldestRunning(env: string): InstanceRecord | undefined;

  nodeRun(id: string): NodeRunRecord | undefined;
  /** The current attempt of every node of an instance. */
  currentRuns(instanceId: string): NodeRunRecord[];
  insertNodeRun(run: NodeRunRecord): void;
  /** Changes a node run and returns it as changed. */
  updateNodeRun(id: string, changes: NodeRunChanges): NodeRunRecord;

  addTimer(kind: TimerKind, ref: string, dueAt: number): void;
  /** Sets a timer unless one of this kind and ref is due by `dueAt` already. */
  addTimerOnce(kind: TimerKind, ref: string, dueAt: number): void;
  /** Forgets the timers of a kind set for a ref (a finished node's timeout backstop and http watch). */
  dropTimers(kind: TimerKind, ref: string): void;
  /** Takes (removes and returns) the timers due by `now`, earliest first. */
  takeDueTimers(now: number): { kind: TimerKind; ref: string }[];
  nextTimerAt(): number | null;

  /**
   * The instance a dedup key started and until when the key holds, if it is still stored; `status` is
   * the instance's final one once it left live state (null while it is live).
   */
  dedupEntry(key: string): { instanceId: string; expiresAt: number; status: string | null } | undefined;
  rememberDedup(key: string, instanceId: string, expiresAt: number): void;
  /** Forgets up to `limit` keys whose windows closed by `now`. */
  forgetExpiredDedup(now: number, limit: number): void;
  /** When the earliest stored dedup key expires (null: none is stored). */
  earliestDedupExpiry(): number | null;

  saveHttpJob(job: HttpJob): void;
  httpJob(attemptId: string): HttpJob | undefined;
  dropHttpJob(attemptId: string): void;
  /** Whether this object has the attempt's http request in flight (an evicted object has none). */
  httpInFlight(attemptId: string): boolean;

  emit(effect: SchedulerEffect): void;
}
