// A fake Sluice Worker speaking the runner protocol over node:http, plus helpers for the runner's tests.
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Runner, type RunnerOptions } from "../src/runner.ts";
import type { Completion, RunnerTask } from "../src/sluice-client.ts";

export interface ClaimRequest {
  runnerId: string;
  name: string;
  slots: number;
  waitMs: number;
}

export interface HeartbeatRequest {
  runnerId: string;
  name: string;
  slots: number;
  leases: { attemptId: string; leaseId: string }[];
}

/** The attempt ids a heartbeat listed. */
export const attemptsIn = (heartbeat: HeartbeatRequest): string[] => heartbeat.leases.map((l) => l.attemptId);

interface HeldClaim {
  runnerId: string;
  slots: number;
  response: ServerResponse;
  timer: ReturnType<typeof setTimeout>;
}

export class FakeSluice {
  readonly token = `rt_test_${randomUUID()}`;
  /** Runner ids issued by POST /runner/register, in order; any other id is refused as the Worker does. */
  readonly issued: string[] = [];
  /** Forgets every issued id, as a server that no longer knows its runners: they must register again. */
  forgetRunners(): void {
    this.issued.length = 0;
  }
  readonly claims: ClaimRequest[] = [];
  /**
   * Tasks handed to each runner and not reported yet (result, kill report, or refused as lease lost): as the
   * Worker does, hand-outs never exceed the runner's slots minus these, whatever a request asks for.
   */
  private readonly outstanding = new Map<string, Set<string>>();
  private readonly slotsOf = new Map<string, number>();
  readonly heartbeats: HeartbeatRequest[] = [];
  readonly completions = new Map<string, Completion>();
  /** The free slots each result asked next tasks for, in arrival order. */
  readonly resultFreeSlots: { attemptId: string; freeSlots: number; handedOut: number }[] = [];
  /** Attempt ids whose log and completion get 409, as after the lease expired. */
  readonly leaseLost = new Set<string>();
  /** Answer heartbeats with 503, as a Worker the runner cannot reach for renewals. */
  failHeartbeats = false;
  /** Reports of attempts the server had cancelled (refused as results, 409). */
  readonly killReports = new Map<string, Completion>();
  /** Called as a result arrives, before it is stored. */
  onResult: ((attemptId: string) => void) | null = null;
  /** Reports that carried a lease id other than the one issued with the task (answered 409). */
  staleLeaseReports = 0;
  /** When each task was handed out (its lease granted), by attempt id. */
  readonly handedOutAt = new Map<string, number>();
  /** Whether each task went out in a claim's answer or a result's. */
  readonly handedOutBy = new Map<string, "claim" | "result">();
  /** Results whose answer has gone out. */
  readonly answeredResults = new Set<string>();
  /** The lease id issued with each task. */
  private readonly leaseOf = new Map<string, string>();
  /** Delay before answering each log upload, as a slow link to the Worker. */
  logDelayMs = 0;
  /** Delay before answering each accepted result, as a slow answer over a loaded link (its tasks are handed out first). */
  resultAnswerDelayMs = 0;
  /** Log bodies that were not valid UTF-8 on their own. */
  invalidUtf8Chunks = 0;
  /** How many of the next log uploads are stored but never answered (the connection drops), as a lost response. */
  dropLogAnswers = 0;
  /** Every log upload received, repeats included, with the seq the runner gave it. */
  readonly logUploads: { attemptId: string; seq: number | null }[] = [];
  private readonly server: Server;
  private readonly chunks = new Map<string, string[]>();
  /** Seqs stored per attempt: a repeated one is acknowledged and not stored again, as the Worker does. */
  private readonly storedSeqs = new Map<string, Set<number>>();
  private readonly toCancel = new Set<string>();
  private readonly cancelledByLog = new Set<string>();
  private pending: RunnerTask[] = [];
  private held: HeldClaim[] = [];
  private port = 0;

  private constructor() {
    this.server = createServer((request, response) => {
      this.route(request, response).catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
    });
  }

