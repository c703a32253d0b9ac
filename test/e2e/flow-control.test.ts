// Flow control and operations (DESIGN §2.9, §2.10) on the real stack: wrangler dev, two runner CLIs running bash,
// driven through the public API only. Each check would fail if the product only pretended: overlaps are measured
// from what the processes themselves wrote, not from what the API says.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;
let logDir: string;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-flow-"));
  logDir = mkdtempSync(join(tmpdir(), "sluice-e2e-flow-logs-"));
  // 8 slots in all: more than the 3 keys × limit 2 of the first test, so slots are never what limits it.
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "flow-runner-1", slots: 4 }, { name: "flow-runner-2", slots: 4 }] });
  api = client(stack);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });
});

// ---- helpers: poll through the client, bounded well inside the test timeout, and say what was last seen ----

/** A name unique to this run of the file, so trigger filters and key patterns match only this test's events. */
const unique = (name: string) => `${name}-${process.pid}-${Date.now().toString(36)}`;

/** Real processes on a loaded machine: a longer bound than the client's default. */
const until = <T>(read: () => Promise<T>, done: (value: T) => boolean, what: string) => api.until(read, done, what, 150_000);

const instance = async (id: string): Promise<any> => (await api.call("GET", `/api/v1/instances/${id}`)).json;
/** The instance once it is final and `also` holds. */
const settled = (id: string, also: (view: any) => boolean = () => true) =>
  until(() => instance(id), (view) => ["succeeded", "failed", "terminated", "skipped"].includes(view?.status) && also(view), `instance ${id} to finish`);

const nodeOf = (view: any, name: string) => view.nodes.find((n: { name: string }) => n.name === name);

