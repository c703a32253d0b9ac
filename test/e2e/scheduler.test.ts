// Scheduler behaviour on the real stack: http nodes, a runner killed mid-node, terminate killing a process group.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;
let server: Server;
let serverUrl = "";
const received: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-"));
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ accepted: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // A short lease so a killed runner's node is declared lost within seconds.
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "first", slots: 2 }], vars: { LEASE_SECONDS: "3" } });
});

afterAll(async () => {
  await stack?.stop();
  server?.close();
  rmSync(persistTo, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("scheduler on the real stack", () => {
  it("runs an http node: percent-encodes trigger values in the url and passes status downstream", async () => {
    const api = client(stack);
    const id = await api.createWorkflow({
      name: "http_call",
      params: { team: "data" },
      nodes: [
        {
          name: "call",
          type: "http",
          http: {
            method: "POST",
            url: `${serverUrl}/hooks/\${workflow.triggerMessage.key}?team=\${workflow.team}`,
            headers: { "content-type": "application/json", "x-run-date": "${bizdate}" },
            body: '{"key": "${workflow.triggerMessage.key}"}',
          },
        },
        { name: "after", type: "shell", code: 'echo "status=${nodes.call.outputs.status}"' },
      ],
      edges: [{ from: "call", to: "after" }],
    });
    const done = await api.finished(await api.run(id, { env: "dev", runDate: "20260310", triggerMessage: { key: "a b/c?d" } }));
    expect(done.status).toBe("succeeded");
    const request = received.at(-1)!;
    expect(request).toMatchObject({ method: "POST", url: "/hooks/a%20b%2Fc%3Fd?team=data", body: '{"key": "a b/c?d"}' });
    expect(request.headers["x-run-date"]).toBe("20260309");
    expect(await api.log(done.id, "call")).toContain('HTTP 200\n{"accepted":true}');
    expect(await api.log(done.id, "after")).toContain("status=200");
  });

  it("retries a node on another runner after its runner is killed with SIGKILL mid-node", async () => {
    const api = client(stack);
    const id = await api.createWorkflow({
      name: "survives_a_dead_runner",
      nodes: [{ name: "slow", type: "shell", code: "echo started; sleep 2; echo finished on $SLUICE_ATTEMPT", retry: { count: 1 } }],
    });
    const instanceId = await api.run(id, { env: "dev" });
    // Once its first log line is in, the runner has confirmed the node: killing it now loses the attempt.
    await until(async () => ((await api.log(instanceId, "slow")).includes("started") ? true : undefined));
    const first = stack.runners[0]!;
    process.kill(first.pid!, "SIGKILL");
    stack.startRunner("second", 2);
    const done = await api.finished(instanceId);
    expect(done.status, JSON.stringify(done.nodes)).toBe("succeeded");
    expect(done.nodes[0]).toMatchObject({ name: "slow", attempt: 2, status: "succeeded" });
    expect(await api.call("GET", `/api/v1/instances/${instanceId}/nodes/slow/log?attempt=2`).then((r) => r.text)).toContain("finished on 2");
    const firstAttempt = (await api.call("GET", `/api/v1/instances/${instanceId}`)).json;
    expect(firstAttempt.status).toBe("succeeded");
  });

  it("terminate kills the node's whole process group, children included", async () => {
    const api = client(stack);
    const pidFile = join(persistTo, "child.pid");
    const id = await api.createWorkflow({
      name: "terminate_me",
      params: { pid_file: pidFile },
      nodes: [{ name: "forever", type: "shell", code: 'sleep 1000 & echo $! > "${pid_file}"; wait' }],
    });
    const instanceId = await api.run(id, { env: "dev" });
    const childPid = await until(async () => {
      try {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        return pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    });
    expect(alive(childPid)).toBe(true);
    const res = await api.call("POST", `/api/v1/instances/${instanceId}/terminate`);
    expect(res.json.status).toBe("terminated");
    await until(async () => (alive(childPid) ? undefined : true));
    const done = await api.finished(instanceId);
    expect(done.nodes[0].status).toBe("terminated");
  });
});
