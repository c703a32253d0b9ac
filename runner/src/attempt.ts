// Executes one claimed attempt: work dir, process group, log stream, timeout, lease watch, and its completion.
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { Backoff, sleep } from "./backoff.ts";
import { LeaseLostError, RequestRejectedError, RunnerUnauthorizedError } from "./errors.ts";
import { killPlan } from "./lease-watch.ts";
import { LogStream } from "./log-stream.ts";
import { readOutputFile } from "./outputs.ts";
import { releaseGroup } from "./orphan-guard.ts";
import { groupGone, groupIsAlive, outputClosed, processExited, signalGroup, startInGroup, terminateGroup } from "./process-group.ts";
import type { Completion, RunnerTask, SluiceClient } from "./sluice-client.ts";
import { type AttemptWorkspace, type Interpreters, prepareWorkspace, removeWorkspace } from "./workspace.ts";

/**
 * Why an attempt was killed without its result counting; the server decides its fate instead. When the
 * server said so (a cancel, or a log chunk refused because the attempt was stopped) the runner still
 * reports the kill, so the server frees the slot the process held.
 */
export type AbandonReason = "cancelled by the server" | "lease lost" | "lease not renewed" | "runner stopping" | "runner token rejected";

/**
 * Kills the server may be holding a slot for: it stopped the attempt and waits to hear the process is gone.
 * A refused log chunk says "lease lost" whether the attempt was stopped or its lease really went elsewhere;
 * the report costs one refused request in the second case and frees the slot at once in the first.
 */
const REPORTED_KILLS: ReadonlySet<AbandonReason> = new Set(["cancelled by the server", "lease lost"]);

/** `next`: the runner's next tasks, leased in the answer to this attempt's report (one hop per node). */
export type AttemptEnd =
  | { kind: "completed"; completion: Completion; delivered: boolean; next: unknown[] }
  | { kind: "abandoned"; reason: AbandonReason; next: unknown[] };

export interface AttemptSettings {
  client: SluiceClient;
  workRoot: string;
  interpreters: Interpreters;
  runnerEnv: NodeJS.ProcessEnv;
  killGraceMs: number;
  keepWorkDirs: boolean;
  warn: (message: string) => void;
  onUnauthorized: (error: RunnerUnauthorizedError) => void;
  /** How many next tasks the result asks for: the runner's free slots once this attempt's is released. */
  freeSlotsAfter?: () => number;
  /** When the lease was granted (the task arrived); the lease watch counts from there until the first renewal. */
  leasedAt?: number;
  /** Aborted when the runner stops: the report of a cancelled attempt's kill is given up. */
  stopping?: AbortSignal;
}

/** The Worker's cap on a completion's error text. */
const MAX_ERROR_CHARS = 4096;
/** setTimeout's largest delay; a longer node timeout would otherwise fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a SIGKILLed group may take to disappear. */
const GONE_WAIT_MS = 2_000;

export class Attempt {
  readonly task: RunnerTask;
  readonly finished: Promise<AttemptEnd>;
  private readonly settings: AttemptSettings;
  private readonly giveUp = new AbortController();
  private abandonReason: AbandonReason | null = null;
  private pgid: number | null = null;
  private termination: Promise<void> | null = null;
  private outputStreams: Readable[] = [];
  private logEndsWithNewline = true;
  /** Once the leader has exited, what is left in the pipes is bounded, so it is read without backpressure. */
  private exited = false;
  /** Until every process of the attempt's group is gone (or none was started), it holds a runner slot. */
  private processGone = false;
  /** When the lease was last renewed, as the runner measures it, and the timer that kills the attempt should it not be again. */
  private renewedAt: number;
  private leaseTimer: ReturnType<typeof setTimeout> | null = null;
  private killGraceMs: number;
  private settled = false;

  constructor(task: RunnerTask, settings: AttemptSettings) {
    this.task = task;
    this.settings = settings;
    this.killGraceMs = settings.killGraceMs;
    this.renewedAt = settings.leasedAt ?? Date.now();
    this.watchLease();
    this.finished = this.execute().finally(() => {
      this.settled = true;
      this.stopWatchingLease();
    });
  }

  /** Whether the attempt may still have a process: it counts against the runner's slots until it has none. */
  get holdsProcess(): boolean {
    return !this.processGone;
  }

  /** The lease as this attempt holds it: heartbeats, logs and results carry it. */
  get lease(): { attemptId: string; leaseId: string } {
    return { attemptId: this.task.attemptId, leaseId: this.task.leaseId };
  }

  /** A heartbeat sent at `sentAt` renewed the lease: the server holds it at least a lease from then. */
  leaseRenewed(sentAt: number): void {
    if (this.settled || sentAt <= this.renewedAt) return;
    this.renewedAt = sentAt;
    this.watchLease();
  }

