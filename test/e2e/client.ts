// A small API client for end-to-end tests against a running stack.
import type { Stack } from "../../scripts/stack.ts";

/** An instance's final states (DESIGN §2.6). */
const FINISHED = ["succeeded", "failed", "terminated", "skipped"];

export function client(stack: Stack) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const isJson = res.headers.get("content-type")?.includes("json") ?? false;
    return { status: res.status, text, json: (isJson && text !== "" ? JSON.parse(text) : undefined) as any };
  };
  return {
    call,
    async createWorkflow(def: unknown): Promise<string> {
      const res = await call("POST", "/api/v1/workflows", def);
      if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
      return res.json.id;
    },
    async run(workflowId: string, body: unknown): Promise<string> {
      const res = await call("POST", `/api/v1/workflows/${workflowId}/runs`, body);
      if (res.status !== 201) throw new Error(`run: ${res.status} ${res.text}`);
      return res.json.id;
    },
    /** Polls until the instance ends (skipped included); the test's own timeout bounds the wait. */
    async finished(instanceId: string): Promise<any> {
      for (;;) {
        const res = await call("GET", `/api/v1/instances/${instanceId}`);
        if (res.status === 200 && FINISHED.includes(res.json.status)) return res.json;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** Polls until `done`; gives up after `withinMs` (inside the test timeout) with what it last saw and the stack's recent output. */
    async until<T>(read: () => Promise<T>, done: (value: T) => boolean, what = "the condition", withinMs = 60_000): Promise<T> {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(value).slice(0, 2000)}\n${stack.output.join("").slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async publishedWorkflow(def: Record<string, unknown>): Promise<string> {
      const id = await this.createWorkflow(def);
      const res = await call("POST", `/api/v1/workflows/${id}/publish`, { message: "first" });
      if (res.status !== 200) throw new Error(`publish: ${res.status} ${res.text}`);
      return id;
    },
    instancesOf: async (workflowId: string): Promise<any[]> => (await call("GET", `/api/v1/instances?workflowId=${workflowId}&limit=200`)).json.items,
    eventsOf: async (triggerId: string): Promise<any[]> => (await call("GET", `/api/v1/triggers/${triggerId}/events?limit=200`)).json.items,
    /** Uploads an object as the console does (locally the Worker then sends R2's notification). */
    async upload(key: string, content: string): Promise<{ eTag: string }> {
      const path = `/api/v1/buckets/uploads/objects/${key.split("/").map(encodeURIComponent).join("/")}`;
      const res = await fetch(`${stack.url}${path}`, { method: "PUT", headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "text/csv" }, body: content });
      if (res.status !== 201) throw new Error(`upload ${key}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { eTag: string };
    },
    /** Sends a message to the `user-behavior` queue through the API. */
    async send(body: unknown): Promise<void> {
      const res = await call("POST", "/api/v1/queues/user-behavior/messages", body);
      if (res.status !== 202) throw new Error(`send: ${res.status} ${res.text}`);
    },
    async log(instanceId: string, node: string): Promise<string> {
      return (await call("GET", `/api/v1/instances/${instanceId}/nodes/${node}/log`)).text;
    },
  };
}
