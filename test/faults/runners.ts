// Runner processes for the fault suite: they claim, confirm, log, fail, time out, hang, hold work across rounds, die by SIGKILL, or kill work whose lease they could not renew.
import { env, runInDurableObject } from "cloudflare:test";
import { FakeRunner } from "../workers/helpers.ts";
import { keyedDraw } from "./rng.ts";
import { SHORT_TIMEOUT_SECONDS, tagIn, type World } from "./world.ts";

/** What a runner does with one claimed attempt. A kill takes the whole process down at that point. */
type Fate = "ok" | "fail" | "hold" | "timeout" | "hang" | "kill-unacked" | "kill-acked" | "kill-logged";

const FATES: [Fate, number][] = [
  ["kill-unacked", 0.015], // claimed, never confirmed: the lease expires and the pool offers it again
  ["kill-acked", 0.015], // confirmed by a heartbeat, then silence: the attempt is lost and retried or failed
  ["kill-logged", 0.01], // a log chunk was stored, then silence
  ["fail", 0.08], // the script exits 1: the node's retry policy applies
  ["hold", 0.2], // still running at the end of the round: heartbeats, completes a later round
];
/** Nodes with a short timeout also run past it: the runner kills them and says so, or the process hangs and only heartbeats. */
const SHORT_FATES: [Fate, number][] = [["timeout", 0.25], ["hang", 0.25], ...FATES];

/** The node's timeout, the coordinator's grace past it (2 leases), and slack for a busy machine. */
const HANG_LIMIT_MS = (SHORT_TIMEOUT_SECONDS + 4 + 2) * 1000;
/** After a 5xx answer to its result, a process dies this often instead of retrying. */
const P_DIES_ON_5XX = 0.5;

interface Task {
  attemptId: string;
  instanceId: string;
  nodeName: string;
  attempt: number;
  timeoutSeconds: number;
  /** Binds the node's resolved values, among them the request's tag. */
  prelude: string;
}

/** One claim of an attempt; `sentAt` is before the claim request left, so a lease granted later cannot precede it. */
export interface Claim {
  attemptId: string;
  instanceId: string;
  nodeName: string;
  sentAt: number;
}

/** An attempt's process on a runner: from its claim until it exited, was killed, or its runner was told to kill it. */
export interface Execution {
  attemptId: string;
  instanceId: string;
  nodeName: string;
  from: number;
  to: number | null;
}

export interface FleetStats {
  claimed: number;
  completed: number;
  failedOnPurpose: number;
  kills: { unacked: number; acked: number; logged: number; onFailedReport: number };
  /** Attempts a killed process held or had claimed besides the one it died on. */
  abandoned: number;
  /**
   * Work the server stopped under a live runner: a result refused (409) or a process cancelled at a
   * heartbeat, after a terminate, a timeout, or a lease that ran out during a slow round.
   */
  stoppedByServer: number;
  /** Reports (results, log chunks) from runners that do not hold the lease: after a kill, or while another runner holds it. */
  staleReports: number;
  /** Stale reports the Worker accepted: must be 0 (fencing by attempt id and runner). */
  staleReportsAccepted: number;
  /** Attempts handed out again after their result was accepted: the node would run twice (must be 0). */
  reissuedAfterCompletion: number;
  timeouts: { reported: number; hung: number; hangsStopped: number };
  /** Hung processes the server never told to stop within the node's timeout and grace (must be 0). */
  hangsNotStopped: number;
  /** Processes the runner killed itself because it could not renew their leases in time (DESIGN §2.6). */
  killedUnrenewed: number;
}

/** When the runner kills a process whose lease was last renewed at `renewedAt` (runner/src/lease-watch.ts: dead by nine tenths of the lease). */
const unrenewedKillAt = (renewedAt: number, leaseMs: number) => renewedAt + leaseMs * 0.9;

interface Held {
  task: Task;
  mode: "hold" | "timeout" | "hang";
  rounds: number;
  until: number;
  execution: Execution;
  /** When the heartbeat that last renewed the lease was sent (or the claim, before any). */
  renewedAt: number;
}

class RunnerProcess {
  runner: FakeRunner;
  readonly group: string;
  readonly held = new Map<string, Held>();
  /** The incarnation before the last SIGKILL, which may still think it owns work. */
  previous: FakeRunner | null = null;

  constructor(token: string, group: string) {
    this.group = group;
    this.runner = new FakeRunner(token, RUNNER_SLOTS);
  }
}