  /** Kills the process group; its result no longer counts (after a cancel, the kill is still reported). */
  abandon(reason: AbandonReason, graceMs = this.settings.killGraceMs): void {
    if (this.abandonReason !== null) return;
    this.abandonReason = reason;
    this.killGraceMs = Math.min(graceMs, this.settings.killGraceMs);
    this.giveUp.abort();
    this.terminate();
  }

  /** SIGKILL at once, for a runner told twice to stop. */
  killNow(): void {
    if (this.pgid !== null) signalGroup(this.pgid, "SIGKILL");
  }

  private async execute(): Promise<AttemptEnd> {
    const { task, settings } = this;
    const log = new LogStream({
      send: (text, seq, signal) => settings.client.appendLog(this.lease, text, seq, signal),
      signal: this.giveUp.signal,
      onLeaseLost: () => this.abandon("lease lost"),
      onUnauthorized: (error) => this.refusedToken(error),
      onWarning: (message) => settings.warn(`${this.label()}: ${message}`),
      onHighWater: () => {
        if (!this.exited) this.outputStreams.forEach((stream) => stream.pause());
      },
      onLowWater: () => this.outputStreams.forEach((stream) => stream.resume()),
    });
    let workDir: string | null = null;
    try {
      let completion: Completion;
      const prepared = await prepareWorkspace(task, settings.workRoot, settings.interpreters, settings.runnerEnv).catch(
        (error: unknown) => this.failure(`runner could not prepare the work dir: ${String(error)}`, log),
      );
      if ("dir" in prepared) {
        workDir = prepared.dir;
        completion = await this.runProcess(prepared, log).finally(() => (this.processGone = true));
        if (this.abandonReason === null) completion.outputs = await readOutputFile(prepared.outputFile);
      } else {
        this.processGone = true;
        completion = prepared;
      }
      if (this.abandonReason !== null) return await this.abandoned(completion);
      const logged = await log.drain();
      if (!logged || this.abandonReason !== null) return await this.abandoned(completion, "lease lost");
      const delivered = await deliverCompletion(task, completion, settings, this.giveUp.signal);
      if (this.abandonReason !== null) return await this.abandoned(completion);
      return { kind: "completed", completion, delivered: delivered.delivered, next: delivered.next };
    } finally {
      log.close();
      if (workDir !== null && !settings.keepWorkDirs) {
        await removeWorkspace(workDir).catch((error) => settings.warn(`${this.label()}: ${String(error)}`));
      }
    }
  }

