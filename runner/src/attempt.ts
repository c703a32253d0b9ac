// Executes one claimed attempt: work dir, process group, log stream, timeout, and its completion.
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { Backoff, sleep } from "./backoff.ts";
import { LeaseLostError, RequestRejectedError, RunnerUnauthorizedError } from "./errors.ts";
import { LogStream } from "./log-stream.ts";
import { readOutputFile } from "./outputs.ts";
import { outputClosed, processExited, signalGroup, startInGroup, terminateGroup } from "./process-group.ts";
import type { Completion, RunnerTask, SluiceClient } from "./sluice-client.ts";
import { type AttemptWorkspace, type Interpreters, prepareWorkspace, removeWorkspace } from "./workspace.ts";

/** Why an attempt was killed without reporting a result; the server decides its fate instead. */
export type AbandonReason = "cancelled by the server" | "lease lost" | "runner stopping" | "runner token rejected";

export type AttemptEnd =
  | { kind: "completed"; completion: Completion; delivered: boolean }
  | { kind: "abandoned"; reason: AbandonReason };

export interface AttemptSettings {
  client: SluiceClient;
  workRoot: string;
  interpreters: Interpreters;
  runnerEnv: NodeJS.ProcessEnv;
  killGraceMs: number;
  keepWorkDirs: boolean;
  warn: (message: string) => void;
  onUnauthorized: (error: RunnerUnauthorizedError) => void;
}

/** The Worker's cap on a completion's error text. */
const MAX_ERROR_CHARS = 4096;
/** setTimeout's largest delay; a longer node timeout would otherwise fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

  constructor(task: RunnerTask, settings: AttemptSettings) {
    this.task = task;
    this.settings = settings;
    this.finished = this.execute();
  }

  /** Kills the process group and reports nothing: the server has already given the lease up. */
  abandon(reason: AbandonReason): void {
    if (this.abandonReason !== null) return;
    this.abandonReason = reason;
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
      send: (text, seq, signal) => settings.client.appendLog(task.attemptId, text, seq, signal),
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
        completion = await this.runProcess(prepared, log);
        if (this.abandonReason === null) completion.outputs = await readOutputFile(prepared.outputFile);
      } else {
        completion = prepared;
      }
      if (this.abandonReason !== null) return { kind: "abandoned", reason: this.abandonReason };
      const logged = await log.drain();
      if (!logged || this.abandonReason !== null) {
        return { kind: "abandoned", reason: this.abandonReason ?? "lease lost" };
      }
      const delivered = await deliverCompletion(task, completion, settings, this.giveUp.signal);
      if (this.abandonReason !== null) return { kind: "abandoned", reason: this.abandonReason };
      return { kind: "completed", completion, delivered };
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
    await terminateGroup(child.pid, this.settings.killGraceMs);
    await outputClosed(child, this.settings.killGraceMs + 1000);

    if (timedOut) {
      return { exitCode: null, signal: exit.signal, outputs: {}, error: `timed out after ${timeoutSeconds}s` };
    }
    if (exit.signal !== null) {
      return { exitCode: null, signal: exit.signal, outputs: {}, error: `killed by ${exit.signal}` };
    }
    return { exitCode: exit.exitCode, signal: null, outputs: {}, error: null };
  }

  private terminate(): void {
    if (this.pgid !== null && this.termination === null) {
      this.termination = terminateGroup(this.pgid, this.settings.killGraceMs);
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
 * Reports a result, retrying network errors and 5xx for as long as the lease could still be alive,
 * so a blip never loses it. False when it was refused (409: lease lost) or could not be delivered.
 */
export async function deliverCompletion(
  task: Pick<RunnerTask, "attemptId" | "nodeName" | "attempt" | "leaseSeconds">,
  completion: Completion,
  settings: Pick<AttemptSettings, "client" | "warn" | "onUnauthorized">,
  signal: AbortSignal,
): Promise<boolean> {
  const label = `${task.nodeName} attempt ${task.attempt}`;
  const deadline = Date.now() + Math.max(task.leaseSeconds, 30) * 1000;
  const backoff = new Backoff();
  let failing = false;
  while (!signal.aborted) {
    try {
      await settings.client.complete(task.attemptId, completion, signal);
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      if (error instanceof LeaseLostError) {
        settings.warn(`${label}: result refused, the lease was lost`);
        return false;
      }
      if (error instanceof RunnerUnauthorizedError) {
        settings.onUnauthorized(error);
        return false;
      }
      if (error instanceof RequestRejectedError) {
        settings.warn(`${label}: result refused: ${error.message}`);
        return false;
      }
      const delayMs = backoff.nextDelayMs();
      if (Date.now() + delayMs > deadline) {
        settings.warn(`${label}: giving up reporting the result: ${String(error)}`);
        return false;
      }
      if (!failing) settings.warn(`${label}: reporting the result failed, will retry: ${String(error)}`);
      failing = true;
      await sleep(delayMs, signal);
    }
  }
  return false;
}