/** Slots each runner registers with: the most a round claims. */
const RUNNER_SLOTS = 16;

/** A late report from a killed (or partitioned) runner, sent once its lease has surely run out: fencing must refuse it. */
interface LateReport {
  runner: FakeRunner;
  group: string;
  attemptId: string;
  notBefore: number;
}

export class RunnerFleet {
  readonly stats: FleetStats = {
    claimed: 0,
    completed: 0,
    failedOnPurpose: 0,
    kills: { unacked: 0, acked: 0, logged: 0, onFailedReport: 0 },
    abandoned: 0,
    stoppedByServer: 0,
    staleReports: 0,
    staleReportsAccepted: 0,
    reissuedAfterCompletion: 0,
    timeouts: { reported: 0, hung: 0, hangsStopped: 0 },
    hangsNotStopped: 0,
    killedUnrenewed: 0,
  };
  readonly claims: Claim[] = [];
  readonly executions: Execution[] = [];
  readonly notes: string[] = [];
  private readonly processes: RunnerProcess[] = [];
  private readonly pendingReports: LateReport[] = [];
  /** Attempts whose result the Worker accepted. */
  private readonly finished = new Set<string>();
  /** How often each attempt was claimed, so a re-offered attempt draws a fresh fate. */
  private readonly claimCount = new Map<string, number>();
  private readonly seed: number;
  private readonly world: World;
  private readonly leaseMs: number;

  constructor(seed: number, world: World, perGroup: number, leaseMs: number) {
    this.seed = seed;
    this.world = world;
    this.leaseMs = leaseMs;
    for (const group of world.groups) {
      for (let i = 0; i < perGroup; i++) this.processes.push(new RunnerProcess(world.runnerTokens[group]!, group));
    }
  }

  get size(): number {
    return this.processes.length;
  }

  /** Work still in runners' hands or owed a late report. */
  busy(): number {
    return this.processes.reduce((n, p) => n + p.held.size, 0) + this.pendingReports.length;
  }

  /**
   * One round of every process, concurrently: heartbeat, finish held work, claim `slots[i]` new
   * attempts; a process whose `claimFirst[i]` is set claims before it heartbeats (a real runner's
   * heartbeats and claims run on their own clocks).
   */
  async round(slots: number[], claimFirst: boolean[], faulty: boolean): Promise<void> {
    await Promise.all(this.processes.map((p, i) => this.work(p, slots[i] ?? 4, claimFirst[i] ?? false, faulty)));
  }

