// The outbox's D1 mirror: rows written once with their last values, as few multi-row statements as D1 allows.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:test";
import { coalesceUpserts, compactStatements, insertLog, insertRunDefinition, upsertInstance, upsertNodeRun, type InstanceRow, type NodeRunRow, type Statement } from "../../worker/db/mirror.ts";

const instance = (status: string): InstanceRow => ({
  id: "ins_1", workspace_id: "ws", workflow_id: "wf", workflow_name: "w", version: 1, env: "prod", status, priority: 3,
  run_date: null, trigger_type: "queue", trigger_message: "{}", params: "{}", created_at: 1, started_at: null, finished_at: null,
  def_hash: "h1", ordering_key: null, priority_override: null, cyctime: 1, concurrency_key: null, reason: null,
});
const nodeRun = (status: string): NodeRunRow => ({
  id: "run_1_a_1", instance_id: "ins_1", node_name: "a", node_type: "noop", attempt: 1, status, runner_id: null,
  queued_at: null, started_at: null, finished_at: null, exit_code: null, error: null, outputs: null,
});

describe("coalesceUpserts", () => {
  it("writes each row once with its last values, where it was first written, and keeps every other statement", () => {
    const log = insertLog("run_1_a_1", "hello\n");
    const out = coalesceUpserts([
      upsertInstance(instance("waiting")),
      upsertNodeRun(nodeRun("pending")),
      upsertInstance(instance("running")),
      log,
      upsertNodeRun(nodeRun("succeeded")),
      upsertInstance(instance("succeeded")),
    ]);
    expect(out.map((s) => s.row ?? "log")).toEqual(["instances:ins_1", "node_runs:run_1_a_1", "log"]);
    expect(out[0]!.params).toContain("succeeded");
    expect(out[1]!.params).toContain("succeeded");
    expect(out[2]).toBe(log);
  });

  it("keeps different rows apart", () => {
    const other = { ...instance("waiting"), id: "ins_2" };
    expect(coalesceUpserts([upsertInstance(instance("waiting")), upsertInstance(other)])).toHaveLength(2);
  });
});

describe("compactStatements", () => {
  const run = (statements: Statement[]) => env.DB.batch(statements.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
  const read = async (ids: string[]) => {
    const marks = ids.map(() => "?").join(", ");
    const instances = await env.DB.prepare(`SELECT id, status, finished_at FROM instances WHERE id IN (${marks}) ORDER BY id`).bind(...ids).all();
    const runs = await env.DB.prepare(`SELECT id, status FROM node_runs WHERE instance_id IN (${marks}) ORDER BY id`).bind(...ids).all();
    const logs = await env.DB.prepare(`SELECT node_run_id, text FROM node_logs WHERE node_run_id IN (SELECT id FROM node_runs WHERE instance_id IN (${marks})) ORDER BY id`).bind(...ids).all();
    return { instances: instances.results, runs: runs.results, logs: logs.results };
  };

  it("leaves D1 exactly as the statements one by one would, in fewer statements, under D1's parameter limit", async () => {
    const history = (prefix: string) => {
      const statements: Statement[] = [];
      for (let i = 0; i < 30; i++) {
        const id = `${prefix}_${i}`;
        const base = { ...instance("waiting"), id, workspace_id: "default" };
        const node = { ...nodeRun("pending"), id: `run_${id}`, instance_id: id };
        statements.push(upsertInstance(base), upsertNodeRun(node), upsertInstance({ ...base, status: "running", started_at: 5 }));
        statements.push(insertLog(node.id, `line ${i}\n`), upsertNodeRun({ ...node, status: "succeeded", finished_at: 6 }));
        statements.push(upsertInstance({ ...base, status: "succeeded", started_at: 5, finished_at: 7 }));
      }
      return statements;
    };
    const plain = history("ins_plain");
    const compact = compactStatements(history("ins_compact"));
    expect(compact.length).toBe(8 + 5 + 30); // 4 instance rows and 7 node-run rows per statement; log lines as they were
    expect(Math.max(...compact.map((s) => s.params.length))).toBeLessThanOrEqual(100);
    await run(plain);
    await run(compact);
    const ids = (prefix: string) => Array.from({ length: 30 }, (_, i) => `${prefix}_${i}`);
    const rename = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll("ins_compact", "ins_plain"));
    expect(rename(await read(ids("ins_compact")))).toEqual(await read(ids("ins_plain")));
  });

  it("puts run definitions first, one statement each, however large, and a second insert of one changes nothing", async () => {
    const owner = { workspaceId: "default", workflowId: "wf" };
    const big = JSON.stringify({ name: "big", nodes: [{ name: "n", type: "shell", code: "x".repeat(1024 * 1024 - 100) }] });
    const row = { ...instance("succeeded"), id: "ins_def", workspace_id: "default", def_hash: "hash_big" };
    const compact = compactStatements([
      upsertInstance(row),
      insertRunDefinition("hash_big", owner, big, "{}", 10),
      insertRunDefinition("hash_small", owner, "{}", "{}", 10),
    ]);
    expect(compact.map((s) => s.sql.split(" ")[2])).toEqual(["run_definitions", "run_definitions", "instances"]);
    await run(compact);
    await run([insertRunDefinition("hash_big", owner, "{}", "{}", 20)]);
    const kept = await env.DB.prepare(`SELECT length(definition) AS size, created_at FROM run_definitions WHERE hash = ?`).bind("hash_big").first();
    expect(kept).toEqual({ size: big.length, created_at: 10 });
    const instanceRow = await env.DB.prepare(`SELECT def_hash, cyctime FROM instances WHERE id = ?`).bind("ins_def").first();
    expect(instanceRow).toEqual({ def_hash: "hash_big", cyctime: 1 });
  });
});
