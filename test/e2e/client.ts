// A small API client for end-to-end tests against a running stack.
import type { Stack } from "../../scripts/stack.ts";

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
    /** Polls until the instance ends; the test's own timeout bounds the wait. */
    async finished(instanceId: string): Promise<any> {
      for (;;) {
        const res = await call("GET", `/api/v1/instances/${instanceId}`);
        if (res.status === 200 && ["succeeded", "failed", "terminated"].includes(res.json.status)) return res.json;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async log(instanceId: string, node: string): Promise<string> {
      return (await call("GET", `/api/v1/instances/${instanceId}/nodes/${node}/log`)).text;
    },
  };
}
