// The runner's half of the runner protocol: one method per endpoint, every failure classified.
import type { Completion, RunnerTask } from "../../worker/core/runner-protocol.ts";
import {
  LeaseLostError,
  RequestRejectedError,
  RunnerNotRegisteredError,
  RunnerUnauthorizedError,
  TransientRequestError,
} from "./errors.ts";

export type { Completion, RunnerTask };

export interface SluiceClientOptions {
  url: string;
  token: string;
  name: string;
  fetch?: typeof fetch;
  /** Cap on one request (beyond the claim's long-poll wait), so a hung connection cannot stall a loop. */
  requestTimeoutMs?: number;
}

/** A claimed task the runner cannot execute; reported as a failure when it has an attempt id and a lease id. */
export interface UnreadableTask {
  attemptId: string | null;
  leaseId: string | null;
  problem: string;
}

/** A lease the runner holds: heartbeats renew it by attempt and lease id. */
export interface HeldLease {
  attemptId: string;
  leaseId: string;
}

/** A result's answer: the runner's next tasks, leased in the same call (one hop per node). */
export interface ResultAnswer {
  tasks: unknown[];
}

export class SluiceClient {
  private readonly baseUrl: string;
  private readonly token: string;
  /** Issued by the server at registration (register()); "" until then. */
  private issuedId = "";
  private readonly name: string;
  private readonly fetchImpl: typeof fetch;
  private readonly requestTimeoutMs: number;

  constructor(options: SluiceClientOptions) {
    this.baseUrl = options.url.replace(/\/+$/, "");
    this.token = options.token;
    this.name = options.name;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** The id the server issued at the last registration ("" before the first). */
  get runnerId(): string {
    return this.issuedId;
  }

  /**
   * Asks the server for this runner's id. The server chooses it and binds it to the token and its resource
   * group; every later claim, heartbeat, log and result carries it.
   */
  async register(slots: number, signal: AbortSignal): Promise<string> {
    const response = await this.postJson("/api/v1/runner/register", { name: this.name, slots }, this.requestTimeoutMs, signal);
    const parsed = (await this.readJson(response, signal)) as { runnerId?: unknown };
    if (typeof parsed?.runnerId !== "string" || parsed.runnerId === "") throw new TransientRequestError("register: response has no runnerId");
    this.issuedId = parsed.runnerId;
    return this.issuedId;
  }

  /** Long-polls for up to `slots` tasks; the server may hold the request for `waitMs`. */
  async claim(slots: number, waitMs: number, signal: AbortSignal): Promise<unknown[]> {
    const body = { runnerId: this.runnerId, name: this.name, slots, waitMs };
    const response = await this.postJson("/api/v1/runner/claim", body, waitMs + this.requestTimeoutMs, signal);
    const parsed = (await this.readJson(response, signal)) as { tasks?: unknown };
    if (!Array.isArray(parsed?.tasks)) throw new TransientRequestError("claim: response has no tasks array");
    return parsed.tasks;
  }

  /**
   * Reports the leases of the attempts running now; returns the ones the server wants killed. Every other
   * lease sent was renewed. `timeoutMs` caps the request, so a hung one never outlives the leases it renews.
   */
  async heartbeat(totalSlots: number, leases: HeldLease[], signal: AbortSignal, timeoutMs = this.requestTimeoutMs): Promise<string[]> {
    const body = { runnerId: this.runnerId, name: this.name, slots: totalSlots, leases };
    const response = await this.postJson("/api/v1/runner/heartbeat", body, Math.min(timeoutMs, this.requestTimeoutMs), signal);
    const parsed = (await this.readJson(response, signal)) as { cancel?: unknown };
    const cancel = Array.isArray(parsed?.cancel) ? parsed.cancel : [];
    return cancel.filter((id): id is string => typeof id === "string");
  }

  /** `seq` numbers the chunk within the attempt; a retry sends the same number, so a chunk is stored once. */
  async appendLog(lease: HeldLease, text: string, seq: number, signal: AbortSignal): Promise<void> {
    const response = await this.post(
      `/api/v1/runner/attempts/${encodeURIComponent(lease.attemptId)}/log?seq=${seq}`,
      text,
      "text/plain; charset=utf-8",
      this.requestTimeoutMs,
      signal,
      lease.leaseId,
    );
    await response.body?.cancel();
  }

  /** Reports a result under its lease; `freeSlots` asks for that many next tasks in the answer. */
  async complete(lease: HeldLease, completion: Completion, freeSlots: number, signal: AbortSignal): Promise<ResultAnswer> {
    const response = await this.postJson(
      `/api/v1/runner/attempts/${encodeURIComponent(lease.attemptId)}/complete`,
      { ...completion, freeSlots },
      this.requestTimeoutMs,
      signal,
      lease.leaseId,
    );
    // The result is stored once the server answered 2xx: an unreadable body only loses the next tasks
    // (their leases expire unconfirmed and they are offered again).
    const parsed = (await response.json().catch(() => null)) as { tasks?: unknown } | null;
    return { tasks: Array.isArray(parsed?.tasks) ? parsed.tasks : [] };
  }

  private postJson(path: string, body: unknown, timeoutMs: number, signal: AbortSignal, leaseId?: string): Promise<Response> {
    return this.post(path, JSON.stringify(body), "application/json", timeoutMs, signal, leaseId);
  }

  private async post(
    path: string,
    body: string,
    contentType: string,
    timeoutMs: number,
    signal: AbortSignal,
    leaseId?: string,
  ): Promise<Response> {
    let response: Response;
    // The runner id and the lease id fence logs and results: only the holder of the attempt's current lease may report.
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, "content-type": contentType, "x-sluice-runner": this.issuedId };
    if (leaseId !== undefined) headers["x-sluice-lease"] = leaseId;
    try {
      response = await this.fetchImpl(this.baseUrl + path, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      signal.throwIfAborted();
      throw new TransientRequestError(`POST ${path}: ${describeNetworkError(error)}`);
    }
    if (response.ok) return response;
    const detail = await readErrorDetail(response);
    const what = `POST ${path}: HTTP ${response.status}${detail ? ` ${detail}` : ""}`;
    if (response.status === 401) {
      throw new RunnerUnauthorizedError(
        `the Sluice server at ${this.baseUrl} rejected the runner token (401); check --token / SLUICE_RUNNER_TOKEN`,
      );
    }
    if (response.status === 409) throw new LeaseLostError(what);
    if (response.status === 403 && detail.includes('"runner_not_registered"')) throw new RunnerNotRegisteredError(what, 403);
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      throw new TransientRequestError(what);
    }
    throw new RequestRejectedError(what, response.status);
  }

