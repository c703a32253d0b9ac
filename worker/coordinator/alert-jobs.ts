// The coordinator's alerts (core/alerts.ts): slow watches, each environment's last outcome, and deliveries kept in its SQLite until an attempt settles them.
import {
  afterAttempt,
  alertBody,
  alertsApply,
  alertsOnFinish,
  answerRecord,
  consoleLink,
  postAlert,
  slowStillApplies,
  slowWatches,
  ALERT_TIMEOUT_MS,
  type AlertFacts,
  type AlertToSend,
  type AttemptAnswer,
  type FinishedStatus,
  type LastOutcome,
} from "../core/alerts.ts";
import type { AlertPolicy } from "../core/definition.ts";
import { newId } from "../core/ids.ts";
import type { SchedulerEffect } from "../core/scheduler/host.ts";
import type { InstanceRecord } from "../core/scheduler/records.ts";
import { singleFlight } from "../core/single-flight.ts";
import { signWebhook } from "../core/triggers/webhook-signature.ts";
import { alertSecret, recordDelivery, type DeliveryRecord } from "../db/alerts.ts";
import { injectFault } from "../faults.ts";
import type { Outbox } from "./outbox.ts";
import type { CoordinatorStore } from "./store.ts";

/**
 * Kept apart from the scheduler's tables (store.ts): only this module reads them. A delivery's row is written
 * in the transaction that decided the alert, so it exists exactly when that state does, and leaves only
 * once an attempt's answer settled it: never lost, sent at least once.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS alert_outcomes (env TEXT PRIMARY KEY, outcome TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS alert_slow (instance_id TEXT NOT NULL, alert INTEGER NOT NULL, started_at INTEGER NOT NULL, due_at INTEGER NOT NULL, PRIMARY KEY (instance_id, alert))`,
  `CREATE INDEX IF NOT EXISTS alert_slow_due ON alert_slow (due_at)`,
  `CREATE TABLE IF NOT EXISTS alert_jobs (id TEXT PRIMARY KEY, delivery TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS alert_jobs_due ON alert_jobs (next_at)`,
];

/** An attempt in flight holds its delivery this long: past it (the object died mid-attempt) the alarm sends it again. */
export const ALERT_SEND_LEASE_MS = ALERT_TIMEOUT_MS + 5_000;
/** Deliveries attempted side by side per round. */
const ROUND = 10;
/** Definitions whose alerts are kept in memory (a workflow has few live versions). */
const CACHED_DEFINITIONS = 100;
/** Slow watches fired per alarm; more left keep the alarm due at once. */
const SLOW_PER_ALARM = 200;

interface JobRow {
  id: string;
  delivery: string;
  body: string;
  attempts: number;
}

export interface AlertWiring {
  /** Runs a change in the coordinator's transaction, its outbox rows included (WorkflowCoordinator.commit). */
  commit: (change: () => void) => Promise<void>;
  /** Arms the alarm at the earliest thing due (a leased delivery's retry among them). */
  armAlarm: () => Promise<void>;
}

export class AlertJobs {
  private readonly sql: SqlStorage;
  private readonly store: CoordinatorStore;
  private readonly outbox: Outbox;
  private readonly env: Env;
  private readonly wiring: AlertWiring;
  private readonly clock: () => number;
  /** The workflow's opened signing secret (one coordinator per workflow), read from D1 once. */
  private secret: Promise<string> | null = null;
  private readonly alertsByHash = new Map<string, AlertPolicy[]>();
  /** Sends the due deliveries, one round at a time; a call meanwhile gets one more round. */
  readonly deliver: () => Promise<boolean>;

  constructor(sql: SqlStorage, store: CoordinatorStore, outbox: Outbox, env: Env, wiring: AlertWiring, clock: () => number = Date.now) {
    this.sql = sql;
    this.store = store;
    this.outbox = outbox;
    this.env = env;
    this.wiring = wiring;
    this.clock = clock;
    for (const statement of SCHEMA) sql.exec(statement);
    this.deliver = singleFlight(() => this.deliverDue(), (a, b) => a && b);
  }

