// Runner processes for the fault suite: they claim, confirm, log, fail, hold work across rounds, or die by SIGKILL.
import { env, runInDurableObject } from "cloudflare:test";
import { FakeRunner } from "../workers/helpers.ts";
import { keyedDraw } from "./rng.ts";
import { tagIn, type World } from "./world.ts";

/** What a runner does with one claimed attempt. A kill takes the whole process down at that point. */
type Fate = "ok" | "fail" | "hold" | "kill-unacked" | "kill-acked" | "kill-logged";

const FATES: [Fate, number][] = [
  ["kill-unacked", 0.015], // claimed, never confirmed: the lease expires and the pool offers it again
  ["kill-acked", 0.015], // confirmed by a heartbeat, then silence: the attempt is lost and retried or failed
  ["kill-logged", 0.01], // a log chunk was stored, then silence
  ["fail", 0.08], // the script exits 1: the node's retry policy applies
  ["hold", 0.2], // still running at the end of the round: heartbeats, completes a later round
];

interface Task {
  attemptId: string;
  instanceId: string;
  nodeName: string;
  attempt: number;
  /** Binds the node's resolved values, among them the request's tag. */
  prelude: string;
}

export interface FleetStats {
  claimed: number;
  completed: number;
  failedOnPurpose: number;
  kills: { unacked: number; acked: number; logged: number };
  /** Attempts a killed process held or had claimed besides the one it died on. */
  abandoned: number;
  /** Leases that ran out under a live runner (a slow round); not injected, but handled the same way. */
  leasesLostWhileAlive: number;
  /** Reports (results, log chunks) from runners that do not hold the lease: after a kill, or while another runner holds it. */
  staleReports: number;
  /** Stale reports the Worker accepted: must be 0 (fencing by attempt id and runner). */
  staleReportsAccepted: number;
  /** Attempts handed out again after their result was accepted: the node would run twice (must be 0). */
  reissuedAfterCompletion: number;
}

class RunnerProcess {
  runner: FakeRunner;
  readonly group: string;
  readonly held = new Map<string, { task: Task; rounds: number }>();
  /** The incarnation before the last SIGKILL, which may still think it owns work. */
  previous: FakeRunner | null = null;