  private async runProcess(workspace: AttemptWorkspace, log: LogStream): Promise<Completion> {
    const { command, args } = workspace;
    if (this.abandonReason !== null) return this.failure("abandoned before start", log);
    const started = await startInGroup(command, args, { cwd: workspace.dir, env: workspace.env });
    if ("error" in started) return this.failure(`could not start ${command}: ${started.error.message}`, log);
    const { child } = started;
    this.pgid = child.pid;
    this.outputStreams = [child.stdout, child.stderr].filter((stream) => stream !== null);
    for (const stream of this.outputStreams) {
      // One decoder per pipe: a character split across two reads is held back, never sent in halves.
      const decoder = new StringDecoder("utf8");
      stream.on("data", (bytes: Buffer) => this.writeLog(log, decoder.write(bytes)));
      stream.on("end", () => this.writeLog(log, decoder.end()));
    }
    if (this.abandonReason !== null) this.terminate();

    const timeoutSeconds = this.task.timeoutSeconds;
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        this.note(log, `timed out after ${timeoutSeconds}s; killing the process group`);
        this.terminate();
      },
      Math.min(timeoutSeconds * 1000, MAX_TIMER_MS),
    );
    const exit = await processExited(child);
    clearTimeout(timer);
    this.exited = true;
    for (const stream of this.outputStreams) stream.resume();
    // Whatever the script left running in its group (e.g. `sleep 1000 &`) dies with the attempt.
    await this.termination;
    await terminateGroup(child.pid, this.killGraceMs);
    // Only once every process of the group is gone may the server hear so (a cancelled attempt's report).
    await groupGone(child.pid, GONE_WAIT_MS);
    if (!groupIsAlive(child.pid)) releaseGroup(child.pid);
    await outputClosed(child, this.settings.killGraceMs + 1000);

    if (timedOut) {
      return { exitCode: null, signal: exit.signal, outputs: {}, error: `timed out after ${timeoutSeconds}s` };
    }
    if (exit.signal !== null) {
      return { exitCode: null, signal: exit.signal, outputs: {}, error: `killed by ${exit.signal}` };
    }
    return { exitCode: exit.exitCode, signal: null, outputs: {}, error: null };
  }

  /**
   * The process group is gone. After the server stopped the attempt it holds the attempt's slot until it
   * hears so: the kill is reported under the lease. The server refuses it as a result (409, expected: the
   * node's fate is decided) and frees the slot. Otherwise nothing is reported.
   */
  private async abandoned(completion: Completion, fallback: AbandonReason = "lease lost"): Promise<AttemptEnd> {
    const reason = this.abandonReason ?? fallback;
    if (!REPORTED_KILLS.has(reason)) return { kind: "abandoned", reason, next: [] };
    const killed = { ...completion, outputs: {}, error: `killed: ${reason}` };
    const settings = { ...this.settings, freeSlotsAfter: () => 0, expectRefusal: true };
    await deliverCompletion(this.task, killed, settings, this.settings.stopping ?? new AbortController().signal);
    return { kind: "abandoned", reason, next: [] };
  }

  /** (Re)arms the kill for a lease that is not renewed in time (lease-watch.ts). */
  private watchLease(): void {
    this.stopWatchingLease();
    const plan = killPlan(this.renewedAt, this.task.leaseSeconds * 1000, this.settings.killGraceMs);
    this.leaseTimer = setTimeout(() => this.leaseRanOut(plan.graceMs), Math.min(Math.max(0, plan.termAt - Date.now()), MAX_TIMER_MS));
  }

  private stopWatchingLease(): void {
    if (this.leaseTimer !== null) clearTimeout(this.leaseTimer);
    this.leaseTimer = null;
  }

  /**
   * The lease could not be renewed for (nearly) its whole duration: the server may give the node to
   * another runner as soon as it runs out, so the process group dies first. Once the process has exited
   * there is nothing left to kill; its result, if late, is refused by the server.
   */
  private leaseRanOut(graceMs: number): void {
    this.leaseTimer = null;
    if (this.exited) return;
    this.settings.warn(`${this.label()}: the lease could not be renewed in time; killing the process group`);
    this.abandon("lease not renewed", graceMs);
  }

  private terminate(): void {
    if (this.pgid !== null && this.termination === null) {
      this.termination = terminateGroup(this.pgid, this.killGraceMs);
    }
  }

  private refusedToken(error: RunnerUnauthorizedError): void {
    this.abandon("runner token rejected");
    this.settings.onUnauthorized(error);
  }

  /** A failure of the runner itself, written to the node's log so the user sees why. */
  private failure(message: string, log: LogStream): Completion {
    this.note(log, message);
    return { exitCode: null, signal: null, outputs: {}, error: message.slice(0, MAX_ERROR_CHARS) };
  }

  private note(log: LogStream, message: string): void {
    this.writeLog(log, `${this.logEndsWithNewline ? "" : "\n"}[sluice-runner] ${message}\n`);
  }

  private writeLog(log: LogStream, text: string): void {
    if (text === "") return;
    this.logEndsWithNewline = text.endsWith("\n");
    log.write(text);
  }

  private label(): string {
    return `${this.task.nodeName} attempt ${this.task.attempt}`;
  }
}

/**
 * Reports a result under its lease, retrying network errors and 5xx for as long as the lease could still
 * be alive, so a blip never loses it. Not delivered when it was refused (409: lease lost) or could not be
 * delivered; `next` are the tasks the answer leased to this runner.
 */
export async function deliverCompletion(
  task: Pick<RunnerTask, "attemptId" | "leaseId" | "nodeName" | "attempt" | "leaseSeconds">,
  completion: Completion,
  settings: Pick<AttemptSettings, "client" | "warn" | "onUnauthorized" | "freeSlotsAfter"> & { expectRefusal?: boolean },
  signal: AbortSignal,
): Promise<{ delivered: boolean; next: unknown[] }> {
  const label = `${task.nodeName} attempt ${task.attempt}`;
  const deadline = Date.now() + Math.max(task.leaseSeconds, 30) * 1000;
  const backoff = new Backoff();
  const lease = { attemptId: task.attemptId, leaseId: task.leaseId };
  const refused = { delivered: false, next: [] };
  let failing = false;
  while (!signal.aborted) {
    try {
      const answer = await settings.client.complete(lease, completion, settings.freeSlotsAfter?.() ?? 0, signal);
      return { delivered: true, next: answer?.tasks ?? [] };
    } catch (error) {
      if (signal.aborted) return refused;
      if (error instanceof LeaseLostError) {
        if (!settings.expectRefusal) settings.warn(`${label}: result refused, the lease was lost`);
        return refused;
      }
      if (error instanceof RunnerUnauthorizedError) {
        settings.onUnauthorized(error);
        return refused;
      }
      if (error instanceof RequestRejectedError) {
        settings.warn(`${label}: result refused: ${error.message}`);
        return refused;
      }
      const delayMs = backoff.nextDelayMs();
      if (Date.now() + delayMs > deadline) {
        settings.warn(`${label}: giving up reporting the result: ${String(error)}`);
        return refused;
      }
      if (!failing) settings.warn(`${label}: reporting the result failed, will retry: ${String(error)}`);
      failing = true;
      await sleep(delayMs, signal);
    }
  }
  return refused;
}
