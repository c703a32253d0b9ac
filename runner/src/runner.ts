// The runner's core: long-polls for tasks while idle, takes next tasks from each result's answer, heartbeats its leases, runs attempts.
import { randomUUID } from "node:crypto";
import { mkdir, rmdir } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Attempt, type AttemptEnd, deliverCompletion } from "./attempt.ts";
import { Backoff, sleep } from "./backoff.ts";
import { RunnerNotRegisteredError, RunnerUnauthorizedError } from "./errors.ts";
import { isUnreadable, readTask, type RunnerTask, SluiceClient } from "./sluice-client.ts";

export interface RunnerOptions {
  url: string;
  token: string;
  slots: number;
  name?: string;
  /** Where attempts get their work dirs; default `<tmp>/sluice-runner-<random>`. */
  workDir?: string;
  heartbeatSeconds?: number;
  killGraceSeconds?: number;
  keepWorkDirs?: boolean;
  bash?: string;
  python?: string;
  /** How long the server may hold a claim when nothing is ready. */
  claimWaitMs?: number;
  /** The environment user code inherits (minus SLUICE_*); default process.env. */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** One line per started/finished attempt (stdout in the CLI). */
  print?: (line: string) => void;
  /** Problems worth an operator's eye (stderr in the CLI). */
  warn?: (line: string) => void;
}

/** The shortest a claim that returned no tasks may take before the next one is sent. */
const MIN_EMPTY_CLAIM_MS = 1_000;

export class Runner {
  readonly name: string;
  readonly slots: number;
  private readonly options: RunnerOptions;
  private readonly client: SluiceClient;
  private readonly workRoot: string;
  private readonly print: (line: string) => void;
  private readonly warn: (line: string) => void;
  private readonly stopping = new AbortController();
  /** Attempts holding a slot: from claim until their result is reported or they are abandoned. */
  private readonly running = new Map<string, Attempt>();
  private readonly settling = new Set<Promise<void>>();
  private wakeClaimLoop: (() => void) | null = null;
  /** The shortest lease the server has granted; heartbeats come at least three times per lease. */
  private leaseSeconds = Number.POSITIVE_INFINITY;
  private fatal: Error | null = null;
  private done: Promise<void> | null = null;
  /** A registration in flight: both loops may find the id refused at once, and one new id is enough. */
  private registering: Promise<void> | null = null;