async function ok(method: string, path: string, body?: unknown, status = 200): Promise<any> {
  const res = await api.call(method, path, body);
  if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

// ---- the overlap of real processes, from the lines they appended ----

interface Overlap {
  /** Per key, the most processes of that key alive at once. */
  perKey: Record<string, number>;
  /** The most processes alive at once, whatever their key. */
  overall: number;
  starts: number;
  ends: number;
}

/**
 * Replays `start <key> <pid> <ns>` / `end <key> <pid> <ns>` lines in file order. Each line is one short write to a
 * file opened for appending, so the file's order is the order the processes wrote them in; the timestamps are only
 * there for a person reading a failure.
 */
function overlapOf(lines: string[]): Overlap {
  const alive = new Map<string, Set<string>>();
  const perKey: Record<string, number> = {};
  let overall = 0;
  let now = 0;
  let starts = 0;
  let ends = 0;
  for (const line of lines) {
    const [what, key, pid] = line.split(" ");
    const set = alive.get(key!) ?? new Set<string>();
    alive.set(key!, set);
    if (what === "start") {
      set.add(pid!);
      now++;
      starts++;
    } else {
      if (!set.delete(pid!)) throw new Error(`'${line}' ends a process that never started`);
      now--;
      ends++;
    }
    perKey[key!] = Math.max(perKey[key!] ?? 0, set.size);
    overall = Math.max(overall, now);
  }
  return { perKey, overall, starts, ends };
}

describe("flow control on the real stack", () => {
  it("a concurrency key limit of 2 is never exceeded by real processes, and one key never waits for another", { timeout: 300_000 }, async () => {
    const file = join(logDir, "overlap.log");
    const wf = await api.publishedWorkflow({
      name: "per_key_limit",
      params: { log_dir: logDir },
      policy: { maxParallel: 100, concurrency: { key: "${workflow.triggerMessage.key}", limit: 2 } },
      nodes: [
        {
          name: "work",
          type: "shell",
          code: [
            'key="${workflow.triggerMessage.key}"',
            'echo "start $key $$ $(date +%s%N)" >> "${workflow.log_dir}/overlap.log"',
            // Long enough that processes of different keys meet even when a runner is slow to pick work up.
            "sleep 2",
            'echo "end $key $$ $(date +%s%N)" >> "${workflow.log_dir}/overlap.log"',
          ].join("\n"),
        },
      ],
    });
    const keys = ["alpha", "beta", "gamma"];
    const asked = Array.from({ length: 18 }, (_, i) => keys[i % keys.length]!);
    const ids = await Promise.all(asked.map((key) => api.run(wf, { env: "prod", triggerMessage: { key } })));

    const done = await Promise.all(ids.map((id) => settled(id)));
    expect(done.map((d) => d.status)).toEqual(asked.map(() => "succeeded"));
    expect(done.map((d) => d.concurrencyKey)).toEqual(asked);

    const lines = readFileSync(file, "utf8").trim().split("\n");
    const overlap = overlapOf(lines);
    const seen = `${JSON.stringify(overlap)}\n${lines.join("\n")}`;
    expect(overlap.starts, seen).toBe(18);
    expect(overlap.ends, seen).toBe(18);
    for (const key of keys) expect(overlap.perKey[key], `${key}: ${seen}`).toBeLessThanOrEqual(2);
    // The limit was reached (else the check above proves nothing), and keys ran beside each other (else admission
    // serialised everything behind one key: with limit 2 per key, more than 2 at once needs two keys at once).
    expect(Math.max(...keys.map((k) => overlap.perKey[k]!)), seen).toBe(2);
    expect(overlap.overall, seen).toBeGreaterThanOrEqual(3);
  });

  it("overlap skip: a second run while maxParallel 1 is held ends skipped with a reason naming maxParallel; the first succeeds", { timeout: 240_000 }, async () => {
    const wf = await api.publishedWorkflow({
      name: "skip_when_busy",
      policy: { maxParallel: 1, overlap: "skip" },
      nodes: [{ name: "work", type: "shell", code: 'echo "ran ${workflow.triggerMessage.n}"; sleep 3' }],
    });
    // The first holds the only place from its admission on, before any runner has it; the second arrives meanwhile.
    const first = await api.run(wf, { env: "prod", triggerMessage: { n: "first" } });
    const second = await api.run(wf, { env: "prod", triggerMessage: { n: "second" } });

    const skipped = await settled(second);
    expect(skipped.status).toBe("skipped");
    expect(skipped.reason).toMatch(/maxParallel 1 reached/);
    expect(skipped.reason).toContain("overlap: skip");
    expect(nodeOf(skipped, "work").status).toBe("skipped");
    const ran = await settled(first);
    expect(ran.status).toBe("succeeded");
    expect(await api.log(first, "work")).toContain("ran first");
    expect(await api.log(second, "work")).not.toContain("ran second");
  });

  it("batching: three real uploads become exactly one run whose message counts 3, and three batched events name it", { timeout: 240_000 }, async () => {
    const prefix = unique("batch");
    const trigger = await ok(
      "POST",
      "/api/v1/triggers",
      { name: "csv_batches", type: "r2", config: { bucket: "uploads", events: ["object-create"], keyPattern: `${prefix}/*.csv` }, batch: { maxEvents: 3, windowSeconds: 60 } },
      201,
    );
    expect(trigger.batch).toEqual({ maxEvents: 3, windowSeconds: 60, key: null });
    const wf = await api.publishedWorkflow({
      name: "batch_of_uploads",
      policy: { triggerId: trigger.id },
      nodes: [{ name: "count", type: "shell", code: 'echo "batch of ${workflow.triggerMessage.batch.count}"; echo "first ${workflow.triggerMessage.events[0].subject}"' }],
    });

    const keys = ["a.csv", "b.csv", "c.csv"].map((name) => `${prefix}/${name}`);
    for (const key of keys) await api.upload(key, "id\n1\n");

    const [run] = await until(() => api.instancesOf(wf), (list) => list.length > 0, "the batch's run");
    const done = await settled(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.triggerMessage.batch.count).toBe(3);
    expect(done.triggerMessage.events.map((e: { subject: string }) => e.subject).sort()).toEqual(keys);
    const log = await api.log(run.id, "count");
    expect(log).toContain("batch of 3");
    expect(log).toMatch(new RegExp(`first ${prefix}/[abc]\\.csv`));

    // Each upload is logged batched, naming the instance its batch became; the batch's own row (source batch) started it.
    const events = await until(() => api.eventsOf(trigger.id), (list) => list.length >= 4, "three logged uploads and the batch's row");
    const batched = events.filter((e) => e.outcome === "batched");
    expect(batched).toHaveLength(3);
    for (const event of batched) expect(event.instanceIds, event.detail).toEqual([run.id]);
    expect(batched.map((e) => e.message.subject).sort()).toEqual(keys);
    const own = events.filter((e) => e.outcome !== "batched");
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ outcome: "started", source: "batch", instanceIds: [run.id] });
    expect(await api.instancesOf(wf)).toHaveLength(1);
  });

  it("pause keeps four queue messages without starting anything; resume starts each once, in its own instance", { timeout: 240_000 }, async () => {
    const filter = unique("pause");
    const trigger = await ok("POST", "/api/v1/triggers", { name: "paused_queue", type: "queue", config: { queue: "user-behavior", key: filter } }, 201);
    const wf = await api.publishedWorkflow({
      name: "kept_while_paused",
      policy: { triggerId: trigger.id, maxParallel: 10 },
      nodes: [{ name: "echo", type: "shell", code: 'echo "value=${workflow.triggerMessage.value}"' }],
    });

    expect(await ok("POST", `/api/v1/triggers/${trigger.id}/pause`)).toMatchObject({ id: trigger.id, paused: true });
    const values = ["m1", "m2", "m3", "m4"].map((v) => `${v}-${filter}`);
    for (const value of values) await api.send({ key: filter, value });
    const kept = await until(() => api.eventsOf(trigger.id), (list) => list.length >= 4, "four kept events");
    expect(kept.map((e) => e.outcome)).toEqual(["paused", "paused", "paused", "paused"]);
    expect(kept.every((e) => e.instanceIds.length === 0)).toBe(true);
    expect(await api.instancesOf(wf)).toHaveLength(0);

    const resumed = await ok("POST", `/api/v1/triggers/${trigger.id}/resume`);
    expect(resumed).toMatchObject({ trigger: { paused: false }, resumed: 4, remaining: 0 });

    const runs = await until(() => api.instancesOf(wf), (list) => list.length >= 4, "four resumed runs");
    expect(runs).toHaveLength(4);
    const events = await until(() => api.eventsOf(trigger.id), (list) => list.every((e) => e.outcome === "started"), "every event started");
    expect(events).toHaveLength(4);
    // Each logged event started exactly one instance of its own, and the four are exactly the workflow's runs.
    const started = events.map((e) => e.instanceIds);
    expect(started.every((ids) => ids.length === 1)).toBe(true);
    expect(new Set(started.flat()).size).toBe(4);
    expect([...started.flat()].sort()).toEqual(runs.map((r) => r.id).sort());
    for (const event of events) {
      const id = event.instanceIds[0];
      const done = await settled(id);
      expect(done.status).toBe("succeeded");
      expect(nodeOf(done, "echo").attempt).toBe(1);
      expect(done.triggerMessage.value).toBe(event.message.value);
      const log = await api.log(id, "echo");
      expect(log).toContain(`value=${event.message.value}`);
      for (const other of values.filter((v) => v !== event.message.value)) expect(log).not.toContain(other);
    }
    expect(events.map((e) => e.message.value).sort()).toEqual([...values].sort());
  });

  it("rerun from b keeps a's attempt and output, runs b and c again, and c's new log shows a's output", { timeout: 240_000 }, async () => {
    const wf = await api.publishedWorkflow({
      name: "rerun_from_b",
      nodes: [
        // $$ differs in every process, so a rerun of a would show a different value downstream.
        { name: "a", type: "shell", code: 'echo "x=from-a-$$" >> "$SLUICE_OUTPUT"; echo "a ran"' },
        { name: "b", type: "shell", code: 'echo "b ran attempt $SLUICE_ATTEMPT"' },
        { name: "c", type: "shell", code: 'echo "a said ${nodes.a.outputs.x} on attempt $SLUICE_ATTEMPT"' },
      ],
      edges: [
        { from: "a", to: "b" },
        { from: "b", to: "c" },
      ],
    });
    const id = await api.run(wf, { env: "prod" });
    const first = await settled(id);
    expect(first.status).toBe("succeeded");
    const firstLog = await api.log(id, "c");
    const said = /a said (from-a-\d+) on attempt 1/.exec(firstLog)?.[1];
    expect(said, firstLog).toBeDefined();

    expect(await ok("POST", `/api/v1/instances/${id}/rerun`, { mode: "from", node: "b" })).toMatchObject({ id });
    const again = await settled(id, (view) => nodeOf(view, "c").attempt === 2);
    expect(again.status).toBe("succeeded");
    expect(again.nodes.map((n: { name: string; attempt: number; status: string }) => [n.name, n.attempt, n.status])).toEqual([
      ["a", 1, "succeeded"],
      ["b", 2, "succeeded"],
      ["c", 2, "succeeded"],
    ]);
    expect(await api.log(id, "b")).toContain("b ran attempt 2");
    expect(await api.log(id, "c")).toContain(`a said ${said} on attempt 2`);
    expect((await api.call("GET", `/api/v1/instances/${id}/nodes/c/log?attempt=1`)).text).toContain(`a said ${said} on attempt 1`);
  });
});
