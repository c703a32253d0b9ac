// Helpers for Workers-runtime tests: call the Worker as a client would, and play a runner.
import { env, SELF } from "cloudflare:test";
import { beforeEach } from "vitest";

export const ADMIN = "test-admin-key";

export async function api<T = any>(method: string, path: string, body?: unknown, key: string | null = ADMIN, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extra };
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["content-type"] = typeof body === "string" ? "text/plain" : "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await SELF.fetch(`http://sluice.test${path}`, { method, headers, body: payload });
  const text = await res.text();
  let json: T | undefined;
  try {
    json = JSON.parse(text) as T;
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json as T, text };
}

export function shellNode(name: string, code: string, extra: Record<string, unknown> = {}) {
  return { name, type: "shell", code, ...extra };
}

export async function createWorkflow(def: Record<string, unknown>) {
  const res = await api("POST", "/api/v1/workflows", def);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.json as { id: string; publishedVersion: number | null };
}

export async function runnerToken(resourceGroup = "default"): Promise<string> {
  const res = await api("POST", "/api/v1/keys", { name: `runner-${resourceGroup}`, role: "runner", resourceGroup });
  if (res.status !== 201) throw new Error(`runner token: ${res.status} ${res.text}`);
  return res.json.key as string;
}

/** What a runner sends for an attempt whose lease it was never issued: a made-up id, which the pool refuses. */
export const NOT_ISSUED = "lse_not_issued_to_this_runner";

/**
 * A runner in the test: registers (its id is the pool's), claims, optionally logs, and completes with the given
 * exit code. It keeps the lease id issued with each task and sends it with every heartbeat, log and result.
 */
export class FakeRunner {
  readonly token: string;
  readonly slots: number;
  /** Issued by the pool at the first call; "" until then. */
  runnerId = "";
  /** The lease id of each task this runner was handed, by attempt id. */
  readonly leases = new Map<string, string>();

  constructor(token: string, slots = 4) {
    this.token = token;
    this.slots = slots;
  }

  leaseOf(attemptId: string): string {
    return this.leases.get(attemptId) ?? NOT_ISSUED;
  }

  private took(tasks: any[]): any[] {
    for (const t of tasks) this.leases.set(t.attemptId, t.leaseId);
    return tasks;
  }

  async register(): Promise<string> {
    if (this.runnerId) return this.runnerId;
    const res = await api("POST", "/api/v1/runner/register", { name: "test", slots: this.slots }, this.token);
    if (res.status !== 201) throw new Error(`register: ${res.status} ${res.text}`);
    this.runnerId = res.json.runnerId as string;
    return this.runnerId;
  }

  async claim(slots = 4, waitMs = 0) {
    const res = await api("POST", "/api/v1/runner/claim", { runnerId: await this.register(), name: "test", slots, waitMs }, this.token);
    if (res.status !== 200) throw new Error(`claim: ${res.status} ${res.text}`);
    return this.took(res.json.tasks as any[]);
  }

  async log(attemptId: string, text: string) {
    return api("POST", `/api/v1/runner/attempts/${attemptId}/log`, text, this.token, { "x-sluice-runner": await this.register(), "x-sluice-lease": this.leaseOf(attemptId) });
  }

  /** Reports a result; with `freeSlots` the answer's `tasks` are the next ones, leased in the same call. */
  async complete(attemptId: string, exitCode: number | null, outputs: Record<string, string> = {}, error: string | null = null, freeSlots = 0) {
    const res = await api("POST", `/api/v1/runner/attempts/${attemptId}/complete`, { exitCode, signal: null, outputs, error, freeSlots }, this.token, {
      "x-sluice-runner": await this.register(),
      "x-sluice-lease": this.leaseOf(attemptId),
    });
    if (res.status === 200) this.took(res.json.tasks);
    return res;
  }

  async heartbeat(attempts: string[]) {
    const leases = attempts.map((attemptId) => ({ attemptId, leaseId: this.leaseOf(attemptId) }));
    return api("POST", "/api/v1/runner/heartbeat", { runnerId: await this.register(), name: "test", slots: this.slots, leases }, this.token);
  }
}

export async function instance(id: string) {
  const res = await api("GET", `/api/v1/instances/${id}`);
  if (res.status !== 200) throw new Error(`instance: ${res.status} ${res.text}`);
  return res.json as { status: string; nodes: { name: string; status: string; attempt: number; error: string | null; exitCode: number | null }[] };
}

export const nodeStatus = async (id: string) => Object.fromEntries((await instance(id)).nodes.map((n) => [n.name, n.status]));

/**
 * Waits until the node shows `status`. A lease's start notice reaches the coordinator a moment after the
 * claim (pool/start-notices.ts), so `running` is not there the instant a runner has its task.
 */
export async function untilNodeStatus(id: string, node: string, status: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = (await nodeStatus(id))[node];
    if (now === status) return;
    if (Date.now() > deadline) throw new Error(`node ${node} of ${id} is ${now}, not ${status}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Gives each test of the calling file its own resource group, so no test claims another's work.
 * Workflows created through the returned function run in that group.
 */
export function isolatedGroup() {
  let group = "";
  beforeEach(() => {
    group = `g${crypto.randomUUID().slice(0, 8)}`;
  });
  return {
    name: () => group,
    createWorkflow: (def: { policy?: Record<string, unknown> } & Record<string, unknown>) =>
      createWorkflow({ ...def, policy: { ...def.policy, resourceGroup: group } }),
    newRunner: async () => new FakeRunner(await runnerToken(group)),
    pool: () => env.POOL.get(env.POOL.idFromName(group)),
  };
}

export async function startRun(workflowId: string, body: Record<string, unknown> = { env: "dev" }): Promise<string> {
  const res = await api("POST", `/api/v1/workflows/${workflowId}/runs`, body);
  if (res.status !== 201) throw new Error(`run: ${res.status} ${res.text}`);
  return res.json.id as string;
}

/**
 * Waits until the workflow's coordinator has delivered every D1 mirror row it committed: lists, events and the
 * audit log read D1, which follows each commit in the background. Asks again (up to a deadline) while a
 * failed mirror batch waits out its backoff.
 */
export async function mirrored(workflowId: string, timeoutMs = 10_000): Promise<void> {
  const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
  const deadline = Date.now() + timeoutMs;
  while (!(await coordinator.mirrored())) {
    if (Date.now() > deadline) throw new Error(`the D1 mirror of ${workflowId} did not catch up within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