  static async start(): Promise<FakeSluice> {
    const fake = new FakeSluice();
    await fake.listen();
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Queues a task for the next claim; unspecified fields get test defaults. */
  queue(task: Partial<RunnerTask> & Pick<RunnerTask, "script">): RunnerTask {
    const attemptId = task.attemptId ?? `att_${randomUUID()}`;
    const nodeName = task.nodeName ?? `node_${this.claims.length}_${attemptId.slice(-6)}`;
    const full: RunnerTask = {
      attemptId,
      instanceId: "ins_test",
      workflowId: "wf_test",
      nodeName,
      attempt: 1,
      type: "shell",
      prelude: "",
      timeoutSeconds: 60,
      leaseSeconds: 30,
      leaseId: `lse_${randomUUID()}`,
      ...task,
      env: { SLUICE_INSTANCE_ID: "ins_test", SLUICE_NODE: nodeName, ...task.env },
    };
    this.leaseOf.set(full.attemptId, full.leaseId);
    this.pending.push(full);
    this.answerHeldClaims();
    return full;
  }

  /**
   * Stops the attempt as the Worker does: the next heartbeat that lists it is told to kill it, and its
   * log chunks are refused (409). `seenBy: "log"` leaves heartbeats out, so only the refused log says so.
   */
  cancel(attemptId: string, seenBy: "heartbeat" | "log" = "heartbeat"): void {
    this.toCancel.add(attemptId);
    if (seenBy === "log") this.cancelledByLog.add(attemptId);
  }

  logOf(attemptId: string): string {
    return (this.chunks.get(attemptId) ?? []).join("");
  }

  logChunksOf(attemptId: string): string[] {
    return this.chunks.get(attemptId) ?? [];
  }

  /** Refuses connections until comeBack(), as a Worker that is down or unreachable. */
  async goDown(): Promise<void> {
    for (const claim of this.held) clearTimeout(claim.timer);
    this.held = [];
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async comeBack(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.goDown();
  }

  private listen(port = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":"unauthorized"}}');
      return;
    }
    const [url = "", query = ""] = (request.url ?? "").split("?");
    if (url === "/api/v1/runner/register") {
      const runnerId = `rnr_${randomUUID()}`;
      this.issued.push(runnerId);
      this.slotsOf.set(runnerId, (JSON.parse(body.toString()) as { slots: number }).slots);
      return json(response, 201, { runnerId, resourceGroup: "default" });
    }
    const claimedId = url === "/api/v1/runner/claim" || url === "/api/v1/runner/heartbeat" ? (JSON.parse(body.toString()) as { runnerId: string }).runnerId : request.headers["x-sluice-runner"];
    if (typeof claimedId !== "string" || !this.issued.includes(claimedId)) {
      return json(response, 403, { error: { code: "runner_not_registered", message: `runner ${String(claimedId)} is not registered` } });
    }
    if (url === "/api/v1/runner/claim") return this.claim(JSON.parse(body.toString()) as ClaimRequest, response);
    if (url === "/api/v1/runner/heartbeat") {
      if (this.failHeartbeats) return json(response, 503, { error: { code: "internal", message: "unavailable" } });
      const heartbeat = JSON.parse(body.toString()) as HeartbeatRequest;
      this.heartbeats.push(heartbeat);
      this.slotsOf.set(heartbeat.runnerId, heartbeat.slots);
      const cancel = heartbeat.leases
        .filter((l) => (this.toCancel.has(l.attemptId) && !this.cancelledByLog.has(l.attemptId)) || this.leaseOf.get(l.attemptId) !== l.leaseId)
        .map((l) => l.attemptId);
      return json(response, 200, { cancel });
    }
    const match = /^\/api\/v1\/runner\/attempts\/([^/]+)\/(log|complete)$/.exec(url);
    if (!match) return json(response, 404, { error: { code: "not_found" } });
    const attemptId = decodeURIComponent(match[1] ?? "");
    if (this.leaseLost.has(attemptId)) {
      this.reported(attemptId);
      return json(response, 409, { error: { code: "lease_lost" } });
    }
    if (request.headers["x-sluice-lease"] !== this.leaseOf.get(attemptId)) {
      this.staleLeaseReports++;
      return json(response, 409, { error: { code: "lease_lost", message: "not this attempt's lease" } });
    }
    if (match[2] === "log") {
      if (this.cancelledByLog.has(attemptId)) return json(response, 409, { error: { code: "lease_lost", message: "the attempt was stopped" } });
      if (this.logDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.logDelayMs));
      const seqParam = new URLSearchParams(query).get("seq");
      this.recordLog(attemptId, body, seqParam === null ? null : Number(seqParam));
      if (this.dropLogAnswers > 0) {
        this.dropLogAnswers--;
        request.socket.destroy();
        return;
      }
      response.writeHead(204).end();
      return;
    }
    this.onResult?.(attemptId);
    const { freeSlots = 0, ...completion } = JSON.parse(body.toString()) as Completion & { freeSlots?: number };
    if (this.toCancel.has(attemptId)) {
      // As the Worker: a stopped attempt's report is refused as a result, and frees the slot its process held.
      this.killReports.set(attemptId, completion);
      this.reported(attemptId);
      return json(response, 409, { error: { code: "lease_lost", message: "the attempt was stopped" } });
    }
    this.completions.set(attemptId, completion);
    this.reported(attemptId);
    // One hop per node: the answer carries the runner's next tasks, as the Worker leases them in the same call.
    const tasks = this.handOut(String(request.headers["x-sluice-runner"]), freeSlots, "result");
    this.resultFreeSlots.push({ attemptId, freeSlots, handedOut: tasks.length });
    if (this.resultAnswerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.resultAnswerDelayMs));
    this.answeredResults.add(attemptId);
    return json(response, 200, { ok: true, tasks });
  }

  private claim(claim: ClaimRequest, response: ServerResponse): void {
    this.claims.push(claim);
    const now = this.pending.length > 0 ? this.handOut(claim.runnerId, claim.slots, "claim") : [];
    if (now.length > 0) return json(response, 200, { tasks: now });
    const held: HeldClaim = {
      runnerId: claim.runnerId,
      slots: claim.slots,
      response,
      timer: setTimeout(() => this.release(held, []), claim.waitMs),
    };
    this.held.push(held);
    response.on("close", () => this.release(held, null));
  }

  private answerHeldClaims(): void {
    for (const held of [...this.held]) {
      if (this.pending.length === 0) return;
      const tasks = this.handOut(held.runnerId, held.slots, "claim");
      if (tasks.length > 0) this.release(held, tasks);
    }
  }

  private handOut(runnerId: string, asked: number, by: "claim" | "result"): RunnerTask[] {
    const held = this.outstanding.get(runnerId) ?? new Set<string>();
    this.outstanding.set(runnerId, held);
    const room = Math.max(0, (this.slotsOf.get(runnerId) ?? asked) - held.size);
    const tasks = this.pending.splice(0, Math.min(asked, room));
    for (const task of tasks) {
      held.add(task.attemptId);
      this.handedOutAt.set(task.attemptId, Date.now());
      this.handedOutBy.set(task.attemptId, by);
    }
    return tasks;
  }

  /** The runner reported the attempt (or was told its lease is lost): its slot is free again. */
  private reported(attemptId: string): void {
    for (const held of this.outstanding.values()) held.delete(attemptId);
  }

  private release(held: HeldClaim, tasks: RunnerTask[] | null): void {
    if (!this.held.includes(held)) return;
    this.held = this.held.filter((other) => other !== held);
    clearTimeout(held.timer);
    if (tasks !== null) json(held.response, 200, { tasks });
  }

  private recordLog(attemptId: string, body: Buffer, seq: number | null): void {
    this.logUploads.push({ attemptId, seq });
    if (seq !== null) {
      const seen = this.storedSeqs.get(attemptId) ?? new Set<number>();
      this.storedSeqs.set(attemptId, seen);
      if (seen.has(seq)) return;
      seen.add(seq);
    }
    if (!isUtf8(body)) this.invalidUtf8Chunks++;
    const text = body.toString("utf8");
    const chunks = this.chunks.get(attemptId) ?? [];
    chunks.push(text);
    this.chunks.set(attemptId, chunks);
  }
}

/** A runner against the fake with test-sized timers; its lines are collected instead of printed. */
export function runnerFor(fake: FakeSluice, options: Partial<RunnerOptions> = {}): { runner: Runner; lines: string[] } {
  const lines: string[] = [];
  const runner = new Runner({
    url: fake.url,
    token: fake.token,
    slots: 2,
    heartbeatSeconds: 0.1,
    killGraceSeconds: 0.5,
    print: (line) => lines.push(line),
    warn: (line) => lines.push(line),
    ...options,
  });
  return { runner, lines };
}

export async function waitFor<T>(
  check: () => T | undefined | null | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True once the process no longer exists or is a zombie nobody has reaped yet (it runs nothing). */
export function processIsGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on("data", (part: Buffer) => parts.push(part));
    request.on("end", () => resolve(Buffer.concat(parts)));
    request.on("error", reject);
  });
}
