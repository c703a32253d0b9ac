// WorkflowCoordinator Durable Object: one per workflow; persists and wires the Engine, arms the alarm.
import { DurableObject } from "cloudflare:workers";
import { conflict, notFound, SluiceError, toOutcome, type Outcome } from "../core/errors.ts";
import type { RerunMode } from "../core/lifecycle.ts";
import { liveWindowMinutes, liveWindowMs } from "../core/live-window.ts";
import { nothingToTerminate } from "../core/lifecycle.ts";
import { liveRecordsFromHistory } from "../core/scheduler/rehydrate.ts";
import type { Completion } from "../core/runner-protocol.ts";
import type { StartNotice } from "../core/scheduler/records.ts";
import { injectFault } from "../faults.ts";
import { insertAudit } from "../db/audit.ts";
import { historyStatus, instanceHistory } from "../db/history.ts";
import { InstanceRepo } from "../db/instances.ts";
import type { InstanceView } from "../db/views.ts";
import { AlertJobs } from "./alert-jobs.ts";
import { Engine, type HttpJob, type Started } from "./engine.ts";
import { LiveWatches } from "./live-watches.ts";
import { Outbox } from "./outbox.ts";
import { poolFor } from "./stub.ts";
import { DefinitionCache, startInputs, type StartRequest } from "./run-requests.ts";
import { CoordinatorStore } from "./store.ts";

export type { StartInstance, Started } from "./engine.ts";
export type { StartRequest } from "./run-requests.ts";

export interface CoordinatorStats {
  databaseSize: number;
  liveInstances: number;
  nodeRuns: number;
  timers: number;
  definitions: number;
  dedupKeys: number;
  outboxRows: number;
}