  /** A scheduler effect, inside its transaction: an instance started running (slow watches) or finished (alerts). */
  observe(effect: SchedulerEffect): void {
    if (effect.kind === "alert") this.finished(effect.instance, effect.status);
    else if (effect.kind === "instance-changed" && effect.instance.status === "running") this.started(effect.instance);
  }

  /** A definition is immutable under its hash: its alerts are read once, not parsed again at every start. */
  private alertsOf(instance: InstanceRecord): AlertPolicy[] {
    let alerts = this.alertsByHash.get(instance.def_hash);
    if (!alerts) {
      if (this.alertsByHash.size >= CACHED_DEFINITIONS) this.alertsByHash.clear();
      alerts = this.store.definition(instance.def_hash).def.policy.alerts ?? [];
      this.alertsByHash.set(instance.def_hash, alerts);
    }
    return alerts;
  }

  /** Each run of an instance (a rerun too) is watched from its own start: `slow` fires at most once per run. */
  private started(instance: InstanceRecord): void {
    if (!alertsApply(instance.env) || instance.started_at === null) return;
    for (const { index, dueAt } of slowWatches(this.alertsOf(instance), instance.started_at)) {
      this.sql.exec(`INSERT OR REPLACE INTO alert_slow (instance_id, alert, started_at, due_at) VALUES (?, ?, ?, ?)`, instance.id, index, instance.started_at, dueAt);
    }
  }

  private finished(instance: InstanceRecord, status: FinishedStatus): void {
    this.sql.exec(`DELETE FROM alert_slow WHERE instance_id = ?`, instance.id);
    const last = this.sql.exec<{ outcome: string }>(`SELECT outcome FROM alert_outcomes WHERE env = ?`, instance.env).toArray()[0]?.outcome ?? null;
    const { send, remember } = alertsOnFinish(this.alertsOf(instance), status, last as LastOutcome | null);
    if (remember !== null) this.sql.exec(`INSERT OR REPLACE INTO alert_outcomes (env, outcome) VALUES (?, ?)`, instance.env, remember);
    for (const alert of send) this.enqueue(instance, alert);
  }

  /** The slow watches due by `now`, inside the alarm's transaction: each fires if its run is still running. */
  fireSlow(now: number): void {
    const due = this.sql
      .exec<{ instance_id: string; alert: number; started_at: number }>(`SELECT instance_id, alert, started_at FROM alert_slow WHERE due_at <= ? ORDER BY due_at LIMIT ?`, now, SLOW_PER_ALARM)
      .toArray();
    for (const watch of due) {
      this.sql.exec(`DELETE FROM alert_slow WHERE instance_id = ? AND alert = ?`, watch.instance_id, watch.alert);
      const instance = this.store.instance(watch.instance_id);
      if (!instance || !slowStillApplies(instance, watch.started_at)) continue;
      const alert = this.alertsOf(instance)[watch.alert];
      if (alert) this.enqueue(instance, { event: "slow", url: alert.url, format: alert.format });
    }
  }

  /** A delivery to make: its body is fixed now (the same on every attempt); the log shows it pending. */
  private enqueue(instance: InstanceRecord, alert: AlertToSend): void {
    const now = this.clock();
    const delivery: DeliveryRecord = {
      id: newId("alr", now),
      workspaceId: instance.workspace_id,
      workflowId: instance.workflow_id,
      instanceId: instance.id,
      event: alert.event,
      url: alert.url,
      format: alert.format,
      status: "pending",
      attempts: 0,
      responseStatus: null,
      response: null,
      createdAt: now,
      updatedAt: now,
    };
    const body = alertBody(alert.event, alert.format, this.facts(instance), now);
    this.sql.exec(`INSERT INTO alert_jobs (id, delivery, body, attempts, next_at) VALUES (?, ?, ?, 0, ?)`, delivery.id, JSON.stringify(delivery), body, now);
    this.outbox.add({ kind: "d1", statements: [recordDelivery(delivery)] });
  }

