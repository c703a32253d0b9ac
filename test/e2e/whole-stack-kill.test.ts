// Issue #11 on the real stack: SIGKILL wrangler, workerd and the runners twice while API runs stream in, restart on the same state.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupIsAlive } from "../../runner/src/process-group.ts";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

/** Runs streamed, requests in flight at once, and the pause each client loop takes between its runs. */
const RUNS = 60;
const CONCURRENCY = 3;
const GAP_MS = 400;
const NODES = ["extract", "transform", "load"];
/**
 * The run whose `transform` holds on (its first process only, 0.2 s a tick) across both crashes: unless it dies with
 * its runner, it is still running when its retry starts.
 */
const HELD_RUN = 5;
const HELD_TICKS = 300;

let stack: Stack;
let persistTo: string;
/** Each node process appends "phase instance node attempt pid nanoseconds" lines here: its own account of when it ran. */
let marks: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-kill-"));
  marks = join(persistTo, "marks.txt");
  // A short lease so attempts lost with their runner are declared lost within seconds of the restart.
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "r1", slots: 4 }, { name: "r2", slots: 4 }], vars: { LEASE_SECONDS: "3" } });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true, maxRetries: 5 });
});

/** One line of the marks file: b(egan), h(eld on), e(nded), written by the node's own process. */
interface Mark {
  phase: "b" | "h" | "e";
  instance: string;
  node: string;
  attempt: number;
  pid: number;
  atMs: number;
}

function readMarks(): Mark[] {
  let text = "";
  try {
    text = readFileSync(marks, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [phase, instance, node, attempt, pid, ns] = line.trim().split(" ");
      return { phase: phase as Mark["phase"], instance: instance!, node: node!, attempt: Number(attempt), pid: Number(pid), atMs: Number(BigInt(ns!) / 1_000_000n) };
    });
}

/** One execution of a node: a process that began, when it was last seen alive, and whether it ended on its own. */
interface Execution {
  instance: string;
  node: string;
  attempt: number;
  began: number;
  lastSeen: number;
  ended: boolean;
}

function executions(): Execution[] {
  const byProcess = new Map<string, Execution>();
  for (const m of readMarks()) {
    const key = `${m.instance}/${m.node}#${m.attempt}@${m.pid}`;
    const run = byProcess.get(key) ?? { instance: m.instance, node: m.node, attempt: m.attempt, began: m.atMs, lastSeen: m.atMs, ended: false };
    byProcess.set(key, run);
    run.lastSeen = Math.max(run.lastSeen, m.atMs);
    if (m.phase === "e") run.ended = true;
  }
  return [...byProcess.values()];
}