const FLUSH_RETRIES = 3;
/** Storage key set once the workflow is deleted: the coordinator refuses starts and writes nothing more. */
const RETIRED = "retired";
const FLUSH_RETRY_MS = 25;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WorkflowCoordinator extends DurableObject<Env> {
  private readonly engine: Engine;
  private readonly outbox: Outbox;
  private readonly store: CoordinatorStore;
  private readonly alerts: AlertJobs;
  /** Whether a call is already trying a failed delivery again at once (see commit). */
  private retryingFlush = false;
  /** http requests in flight, by attempt: one whose node stopped running (terminated, timed out) is aborted. */

  private readonly httpInFlight = new Map<string, AbortController>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.outbox = new Outbox(ctx.storage, env);
    this.store = new CoordinatorStore(ctx.storage.sql);
    // The runner kills a timed-out node itself; the coordinator waits two lease periods more for its report.
    const graceMs = 2 * Number(env.LEASE_SECONDS || "30") * 1000;
    this.engine = new Engine(this.store, this.outbox, graceMs, liveWindowMs(liveWindowMinutes(env.LIVE_WINDOW_MINUTES)));
    this.engine.httpInFlight = (attemptId) => this.httpInFlight.has(attemptId);
    this.alerts = new AlertJobs(ctx.storage.sql, this.store, this.outbox, env, { commit: (change) => this.commit(change), armAlarm: () => this.armNextAlarm() });
    this.engine.effectObserver = (effect) => this.alerts.observe(effect);

  }

  /** Definitions by published version and draft revision: a run request carries ids, not the definition. */
  private readonly runDefinitions = new DefinitionCache(this.env.DB);

  /** Which instances someone follows live, as the pools are told (their log chunks come here only then). */
  private readonly watches = new LiveWatches(this.ctx, (instanceId) => this.poolOfInstance(instanceId));

  /**
   * Starts the runs of one request (one API request, or a queue batch's starts of this workflow) in one
   * transaction, in the given order: one commit, one D1 mirror batch, which also carries the request's
   * audit row. Every run is checked first; a refused request (bad parameters, workflow deleted) starts nothing.
   */
  async startMany(request: StartRequest): Promise<Outcome<Started[]>> {
    if (this.retired()) return refused(notFound(`workflow ${request.workflowId}`));
    let prepared: Awaited<ReturnType<typeof startInputs>>;
    try {
      prepared = await startInputs(request, this.runDefinitions);
    } catch (err) {
      return refused(err);
    }
    const { inputs, hashes } = prepared;
    const started = await this.commit(() => {
      const answers = this.engine.startMany(inputs, hashes);
      if (request.audit) {
        const status = answers.every((a) => a.duplicate) ? 200 : 201;
        this.outbox.add({ kind: "d1", statements: [insertAudit({ ...request.audit, status })] });
      }
      return answers;
    });
    return { ok: true, value: started };
  }

  /** The pool handed attempts to runners: their start notices, gathered by the pool, in one transaction. */
  async nodesStarted(notices: StartNotice[]): Promise<void> {
    await this.commit(() => this.engine.nodesStarted(notices));
  }

  /**
   * A runner's result, with the attempt's start notice when the pool had not sent it yet. Idempotent: a
   * repeated or stale report changes nothing.
   */
  async nodeFinished(attemptId: string, completion: Completion, started?: StartNotice): Promise<void> {
    await this.commit(() => this.engine.nodeFinished(attemptId, completion, started));
  }

  /** The pool declared the attempt's runner gone (its lease expired): an infrastructure retry, or a failure once those are used. */
  async nodeLost(attemptId: string, reason: string): Promise<void> {
    await this.commit(() => this.engine.nodeLost(attemptId, reason));
  }

  /** Stopped attempts whose processes the pool knows to be gone: their instances free their places in maxParallel. */
  async processGone(attemptIds: string[]): Promise<void> {
    await this.commit(() => this.engine.processGone(attemptIds));
  }

  async terminate(instanceId: string): Promise<Outcome<Started>> {
    if (!this.store.instance(instanceId)) {
      // Gone from live state, so finished: refused as a live finished one is.
      const status = await historyStatus(this.env.DB, instanceId);
      return refused(status === null ? notFound(`instance ${instanceId}`) : nothingToTerminate(instanceId, status));
    }
    return this.commit(() => toOutcome(() => this.engine.terminate(instanceId)));
  }

  /**
   * New attempts for a finished instance's nodes. One gone from live state is first rebuilt from its D1
   * history, in the rerun's transaction; it then stays live until its next finish and live window.
   */
  async rerun(instanceId: string, mode: RerunMode, node?: string): Promise<Outcome<Started>> {
    if (this.store.instance(instanceId)) return this.commit(() => toOutcome(() => this.engine.rerun(instanceId, mode, node)));
    let rebuilt: Awaited<ReturnType<WorkflowCoordinator["fromHistory"]>>;
    try {
      rebuilt = await this.fromHistory(instanceId);
    } catch (err) {
      return refused(err);
    }
    return this.commit(() =>
      toOutcome(() => {
        this.engine.rehydrate(rebuilt.records, rebuilt.definition);
        return this.engine.rerun(instanceId, mode, node);
      }),
    );
  }

  /**
   * A finished instance's live records from D1, with the definition it ran as D1 keeps it. A row from before
   * D1 kept definitions reruns its published version's; a dev run's draft of then is not kept anywhere.
   */
  private async fromHistory(instanceId: string) {
    const history = await instanceHistory(this.env.DB, instanceId);
    if (!history) throw notFound(`instance ${instanceId}`);
    const { row, runs, definition: kept } = history;
    if (kept && row.def_hash !== null) return { records: liveRecordsFromHistory(row, runs, kept.def, row.def_hash), definition: kept };
    if (row.version === null) {
      throw conflict(
        `instance ${instanceId} ran the workflow's draft, finished more than LIVE_WINDOW_MINUTES ago, and its definition ` +
          "is not kept with its history: start a new dev run instead",
      );
    }
    const loaded = await this.runDefinitions.version(row.workspace_id, row.workflow_id, row.version);
    const definition = { def: loaded.definition, weights: loaded.weights };
    return { records: liveRecordsFromHistory(row, runs, loaded.definition, loaded.hash), definition };
  }

  /** Whose instance this is, from live state: terminate and rerun need not wait for D1 to mirror it. */
  async instanceScope(instanceId: string): Promise<{ workspaceId: string; env: "dev" | "prod" } | null> {
    const instance = this.store.instance(instanceId);
    return instance ? { workspaceId: instance.workspace_id, env: instance.env as "dev" | "prod" } : null;
  }

  /** The instance as this coordinator holds it, and whose it is: the API answers from it until D1 mirrors the instance. */
  async liveInstance(instanceId: string): Promise<{ workspaceId: string; view: InstanceView } | null> {
    const instance = this.store.instance(instanceId);
    const view = instance ? this.engine.view(instanceId) : null;
    return instance && view ? { workspaceId: instance.workspace_id, view } : null;
  }

  /** Delivers the D1 mirror rows committed so far (for a reader that needs them now); false while D1 refuses them. */
  async mirrored(): Promise<boolean> {
    return (await this.outbox.flushMirror()) && this.outbox.mirrorPending() === 0;
  }

  /**
   * The workflow is being deleted. Refused while instances wait or run, unless `terminate`: then they are
   * terminated (their D1 rows and pool cancels delivered before this answers). From then on every start is
   * refused, live state and timers are forgotten and no alarm is armed: nothing more reaches D1 for it.
   */
  async retire(terminate: boolean): Promise<Outcome<{ terminated: number }>> {
    const active = this.store.instanceStatuses().filter((i) => i.status === "waiting" || i.status === "running");
    if (active.length > 0 && !terminate) {
      const running = active.filter((i) => i.status === "running").length;
      return refused(conflict(
        `workflow has ${active.length} unfinished instance(s) (${running} running, ${active.length - running} waiting): ` +
          "wait for them, or delete with ?terminate=true to terminate them",
      ));
    }
    this.ctx.storage.kv.put(RETIRED, true);
    if (active.length > 0) await this.commit(() => { for (const i of active) this.engine.terminate(i.id); });
    if (this.outbox.pending() > 0 && !(await this.outbox.flush())) {
      return refused(new SluiceError(500, "internal", "the terminated instances could not be recorded yet (D1 or a pool is unreachable); nothing was deleted: delete again"));
    }
    this.ctx.storage.transactionSync(() => {
      this.store.takeDueTimers(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      for (const { id } of this.store.instanceStatuses()) this.store.purgeInstance(id);
      this.alerts.forget();
    });
    await this.ctx.storage.deleteAlarm();
    return { ok: true, value: { terminated: active.length } };
  }

  /** What this object holds: its SQLite size and row counts (the stats endpoint). */
  async stats(): Promise<CoordinatorStats> {
    return { databaseSize: this.ctx.storage.sql.databaseSize, ...this.store.counts(), outboxRows: this.outbox.pending() };
  }

  private retired(): boolean {
    return this.ctx.storage.kv.get(RETIRED) === true;
  }

  async waitReason(instanceId: string): Promise<string | null> {
    return this.engine.waitReason(instanceId);
  }

  /** Live status: a WebSocket per subscriber, tagged with its instance (hibernation keeps idle ones free). */
  override async fetch(request: Request): Promise<Response> {
    const instanceId = new URL(request.url).searchParams.get("instance");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !instanceId) {
      return new Response("expected a WebSocket upgrade for an instance", { status: 426 });
    }
    // Gone from live state: its history answers (the API checked whose it is); a rerun makes it live again.
    const workspaceId = new URL(request.url).searchParams.get("workspace");
    const view = this.engine.view(instanceId) ?? (workspaceId ? await new InstanceRepo(this.env.DB, workspaceId).get(instanceId).catch(() => null) : null);
    if (!view) return new Response("no such instance here", { status: 404 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [instanceId]);
    // The pool sends this instance's log chunks here from now on, before the follower reads the log (after
    // the first message): it misses no line.
    await this.watches.reconcile();
    await this.armNextAlarm();
    server.send(JSON.stringify({ type: "instance", instance: this.engine.view(instanceId) ?? view }));
    return new Response(null, { status: 101, webSocket: client, headers: { "sec-websocket-protocol": "sluice.v1" } });
  }

  /** Subscribers only listen. */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    ws.close(code === 1005 ? 1000 : code, "closing");
    await this.watches.reconcile(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.watches.reconcile(ws);
  }

  /** The pool that fences an instance's log chunks: its workspace's group of the workflow's policy. */
  private poolOfInstance(instanceId: string) {
    const instance = this.store.instance(instanceId);
    if (!instance) return null;
    return poolFor(this.env, instance.workspace_id, this.store.definition(instance.def_hash).def.policy.resourceGroup);
  }

  /** A log chunk reached D1 while the instance is watched (the pool sends only those); its followers see it at once. */
  async logAppended(instanceId: string, node: string, attempt: number, text: string): Promise<void> {
    this.send(instanceId, JSON.stringify({ type: "log", node, attempt, text }));
  }

  private broadcast(instanceIds: string[]): void {
    for (const id of instanceIds) {
      if (this.ctx.getWebSockets(id).length === 0) continue;
      const view = this.engine.view(id);
      if (view) this.send(id, JSON.stringify({ type: "instance", instance: view }));
    }
  }

  private send(instanceId: string, message: string): void {
    for (const ws of this.ctx.getWebSockets(instanceId)) {
      try {
        ws.send(message);
      } catch {
        // A closing socket: nothing to deliver to.
      }
    }
  }

  override async alarm(): Promise<void> {
    await this.commit(() => {
      this.engine.fireTimers();
      this.alerts.fireSlow(Date.now());
    });
    // A delivery this alarm could not settle keeps its lease: the alarm armed for it tries again.
    await this.alerts.deliver().catch((err: unknown) => console.error("coordinator alerts: delivery interrupted", err));
    await this.watches.reconcile();
    await this.armNextAlarm();
  }

  /** Makes an http node's request outside any transaction and reports the outcome in a new one. */
  private async runHttp(job: HttpJob): Promise<void> {
    let result: { status: number; body: string } | { error: string };
    const stop = new AbortController();
    this.httpInFlight.set(job.attemptId, stop);
    try {
      const res = await fetch(job.request.url, {
        method: job.request.method,
        headers: job.request.headers,
        body: job.request.method === "GET" || job.request.method === "HEAD" ? undefined : job.request.body,
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(job.timeoutSeconds * 1000)]),
        redirect: "manual",
      });
      result = { status: res.status, body: await res.text() };
    } catch (err) {
      result = { error: (err as Error).name === "TimeoutError" ? `timed out after ${job.timeoutSeconds}s` : `request failed: ${(err as Error).message}` };
    } finally {
      this.httpInFlight.delete(job.attemptId);
    }
    await this.commit(() => this.engine.httpFinished(job.attemptId, result));
  }

  /**
   * One transaction per change: state and its effects (D1 mirror rows, pool calls) commit together. The
   * caller waits for the pool calls only; the D1 mirror is delivered in the background (an alarm armed
   * with the commit delivers either should this object die first), and the alarm is re-armed for the next timer.
   */
  private async commit<T>(change: () => T): Promise<T> {
    let result: T;
    try {
      result = this.outbox.inTransaction(change);
    } catch (err) {
      // Rolled back: the http requests and notices it gathered must not go out with the next commit.
      this.engine.discardUncommitted();
      throw err;
    }

    const armed = this.outbox.armDelivery();
    // A terminated or timed-out http node stops now: a rerun never runs beside its old request.
    for (const [attemptId, stop] of this.httpInFlight) if (this.store.nodeRun(attemptId)?.status !== "running") stop.abort();
    injectFault(this.env, "coordinator.afterCommit"); // test/faults: dies after committing, before delivering effects
    // A commit of its outcome that fails leaves the job stored: its watch timer makes the request again.
    for (const job of this.engine.takeHttpJobs()) this.ctx.waitUntil(this.runHttp(job).catch((err: unknown) => console.error("coordinator http: outcome not recorded", err)));
    // Alerts decided by this commit go out now; one that fails here is the alarm's (its lease runs out).
    if (this.alerts.hasDueDeliveries()) this.ctx.waitUntil(this.alerts.deliver().catch((err: unknown) => console.error("coordinator alerts: delivery interrupted", err)));
    this.broadcast(this.engine.takeTouched());
    await armed;
    this.ctx.waitUntil(this.mirrorInBackground());
    // A failed delivery is mostly an object restarting: tried again at once, so the answer to this call
    // usually follows its effects (a terminate's cancel reaches the pool before "terminated" is answered).
    // One call at a time waits for those quick retries (under a storm of calls they would pile up);
    // past them, the alarm keeps retrying.
    if (!(await this.outbox.flushPools()) && !this.retryingFlush) {
      this.retryingFlush = true;
      try {
        for (let retry = 1; retry <= FLUSH_RETRIES; retry++) {
          await sleep(FLUSH_RETRY_MS * retry);
          if (await this.outbox.flushPools()) break;
        }
      } finally {
        this.retryingFlush = false;
      }
    }
    await this.armNextAlarm();
    // Dispatches the outbox gave up on fail their attempts (the node's own retries then apply).
    const undelivered = this.outbox.takeUndelivered();
    if (undelivered.length > 0) await this.commit(() => this.engine.dispatchFailed(undelivered));
    return result;
  }

  /** The D1 mirror rows of this and concurrent commits, in one batch while no other is in flight; a failed one waits out its backoff under the alarm. */
  private async mirrorInBackground(): Promise<void> {
    await this.outbox.flushMirror();
    await this.armNextAlarm();
  }

  /** The alarm at the next timer, backoff or watch renewal, unless it is armed earlier. */
  private async armNextAlarm(): Promise<void> {
    const next = earliest(earliest(earliest(this.engine.nextTimerAt(), this.outbox.nextDeliveryAt()), this.watches.nextAt()), this.alerts.nextAt());
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }
}

const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));


/** A refusal as an answer (SluiceErrors do not cross RPC intact); anything else still throws. */
const refused = (err: unknown): Outcome<never> => toOutcome<never>(() => { throw err; });