  /** Only heartbeats for `ms`: runners stay alive and hold their work while the suite waits for alarms. */
  async keepAlive(ms: number): Promise<void> {
    for (const until = Date.now() + ms; Date.now() < until; ) {
      await Promise.all(this.processes.filter((p) => p.held.size > 0).map((p) => this.heartbeat(p)));
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Sends the late reports that are due; every one must be refused (409). */
  async sendLateReports(): Promise<void> {
    const now = Date.now();
    for (const late of this.pendingReports.splice(0)) {
      if (late.notBefore > now || (await this.stillLeased(late))) {
        this.pendingReports.push(late);
        continue;
      }
      const res = await late.runner.complete(late.attemptId, 0);
      if (res.status >= 500) {
        this.pendingReports.push({ ...late, notBefore: now + 200 });
        continue;
      }
      this.countStale(res.status);
    }
  }

  /**
   * Heartbeats what the process holds; an attempt the server cancels is killed at once and the kill
   * reported under its lease (the server holds its slot until then). One whose lease could not be
   * renewed in time was killed by the runner's lease watch, as the real runner does.
   */
  private async heartbeat(p: RunnerProcess): Promise<void> {
    this.killUnrenewed(p);
    if (p.held.size === 0) return;
    const sentAt = Date.now();
    const beat = await p.runner.heartbeat([...p.held.keys()]);
    this.killUnrenewed(p);
    if (beat.status !== 200) return;
    const cancel = new Set(beat.json.cancel as string[]);
    for (const [id, held] of [...p.held]) {
      if (!cancel.has(id)) {
        held.renewedAt = Math.max(held.renewedAt, sentAt);
        continue;
      }
      p.held.delete(id);
      held.execution.to = Date.now();
      if (held.mode === "hang") this.stats.timeouts.hangsStopped++;
      else this.stats.stoppedByServer++;
      await p.runner.complete(id, null, {}, "killed: cancelled by the server");
    }
  }

  /** The runner's lease watch: a process whose lease went unrenewed for (nearly) a whole lease was killed by then. */
  private killUnrenewed(p: RunnerProcess): void {
    const now = Date.now();
    for (const [id, held] of [...p.held]) {
      const killAt = unrenewedKillAt(held.renewedAt, this.leaseMs);
      if (killAt > now) continue;
      p.held.delete(id);
      held.execution.to = killAt;
      this.stats.killedUnrenewed++;
    }
  }

  private async work(p: RunnerProcess, slots: number, claimFirst: boolean, faulty: boolean): Promise<void> {
    if (claimFirst) {
      const incarnation = p.runner;
      await this.claim(p, slots, faulty);
      if (p.runner !== incarnation) return; // it died
    }
    await this.heartbeat(p);
    for (const [id, h] of [...p.held]) {
      const now = Date.now();
      if (!p.held.has(id)) continue;
      if (h.mode === "hold" && faulty && --h.rounds > 0) continue;
      if (h.mode === "timeout" && faulty && now < h.until) continue;
      // A hung process hangs in the drain too: only the server can stop it.
      if (h.mode === "hang" && now < h.until) continue;
      p.held.delete(id);
      if (h.mode === "hang" && now >= h.until) {
        this.stats.hangsNotStopped++;
        if (this.notes.length < 10) this.notes.push(`hung attempt ${id} was not told to stop within ${HANG_LIMIT_MS} ms`);
      }
      const timedOut = h.mode === "timeout" ? `timed out after ${h.task.timeoutSeconds}s` : null;
      if ((await this.complete(p, h.task, h.execution, timedOut === null ? 0 : null, timedOut)) === "died") return this.kill(p, null, "kill-acked", 0);
    }
    if (!claimFirst) await this.claim(p, slots, faulty);
  }

  /** Claims up to `slots` attempts and meets each one's fate. */
  private async claim(p: RunnerProcess, slots: number, faulty: boolean): Promise<void> {
    const sentAt = Date.now();
    const tasks = (await p.runner.claim(slots, 0).catch(() => [])) as Task[];
    const receivedAt = Date.now();
    this.stats.claimed += tasks.length;
    this.stats.reissuedAfterCompletion += tasks.filter((t) => this.finished.has(t.attemptId)).length;
    const executions = tasks.map((t) => {
      this.claims.push({ attemptId: t.attemptId, instanceId: t.instanceId, nodeName: t.nodeName, sentAt });
      const execution: Execution = { attemptId: t.attemptId, instanceId: t.instanceId, nodeName: t.nodeName, from: receivedAt, to: null };
      this.executions.push(execution);
      return execution;
    });
    for (const [i, task] of tasks.entries()) {
      const fate = faulty ? this.fateOf(task) : "ok";
      const execution = executions[i]!;
      if (fate.startsWith("kill")) return this.kill(p, task, fate, i, executions);
      if (fate === "hold" || fate === "timeout" || fate === "hang") {
        const beatAt = Date.now();
        const beat = await p.runner.heartbeat([task.attemptId]);
        const renewed = beat.status === 200 && !(beat.json.cancel as string[]).includes(task.attemptId);
        const until = fate === "hang" ? receivedAt + HANG_LIMIT_MS : receivedAt + task.timeoutSeconds * 1000;
        p.held.set(task.attemptId, { task, mode: fate, rounds: 1 + Math.floor(this.draw(task, "rounds") * 3), until, execution, renewedAt: renewed ? beatAt : sentAt });
        if (fate === "hang") this.stats.timeouts.hung++;
        if (this.draw(task, "stale") < 0.25) await this.staleReport(p, task);
        continue;
      }
      if (this.draw(task, "log") < 0.3) await p.runner.log(task.attemptId, `working on ${task.nodeName}\n`);
      if ((await this.complete(p, task, execution, fate === "fail" ? 1 : 0)) === "died") return this.kill(p, null, "kill-acked", i + 1, executions);
    }
  }

  /**
   * SIGKILL: the process confirms the attempt as its fate says, then vanishes with everything it held
   * and had claimed (the tasks from index `at` on). `task` is null when it dies on a failed report.
   */
  private async kill(p: RunnerProcess, task: Task | null, fate: Fate, at: number, claimed: Execution[] = []): Promise<void> {
    if (task && fate === "kill-acked") await p.runner.heartbeat([task.attemptId]);
    if (task && fate === "kill-logged") await p.runner.log(task.attemptId, "about to be killed\n");
    if (!task) this.stats.kills.onFailedReport++;
    else this.stats.kills[fate === "kill-unacked" ? "unacked" : fate === "kill-acked" ? "acked" : "logged"]++;
    const now = Date.now();
    const dying = [...claimed.slice(at), ...[...p.held.values()].map((h) => h.execution)];
    for (const execution of dying) execution.to ??= now;
    this.stats.abandoned += dying.length - (task ? 1 : 0);
    const notBefore = now + this.leaseMs + 500;
    // A partitioned runner, unlike a killed one, may still report later (even one whose claim was never confirmed).
    for (const execution of dying) this.pendingReports.push({ runner: p.runner, group: p.group, attemptId: execution.attemptId, notBefore });
    p.held.clear();
    // A supervisor restarts the runner under a new id.
    p.previous = p.runner;
    p.runner = new FakeRunner(this.world.runnerTokens[p.group]!, RUNNER_SLOTS);
  }

  /** Another runner (the process's previous incarnation, or a stranger) reports for an attempt this one holds. */
  private async staleReport(p: RunnerProcess, task: Task): Promise<void> {
    const stale = p.previous ?? new FakeRunner(this.world.runnerTokens[p.group]!, RUNNER_SLOTS);
    const res = this.draw(task, "stale-kind") < 0.5 ? await stale.complete(task.attemptId, 0) : await stale.log(task.attemptId, "not mine\n");
    if (res.status < 500) this.countStale(res.status);
  }

  private countStale(status: number): void {
    this.stats.staleReports++;
    if (status !== 409) this.stats.staleReportsAccepted++;
  }

  /** The process has exited; it reports, retrying a 5xx as the real runner does, unless it dies meanwhile. */
  private async complete(p: RunnerProcess, task: Task, execution: Execution, exitCode: number | null, error: string | null = null): Promise<"done" | "died"> {
    execution.to ??= Date.now();
    // The branch node downstream of `check` reads this output to pick its path.
    const outputs = { route: this.draw(task, "route") < 0.5 ? "a" : "b" };
    for (let attempt = 0; ; attempt++) {
      const res = await p.runner.complete(task.attemptId, exitCode, outputs, error);
      if (res.status === 200) {
        this.finished.add(task.attemptId);
        this.stats.completed++;
        if (exitCode === 1) this.stats.failedOnPurpose++;
        if (error !== null) this.stats.timeouts.reported++;
        return "done";
      }
      if (res.status === 409) {
        this.stats.stoppedByServer++;
        return "done";
      }
      // The real runner retries 5xx while its lease may still be alive.
      if (res.status < 500 || attempt >= 5) throw new Error(`complete ${task.attemptId}: ${res.status} ${res.text}`);
      if (this.draw(task, `dies-on-5xx-${attempt}`) < P_DIES_ON_5XX) {
        this.pendingReports.push({ runner: p.runner, group: p.group, attemptId: task.attemptId, notBefore: Date.now() + this.leaseMs + 500 });
        return "died";
      }
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }

  private fateOf(task: Task): Fate {
    const n = (this.claimCount.get(task.attemptId) ?? 0) + 1;
    this.claimCount.set(task.attemptId, n);
    let x = this.draw(task, `fate${n}`);
    for (const [fate, p] of task.timeoutSeconds <= SHORT_TIMEOUT_SECONDS ? SHORT_FATES : FATES) {
      if (x < p) return fate;
      x -= p;
    }
    return "ok";
  }

  /** A draw fixed by the seed, the request, the node and the attempt: independent of claim timing. */
  private draw(task: Task, what: string): number {
    const tag = tagIn(task.prelude) ?? task.instanceId;
    return keyedDraw(this.seed, `${tag}|${task.nodeName}|${task.attempt}|${what}`);
  }

  private async stillLeased(late: LateReport): Promise<boolean> {
    const pool = env.POOL.get(env.POOL.idFromName(late.group));
    return runInDurableObject(pool, (_, state) => {
      const row = state.storage.sql
        .exec<{ state: string; runner_id: string | null }>(`SELECT state, runner_id FROM tasks WHERE attempt_id = ?`, late.attemptId)
        .toArray()[0];
      return row !== undefined && row.state === "leased" && row.runner_id === late.runner.runnerId;
    });
  }
}
