// A small Sluice API client for the benchmarks: times every run request on the client's clock.
export interface InstanceNode {
  name: string;
  status: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Instance {
  id: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  nodes: InstanceNode[];
}

export interface InstanceSummary {
  id: string;
  status: string;
  createdAt: string;
  finishedAt: string | null;
}

export const FINISHED = new Set(["succeeded", "failed", "terminated"]);

export const ms = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));

export const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

export class Api {
  readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(url: string, token: string) {
    this.url = url;
    this.headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  }

  async call<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: T }> {
    const headers = token ? { ...this.headers, authorization: `Bearer ${token}` } : this.headers;
    const res = await fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: (text.startsWith("{") ? JSON.parse(text) : text) as T };
  }

  /** Stores an object through the upload endpoint (its bytes as they are, not JSON). */
  async upload(bucket: string, key: string, body: string, contentType = "text/plain"): Promise<void> {
    const res = await fetch(`${this.url}/api/v1/buckets/${bucket}/objects/${key}`, {
      method: "PUT",
      headers: { authorization: this.headers.authorization!, "content-type": contentType },
      body,
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`uploading ${key}: ${res.status} ${await res.text()}`);
  }

  async createWorkflow(definition: unknown): Promise<string> {
    const res = await this.call("POST", "/api/v1/workflows", definition);
    if (res.status !== 201) throw new Error(`creating a workflow: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.id as string;
  }

  /** Starts a dev run; `sentAt` is the client's clock just before the request left. */
  async run(workflowId: string): Promise<{ id: string; sentAt: number; answeredAt: number }> {
    const sentAt = Date.now();
    const res = await this.call("POST", `/api/v1/workflows/${workflowId}/runs`, { env: "dev" });
    const answeredAt = Date.now();
    if (res.status !== 201) throw new Error(`starting a run: ${res.status} ${JSON.stringify(res.json)}`);
    return { id: res.json.id as string, sentAt, answeredAt };
  }

  async instance(id: string): Promise<Instance> {
    const res = await this.call<Instance>("GET", `/api/v1/instances/${id}`);
    if (res.status !== 200) throw new Error(`reading instance ${id}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  }

  /** Polls until the instance ends (or `timeoutMs` passes: a benchmark never hangs). */
  async finished(id: string, timeoutMs: number, pollMs = 100): Promise<Instance> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const instance = await this.instance(id);
      if (FINISHED.has(instance.status)) return instance;
      if (Date.now() > deadline) throw new Error(`instance ${id} still ${instance.status} after ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  /** One page of a workflow's instances in a status (newest first); `more` when the page was full. */
  async instancesPage(workflowId: string, status: string, cursor: string | null = null, limit = 200) {
    const query = new URLSearchParams({ workflowId, status, limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const res = await this.call<{ items: InstanceSummary[]; nextCursor: string | null }>("GET", `/api/v1/instances?${query}`);
    if (res.status !== 200) throw new Error(`listing instances: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  }

  /** Every instance of a workflow in a status, following the cursor. */
  async allInstances(workflowId: string, status: string): Promise<InstanceSummary[]> {
    const all: InstanceSummary[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10_000; page++) {
      const res: { items: InstanceSummary[]; nextCursor: string | null } = await this.instancesPage(workflowId, status, cursor);
      all.push(...res.items);
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    return all;
  }
}

/** Runs `count` tasks with at most `concurrency` in flight. */
export async function inParallel(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