  constructor(token: string, group: string) {
    this.group = group;
    this.runner = new FakeRunner(token);
  }
}

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
    kills: { unacked: 0, acked: 0, logged: 0 },
    abandoned: 0,
    leasesLostWhileAlive: 0,
    staleReports: 0,
    staleReportsAccepted: 0,
    reissuedAfterCompletion: 0,
  };
  private readonly processes: RunnerProcess[] = [];
  private readonly pendingReports: LateReport[] = [];
  /** Attempts whose result the Worker accepted. */
  private readonly finished = new Set<string>();
  /** How often each attempt was claimed, so a re-offered attempt draws a fresh fate. */
  private readonly claims = new Map<string, number>();
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

  /** One round of every process, concurrently: heartbeat, finish held work, claim `slots[i]` new attempts. */
  async round(slots: number[], faulty: boolean): Promise<void> {
    await Promise.all(this.processes.map((p, i) => this.work(p, slots[i] ?? 4, faulty)));
  }

  /** Only heartbeats for `ms`: runners stay alive and hold their work while the suite waits for alarms. */
  async keepAlive(ms: number): Promise<void> {
    for (const until = Date.now() + ms; Date.now() < until; ) {
      await Promise.all(this.processes.filter((p) => p.held.size > 0).map((p) => p.runner.heartbeat([...p.held.keys()])));
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

  private async work(p: RunnerProcess, slots: number, faulty: boolean): Promise<void> {
    if (p.held.size > 0) {
      const beat = await p.runner.heartbeat([...p.held.keys()]);
      if (beat.status === 200) {
        for (const id of beat.json.cancel as string[]) {
          p.held.delete(id);
          this.stats.leasesLostWhileAlive++;
        }
      }
      for (const [id, h] of [...p.held]) {
        if (faulty && --h.rounds > 0) continue;
        p.held.delete(id);
        await this.complete(p, h.task, 0);
      }
    }
    const res = await p.runner.claim(slots, 0).catch(() => [] as Task[]);
    const tasks = res as Task[];
    this.stats.claimed += tasks.length;
    this.stats.reissuedAfterCompletion += tasks.filter((t) => this.finished.has(t.attemptId)).length;
    for (const [i, task] of tasks.entries()) {
      const fate = faulty ? this.fateOf(task) : "ok";
      if (fate.startsWith("kill")) {
        await this.kill(p, task, fate, tasks.length - i - 1);
        return;
      }
      if (fate === "hold") {
        await p.runner.heartbeat([task.attemptId]);
        p.held.set(task.attemptId, { task, rounds: 1 + Math.floor(this.draw(task, "rounds") * 3) });
        if (this.draw(task, "stale") < 0.25) await this.staleReport(p, task);
      } else {
        if (this.draw(task, "log") < 0.3) await p.runner.log(task.attemptId, `working on ${task.nodeName}\n`);
        await this.complete(p, task, fate === "fail" ? 1 : 0);
      }
    }
  }

  /** SIGKILL: the process confirms the attempt as its fate says, then vanishes with everything it held. */
  private async kill(p: RunnerProcess, task: Task, fate: Fate, unprocessed: number): Promise<void> {
    if (fate === "kill-acked") await p.runner.heartbeat([task.attemptId]);
    if (fate === "kill-logged") await p.runner.log(task.attemptId, "about to be killed\n");
    this.stats.kills[fate === "kill-unacked" ? "unacked" : fate === "kill-acked" ? "acked" : "logged"]++;
    this.stats.abandoned += p.held.size + unprocessed;
    const notBefore = Date.now() + this.leaseMs + 500;
    // A partitioned runner, unlike a killed one, may still report later (even one whose claim was never confirmed).
    this.pendingReports.push({ runner: p.runner, group: p.group, attemptId: task.attemptId, notBefore });
    for (const id of p.held.keys()) this.pendingReports.push({ runner: p.runner, group: p.group, attemptId: id, notBefore });
    p.held.clear();
    // A supervisor restarts the runner under a new id.
    p.previous = p.runner;
    p.runner = new FakeRunner(this.world.runnerTokens[p.group]!);
  }

  /** Another runner (the process's previous incarnation, or a stranger) reports for an attempt this one holds. */
  private async staleReport(p: RunnerProcess, task: Task): Promise<void> {
    const stale = p.previous ?? new FakeRunner(this.world.runnerTokens[p.group]!);
    const res = this.draw(task, "stale-kind") < 0.5 ? await stale.complete(task.attemptId, 0) : await stale.log(task.attemptId, "not mine\n");
    if (res.status < 500) this.countStale(res.status);
  }

  private countStale(status: number): void {
    this.stats.staleReports++;
    if (status !== 409) this.stats.staleReportsAccepted++;
  }

  private async complete(p: RunnerProcess, task: Task, exitCode: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const res = await p.runner.complete(task.attemptId, exitCode);
      if (res.status === 200) {
        this.finished.add(task.attemptId);
        this.stats.completed++;
        if (exitCode !== 0) this.stats.failedOnPurpose++;
        return;
      }
      if (res.status === 409) {
        this.stats.leasesLostWhileAlive++;
        return;
      }
      // The real runner retries 5xx while its lease may still be alive.
      if (res.status < 500 || attempt >= 5) throw new Error(`complete ${task.attemptId}: ${res.status} ${res.text}`);
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }

  private fateOf(task: Task): Fate {
    const n = (this.claims.get(task.attemptId) ?? 0) + 1;
    this.claims.set(task.attemptId, n);
    let x = this.draw(task, `fate${n}`);
    for (const [fate, p] of FATES) {
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