  constructor(options: RunnerOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1) throw new Error("slots must be an integer ≥ 1");
    this.options = options;
    this.name = (options.name ?? hostname()).slice(0, 128);
    this.slots = options.slots;
    this.workRoot = resolve(options.workDir ?? join(tmpdir(), `sluice-runner-${randomUUID()}`));
    this.print = options.print ?? ((line) => console.log(line));
    this.warn = options.warn ?? ((line) => console.error(line));
    this.client = new SluiceClient({
      url: options.url,
      token: options.token,
      name: this.name,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  /** The id the server issued at registration ("" before it registered). */
  get runnerId(): string {
    return this.client.runnerId;
  }

  /** Runs until stop(); rejects when the server refuses the runner token. */
  run(): Promise<void> {
    this.done ??= this.serve();
    return this.done;
  }

  /** Stops claiming, kills every running process group and resolves once they are gone. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeClaimLoop?.();
    await this.done?.catch(() => {});
  }

  /** SIGKILL every process group now, for a runner told twice to stop. */
  killAllNow(): void {
    for (const attempt of this.running.values()) attempt.killNow();
  }

  /** Attempt ids holding a slot now. */
  runningAttempts(): string[] {
    return [...this.running.keys()];
  }

  private async serve(): Promise<void> {
    const createdRoot = await mkdir(this.workRoot, { recursive: true });
    await this.register();
    if (this.fatal || this.stopping.signal.aborted) {
      if (createdRoot !== undefined) await rmdir(this.workRoot).catch(() => {});
      if (this.fatal) throw this.fatal;
      return;
    }
    this.print(`[runner] ${this.name} (${this.runnerId}) pulling tasks from ${this.options.url} with ${this.slots} slots`);
    const heartbeats = this.heartbeatLoop();
    await this.claimLoop();
    // The server's lease expiry retries whatever we abandon here.
    for (const attempt of this.running.values()) attempt.abandon("runner stopping");
    await Promise.all([...this.settling]);
    await heartbeats;
    if (createdRoot !== undefined && !this.options.keepWorkDirs) await rmdir(this.workRoot).catch(() => {});
    this.print("[runner] stopped");
    if (this.fatal) throw this.fatal;
  }

  private async claimLoop(): Promise<void> {
    const signal = this.stopping.signal;
    const backoff = new Backoff();
    let failing = false;
    while (!signal.aborted) {
      const free = this.freeSlots();
      if (free <= 0) {
        await new Promise<void>((wake) => (this.wakeClaimLoop = wake));
        this.wakeClaimLoop = null;
        continue;
      }
      let claimed: unknown[];
      const askedAt = Date.now();
      try {
        claimed = await this.client.claim(free, this.options.claimWaitMs ?? 20_000, signal);
        this.acceptAll(claimed);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof RunnerUnauthorizedError) {
          this.failFatally(error);
          break;
        }
        if (error instanceof RunnerNotRegisteredError) {
          await this.register();
          continue;
        }
        if (!failing) this.warn(`[runner] claiming failed, will retry: ${String(error)}`);
        failing = true;
        await sleep(backoff.nextDelayMs(), signal);
        continue;
      }
      if (failing) this.warn("[runner] claiming recovered");
      failing = false;
      backoff.reset();
      if (claimed.length === 0 && Date.now() - askedAt < MIN_EMPTY_CLAIM_MS) {
        // A server that answers "nothing" without holding the request must not make us spin.
        await sleep(MIN_EMPTY_CLAIM_MS - (Date.now() - askedAt), signal);
      }
    }
  }

  /** Tasks from a claim or from a result's answer; their leases count from now. */
  private acceptAll(tasks: unknown[]): void {
    const leasedAt = Date.now();
    for (const raw of tasks) this.accept(raw, leasedAt);
  }

  private accept(raw: unknown, leasedAt: number): void {
    if (this.stopping.signal.aborted) return; // its lease expires and the server retries it
    const task = readTask(raw);
    if (isUnreadable(task)) {
      this.warn(`[runner] cannot execute a claimed task: ${task.problem}`);
      if (task.attemptId !== null && task.leaseId !== null) this.reportUnreadable({ attemptId: task.attemptId, leaseId: task.leaseId }, task.problem);
      return;
    }
    if (this.running.has(task.attemptId)) {
      this.warn(`[runner] ${task.attemptId} is already running here; ignoring the duplicate`);
      return;
    }
    if (this.freeSlots() <= 0) {
      // Never run more than `slots`: the lease of an extra task expires and the server retries it.
      this.warn(`[runner] the server handed out more tasks than free slots; not starting ${task.attemptId}`);
      return;
    }
    this.startAttempt(task, leasedAt);
  }

  /**
   * Slots whose process is gone. An attempt still reporting its result or cleaning its work dir holds no
   * process: the pool freed its slot when it took the result, and may already have handed it to a parked
   * claim, whose answer can arrive before that attempt's own answer does.
   */
  private freeSlots(): number {
    let busy = 0;
    for (const attempt of this.running.values()) if (attempt.holdsProcess) busy++;
    return Math.max(0, this.slots - busy);
  }

  private startAttempt(task: RunnerTask, leasedAt: number): void {
    this.leaseSeconds = Math.min(this.leaseSeconds, task.leaseSeconds);
    const attempt = new Attempt(task, {
      client: this.client,
      workRoot: this.workRoot,
      interpreters: {
        bash: this.options.bash ?? "bash",
        python: this.options.python ?? "python3",
      },
      runnerEnv: this.options.env ?? process.env,
      killGraceMs: (this.options.killGraceSeconds ?? 5) * 1000,
      keepWorkDirs: this.options.keepWorkDirs ?? false,
      warn: (message) => this.warn(`[runner] ${message}`),
      onUnauthorized: (error) => this.failFatally(error),
      // This attempt's slot is free once it has reported: the answer brings the next tasks (one hop per node).
      // Its own slot plus those nobody holds: attempts still reporting ask for their own slots in their own results.
      freeSlotsAfter: () => (this.stopping.signal.aborted ? 0 : Math.max(0, this.slots - this.running.size + 1)),
      leasedAt,
      stopping: this.stopping.signal,
    });
    this.running.set(task.attemptId, attempt);
    this.print(`[runner] ${task.nodeName} attempt ${task.attempt} started`);
    let next: unknown[] = [];
    const settled = attempt.finished
      .then(
        (end) => {
          next = end.next;
          this.print(`[runner] ${task.nodeName} attempt ${task.attempt} ${describeEnd(end)}`);
        },
        (error: unknown) => this.warn(`[runner] ${task.nodeName} attempt ${task.attempt} crashed: ${String(error)}`),
      )
      .finally(() => {
        this.running.delete(task.attemptId);
        this.settling.delete(settled);
        this.acceptAll(next);
        this.wakeClaimLoop?.();
      });
    this.settling.add(settled);
  }

  private reportUnreadable(lease: { attemptId: string; leaseId: string }, problem: string): void {
    const task = { ...lease, nodeName: lease.attemptId, attempt: 0, leaseSeconds: 30 };
    const completion = { exitCode: null, signal: null, outputs: {}, error: problem };
    const settings = {
      client: this.client,
      warn: (message: string) => this.warn(`[runner] ${message}`),
      onUnauthorized: (error: RunnerUnauthorizedError) => this.failFatally(error),
    };
    const reported = deliverCompletion(task, completion, settings, this.stopping.signal).then(() => {
      this.settling.delete(reported);
    });
    this.settling.add(reported);
  }

  /** Sent every heartbeatSeconds, idle or not, so the server knows the runner and its leases are alive. */
  private async heartbeatLoop(): Promise<void> {
    const signal = this.stopping.signal;
    let failing = false;
    while (!signal.aborted) {
      const startedAt = Date.now();
      const attempts = [...this.running.values()];
      try {
        // A hung request must not outlive the leases it renews: each attempt's lease watch kills it first anyway.
        const cancel = await this.client.heartbeat(this.slots, attempts.map((a) => a.lease), signal, (this.leaseSeconds * 1000) / 2);
        if (failing) this.warn("[runner] heartbeats recovered");
        failing = false;
        const stop = new Set(cancel);
        for (const attempt of attempts) {
          if (stop.has(attempt.task.attemptId)) attempt.abandon("cancelled by the server");
          else attempt.leaseRenewed(startedAt);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof RunnerUnauthorizedError) {
          this.failFatally(error);
          break;
        }
        if (error instanceof RunnerNotRegisteredError) await this.register();
        else if (!failing) this.warn(`[runner] heartbeat failed, will retry: ${String(error)}`);
        failing = true;
      }
      // Short naps: a task with a shorter lease may arrive meanwhile and shorten the period.
      while (!signal.aborted) {
        const due = Math.min(this.options.heartbeatSeconds ?? 5, this.leaseSeconds / 3) * 1000 - (Date.now() - startedAt);
        if (due <= 0) break;
        await sleep(Math.min(due, 250), signal);
      }
    }
  }

  /**
   * Gets an id from the server, retrying with backoff until it answers (the server issues runner ids; a
   * runner never picks its own). A refused token stops the runner.
   */
  private register(): Promise<void> {
    this.registering ??= (async () => {
      const signal = this.stopping.signal;
      const backoff = new Backoff();
      while (!signal.aborted) {
        try {
          const previous = this.client.runnerId;
          await this.client.register(this.slots, signal);
          if (previous) this.warn(`[runner] the server no longer knew runner ${previous}; registered again as ${this.runnerId}`);
          return;
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof RunnerUnauthorizedError) {
            this.failFatally(error);
            return;
          }
          this.warn(`[runner] registering failed, will retry: ${String(error)}`);
          await sleep(backoff.nextDelayMs(), signal);
        }
      }
    })().finally(() => {
      this.registering = null;
    });
    return this.registering;
  }

  private failFatally(error: Error): void {
    this.fatal ??= error;
    this.stopping.abort();
    this.wakeClaimLoop?.();
  }
}

function describeEnd(end: AttemptEnd): string {
  if (end.kind === "abandoned") return `killed: ${end.reason}`;
  const { completion, delivered } = end;
  const outcome =
    completion.error !== null
      ? `failed: ${completion.error}`
      : completion.exitCode === 0
        ? "succeeded"
        : `failed: exit ${completion.exitCode}`;
  return delivered ? outcome : `${outcome} (result not accepted by the server)`;
}