  private async readJson(response: Response, signal: AbortSignal): Promise<unknown> {
    try {
      return await response.json();
    } catch (error) {
      signal.throwIfAborted();
      throw new TransientRequestError(`reading response: ${describeNetworkError(error)}`);
    }
  }
}

/** Checks a claimed task's shape; the server is trusted, but a version skew must fail one task, not the runner. */
export function readTask(raw: unknown): RunnerTask | UnreadableTask {
  const task = (raw ?? {}) as Partial<Record<keyof RunnerTask, unknown>>;
  const attemptId = typeof task.attemptId === "string" && task.attemptId !== "" ? task.attemptId : null;
  const leaseId = typeof task.leaseId === "string" && task.leaseId !== "" ? task.leaseId : null;
  if (attemptId === null) return { attemptId, leaseId, problem: "task has no attemptId" };
  // Without its lease id the runner could never heartbeat, log or report it: its lease expires and it is offered again.
  if (leaseId === null) return { attemptId, leaseId, problem: "task has no leaseId" };
  if (task.type !== "shell" && task.type !== "python") {
    return { attemptId, leaseId, problem: `this runner cannot execute node type ${JSON.stringify(task.type)}` };
  }
  if (typeof task.script !== "string") return { attemptId, leaseId, problem: "task has no script" };
  const values = task.values ?? [];
  if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) return { attemptId, leaseId, problem: "task values are not strings" };
  const env: Record<string, string> = {};
  if (task.env && typeof task.env === "object") {
    for (const [key, value] of Object.entries(task.env)) if (typeof value === "string") env[key] = value;
  }
  return {
    attemptId,
    instanceId: String(task.instanceId ?? ""),
    workflowId: String(task.workflowId ?? ""),
    nodeName: String(task.nodeName ?? attemptId),
    attempt: Number(task.attempt ?? 1),
    type: task.type,
    script: task.script,
    prelude: typeof task.prelude === "string" ? task.prelude : "",
    values,
    env,
    timeoutSeconds: positiveOr(task.timeoutSeconds, 3600),
    leaseSeconds: positiveOr(task.leaseSeconds, 60),
    leaseId,
  };
}

export function isUnreadable(task: RunnerTask | UnreadableTask): task is UnreadableTask {
  return "problem" in task;
}

function positiveOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}

async function readErrorDetail(response: Response): Promise<string> {
  try {
    return (await response.text()).slice(0, 300).trim();
  } catch {
    return "";
  }
}