async function until(what: string, deadlineMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + deadlineMs; !(await check()); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Every instance of the workflow, from the public listing (all pages). */
async function instancesOf(api: ReturnType<typeof client>, workflowId: string): Promise<{ id: string; status: string }[]> {
  const all: { id: string; status: string }[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; json: any } = await api.call("GET", `/api/v1/instances?workflowId=${workflowId}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (page.status !== 200) throw new Error(`list: ${page.status}`);
    all.push(...page.json.items);
    cursor = page.json.nextCursor;
  } while (cursor);
  return all;
}

describe("a whole-stack SIGKILL during a stream of API runs", () => {
  it("leaves one succeeded instance per Idempotency-Key, nothing waiting or running, and a node's executions never side by side", async () => {
    const began = Date.now();
    const workflowId = await client(stack).createWorkflow({
      name: "survives_whole_stack_kill",
      params: { marks, hold: "none" },
      nodes: NODES.map((name) => ({
        name,
        type: "shell",
        code: [
          'mark() { echo "$1 $SLUICE_INSTANCE_ID $SLUICE_NODE $SLUICE_ATTEMPT $BASHPID $(date +%s%N)" >> "${marks}"; }',
          "mark b",
          // Only the held node's first process holds on (mkdir is atomic): its retry ends in a tick.
          `ticks=1; if [ "\${hold}" = "$SLUICE_NODE" ] && mkdir "\${marks}.held" 2>/dev/null; then ticks=${HELD_TICKS}; fi`,
          'for _ in $(seq "$ticks"); do sleep 0.2; mark h; done',
          "mark e",
          "echo $SLUICE_NODE",
        ].join("\n"),
      })),
      edges: [
        { from: "extract", to: "transform" },
        { from: "transform", to: "load" },
      ],
    });
    const published = await client(stack).call("POST", `/api/v1/workflows/${workflowId}/publish`, { message: "v1" });
    expect(published.status, published.text).toBe(200);

    // The client: each key is retried, with the same key, until the stack answers it (the stack is sometimes dead).
    const keys = Array.from({ length: RUNS }, (_, i) => `kill-test-${i}-${began}`);
    const answered = new Map<string, string>();
    let retries = 0;
    const runWithKey = async (key: string) => {
      const body = JSON.stringify({ env: "prod", ...(key === keys[HELD_RUN] ? { params: { hold: "transform" } } : {}) });
      for (;;) {
        try {
          const res = await fetch(`${stack.url}/api/v1/workflows/${workflowId}/runs`, {
            method: "POST",
            headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json", "idempotency-key": key },
            body,
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          if (res.status === 200 || res.status === 201) {
            answered.set(key, (JSON.parse(text) as { id: string }).id);
            return;
          }
          if (res.status < 500) throw new Error(`run ${key}: ${res.status} ${text}`);
        } catch (err) {
          if (err instanceof Error && err.message.startsWith(`run ${key}:`)) throw err;
        }
        retries++;
        await sleep(150);
      }
    };
    let next = 0;
    const streaming = Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < keys.length) {
          await runWithKey(keys[next++]!);
          await sleep(GAP_MS);
        }
      }),
    );

    const crashAndRestart = async () => {
      const pids = [stack.worker, ...stack.runners].map((c) => c.pid!);
      await stack.kill();
      for (const pid of pids) expect(groupIsAlive(pid), `process group ${pid} survived SIGKILL`).toBe(false);
      stack = await stack.restart();
    };

    // First crash: a third of the way through the stream, with shell nodes mid-run, the held one among them
    // long enough (1.6 s) for its runner to have confirmed it with a heartbeat, so it is lost, not offered again.
    const heldMidRun = () => {
      const held = answered.get(keys[HELD_RUN]!);
      return executions().some((e) => e.instance === held && e.node === "transform" && !e.ended && e.lastSeen - e.began >= 1_600);
    };
    await until("a third of the runs answered with the held node mid-run", 60_000, () => answered.size >= RUNS / 3 && heldMidRun());
    const firstKillAt = answered.size;
    await crashAndRestart();
    // Second crash: just after the restart, before the attempts lost in the first have outlived their leases.
    await until("five runs answered by the restarted stack", 30_000, () => answered.size >= firstKillAt + 5);
    await crashAndRestart();
    await streaming;
    const killsDone = Date.now();

    const api = client(stack);
    expect(answered.size).toBe(RUNS);
    const ids = new Set(answered.values());
    expect(ids.size, "two keys answered with one instance").toBe(RUNS);

    // Drain: until every instance the listing shows has ended.
    let instances: { id: string; status: string }[] = [];
    await until("every instance to end", 90_000, async () => {
      instances = await instancesOf(api, workflowId);
      return instances.length >= RUNS && instances.every((i) => !["waiting", "running"].includes(i.status));
    });
    const drained = Date.now();

    expect(instances.map((i) => i.id).sort(), "exactly one instance per Idempotency-Key").toEqual([...ids].sort());
    const views = await Promise.all(instances.map(async (i) => (await api.call("GET", `/api/v1/instances/${i.id}`)).json));
    const notSucceeded = views.filter((v) => v.status !== "succeeded");
    expect(
      notSucceeded.map((v) => ({ id: v.id, status: v.status, nodes: v.nodes.map((n: any) => ({ name: n.name, status: n.status, attempt: n.attempt, error: n.error })) })),
      "instances that did not succeed",
    ).toEqual([]);
    for (const v of views) expect(v.nodes.map((n: any) => n.status), v.id).toEqual(NODES.map(() => "succeeded"));

    // A node's executions never overlap: by its processes' own marks (a killed one was last seen alive at its
    // last tick, 0.2 s apart), and the API's latest attempt started after every earlier execution was gone.
    const all = executions();
    let retried = 0;
    for (const v of views) {
      for (const node of v.nodes) {
        const runs = all.filter((e) => e.instance === v.id && e.node === node.name).sort((a, b) => a.began - b.began);
        const where = `${v.id}/${node.name}`;
        expect(runs.length, `${where} has no process of its own`).toBeGreaterThan(0);
        if (node.attempt > 1) retried++;
        for (let k = 1; k < runs.length; k++) {
          const [earlier, later] = [runs[k - 1]!, runs[k]!];
          expect(later.began, `${where}: attempt ${later.attempt} began while attempt ${earlier.attempt} still ran (${JSON.stringify(runs)})`).toBeGreaterThanOrEqual(
            earlier.lastSeen,
          );
        }
        expect(runs.at(-1)!.attempt, `${where}: the API's latest attempt is not the last that ran`).toBe(node.attempt);
        // A lease its runner never confirmed is offered again as the same attempt, keeping its first startedAt.
        for (const earlier of runs.filter((r) => r.attempt < node.attempt)) {
          expect(Date.parse(node.startedAt), `${where}: attempt ${node.attempt} started while attempt ${earlier.attempt} still ran`).toBeGreaterThanOrEqual(earlier.lastSeen - 1);
        }
      }
    }

    console.log(
      `whole-stack kill: ${RUNS} runs, ${retries} client retries, ${retried} nodes retried, ${all.length - RUNS * NODES.length} extra executions, ` +
        `streamed and killed in ${Math.round((killsDone - began) / 1000)} s, drained in ${Math.round((drained - killsDone) / 1000)} s`,
    );
  });
});