  private facts(instance: InstanceRecord): AlertFacts {
    const failedNodes = this.store
      .currentRuns(instance.id)
      .filter((r) => r.status === "failed")
      .map((r) => ({ name: r.node_name, error: r.error }));
    // Why a skipped instance never ran, once the scheduler keeps it (instances.reason).
    const reason = (instance as InstanceRecord & { reason?: string | null }).reason ?? null;
    return {
      workflow: { id: instance.workflow_id, name: instance.workflow_name },
      instance: {
        id: instance.id,
        status: instance.status,
        env: instance.env,
        version: instance.version,
        createdAt: instance.created_at,
        startedAt: instance.started_at,
        finishedAt: instance.finished_at,
        reason,
        failedNodes,
      },
      url: consoleLink(this.env.PUBLIC_URL, instance.id),
    };
  }

  /** When the next delivery or slow watch is due (null: none is kept). */
  nextAt(): number | null {
    return this.sql.exec<{ t: number | null }>(`SELECT MIN(t) AS t FROM (SELECT MIN(next_at) AS t FROM alert_jobs UNION ALL SELECT MIN(due_at) FROM alert_slow)`).one().t;
  }

  hasDueDeliveries(now = this.clock()): boolean {
    return this.sql.exec(`SELECT 1 FROM alert_jobs WHERE next_at <= ? LIMIT 1`, now).toArray().length > 0;
  }

  /** The workflow was deleted: nothing is left to sign its alerts with, so none is sent or watched for. */
  forget(): void {
    this.sql.exec(`DELETE FROM alert_jobs`);
    this.sql.exec(`DELETE FROM alert_slow`);
  }

  /** Rounds of due deliveries until none is due: each attempt leased, made outside any transaction, and settled in one. */
  private async deliverDue(): Promise<boolean> {
    for (;;) {
      const now = this.clock();
      const due = this.sql.exec<JobRow & Record<string, SqlStorageValue>>(`SELECT id, delivery, body, attempts FROM alert_jobs WHERE next_at <= ? ORDER BY next_at LIMIT ?`, now, ROUND).toArray();
      if (due.length === 0) return true;
      for (const job of due) this.sql.exec(`UPDATE alert_jobs SET next_at = ? WHERE id = ?`, now + ALERT_SEND_LEASE_MS, job.id);
      await this.wiring.armAlarm();
      await Promise.all(due.map((job) => this.attempt(job)));
    }
  }

  private async attempt(job: JobRow): Promise<void> {
    const delivery = JSON.parse(job.delivery) as DeliveryRecord;
    let answer: AttemptAnswer;
    try {
      const secret = await this.signingSecret(delivery.workflowId);
      answer = await postAlert((input, init) => fetch(input, init), { id: delivery.id, url: delivery.url, body: job.body }, (id, body, at) => signWebhook(secret, id, body, at), this.clock());
    } catch (err) {
      answer = { error: `not sent: ${(err as Error).message}` };
    }
    injectFault(this.env, "alerts.afterSend"); // test/faults: dies after the POST, before its answer is recorded: it is sent again
    await this.wiring.commit(() => this.settle(job, delivery, answer));
  }

  /** Records an attempt's answer: the delivery waits for its next try, or leaves as delivered or failed. */
  private settle(job: JobRow, delivery: DeliveryRecord, answer: AttemptAnswer): void {
    const now = this.clock();
    const row = this.sql.exec<{ attempts: number }>(`SELECT attempts FROM alert_jobs WHERE id = ?`, job.id).toArray()[0];
    if (!row || row.attempts !== job.attempts) return; // settled already by an attempt that overtook this one
    const state = afterAttempt(job.attempts, answer, now);
    if (state.status === "pending") this.sql.exec(`UPDATE alert_jobs SET attempts = ?, next_at = ? WHERE id = ?`, state.attempts, state.nextAt, job.id);
    else this.sql.exec(`DELETE FROM alert_jobs WHERE id = ?`, job.id);
    const record: DeliveryRecord = { ...delivery, status: state.status, attempts: state.attempts, ...answerRecord(answer), updatedAt: now };
    this.outbox.add({ kind: "d1", statements: [recordDelivery(record)] });
  }

  private signingSecret(workflowId: string): Promise<string> {
    this.secret ??= alertSecret(this.env.DB, this.env, workflowId).catch((err: unknown) => {
      this.secret = null; // tried again at the next attempt
      throw err;
    });
    return this.secret;
  }
}
