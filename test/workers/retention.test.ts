// Retention in D1: the purge deletes everything past its age, batch after batch, and nothing younger.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { logObjectKey } from "../../worker/core/logs.ts";
import { PURGE_BATCH, PURGE_TIME_BUDGET_MS, retentionMs, DATA_PATH_AUDIT_ACTIONS } from "../../worker/core/retention.ts";
import { purgeHistory } from "../../worker/db/retention.ts";

const NOW = Date.UTC(2026, 11, 6);
const DAY = 24 * 3600 * 1000;

/**
 * `count` finished instances of workflow `wf`, finished at `finishedAt`, each with two node runs, a log
 * chunk per run, a trigger event and an audit row of the same age. Generated inside D1 (no bound ids).
 */
async function history(wf: string, count: number, finishedAt: number, auditAction = "POST /api/v1/workflows/:id/publish"): Promise<void> {
  const n = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)`;
  await env.DB.batch([
    env.DB.prepare(
      `${n} INSERT INTO instances (id, workspace_id, workflow_id, workflow_name, version, env, status, priority, run_date, trigger_type, trigger_message, params, created_at, started_at, finished_at)
       SELECT 'ins_' || ?2 || '_' || i, 'default', ?2, 'old', NULL, 'dev', 'succeeded', 3, NULL, 'api', '{}', '{}', ?3, ?3, ?3 FROM n`,
    ).bind(count, wf, finishedAt),
    env.DB.prepare(
      `${n}, k(j) AS (SELECT 0 UNION ALL SELECT 1)
       INSERT INTO node_runs (id, instance_id, node_name, node_type, attempt, status, finished_at)
       SELECT 'att_' || ?2 || '_' || i || '_' || j, 'ins_' || ?2 || '_' || i, 'node' || j, 'shell', 1, 'succeeded', ?3 FROM n, k`,
    ).bind(count, wf, finishedAt),
    env.DB.prepare(
      `INSERT INTO node_logs (node_run_id, text, seq, created_at) SELECT id, 'a line', 0, ?2 FROM node_runs WHERE id LIKE 'att_' || ?1 || '_%'`,
    ).bind(wf, finishedAt),
    env.DB.prepare(
      `${n} INSERT INTO trigger_events (id, trigger_id, workspace_id, received_at, last_received_at, source, outcome, detail, message)
       SELECT 'evt_' || ?2 || '_' || i, 'trg_' || ?2, 'default', ?3, ?3, 'webhook', 'started', '', '{}' FROM n`,
    ).bind(count, wf, finishedAt),
    env.DB.prepare(
      `${n} INSERT INTO audit_events (workspace_id, at, actor_key_id, actor_role, action, target, status)
       SELECT 'default', ?3, 'key_' || ?2, 'admin', ?4, '{}', 201 FROM n`,
    ).bind(count, wf, finishedAt, auditAction),
  ]);
}

async function left(wf: string) {
  const count = async (sql: string) => (await env.DB.prepare(sql).bind(wf).first<{ n: number }>())!.n;
  return {
    instances: await count(`SELECT COUNT(*) AS n FROM instances WHERE workflow_id = ?1`),
    nodeRuns: await count(`SELECT COUNT(*) AS n FROM node_runs WHERE id LIKE 'att_' || ?1 || '_%'`),
    logs: await count(`SELECT COUNT(*) AS n FROM node_logs WHERE node_run_id LIKE 'att_' || ?1 || '_%'`),
    triggerEvents: await count(`SELECT COUNT(*) AS n FROM trigger_events WHERE trigger_id = 'trg_' || ?1`),
    auditEvents: await count(`SELECT COUNT(*) AS n FROM audit_events WHERE actor_key_id = 'key_' || ?1`),
  };
}

/** Log objects of the first `count` instances of `wf` (both nodes of each), as the archiver names them. */
async function logObjects(wf: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (const node of ["node0", "node1"]) await env.LOGS.put(logObjectKey("default", `ins_${wf}_${i}`, node, 1), `log of ${node}\n`);
  }
}

const objectsLeft = async (wf: string) => (await env.LOGS.list({ prefix: `logs/default/ins_${wf}_` })).objects.length;

describe("the retention purge", () => {
  it("deletes the R2 log objects of the instances it purges, and keeps the younger ones'", async () => {
    const old = `wf_oldlogs_${crypto.randomUUID().slice(0, 8)}`;
    const young = `wf_younglogs_${crypto.randomUUID().slice(0, 8)}`;
    await history(old, 6, NOW - retentionMs(30) - DAY);
    await history(young, 3, NOW - retentionMs(30) + DAY);
    await logObjects(old, 6);
    await logObjects(young, 3);

    await purgeHistory(env, 30, NOW);

    expect(await objectsLeft(old)).toBe(0);
    expect(await objectsLeft(young)).toBe(6);
  });

  it("deletes every instance past its age with its node runs and logs, and its trigger events, batch after batch; keeps the younger", async () => {
    const old = `wf_old_${crypto.randomUUID().slice(0, 8)}`;
    const young = `wf_young_${crypto.randomUUID().slice(0, 8)}`;
    const count = 2 * PURGE_BATCH + 7;
    await history(old, count, NOW - retentionMs(30) - DAY);
    await history(young, 20, NOW - retentionMs(30) + DAY);

    const purged = await purgeHistory(env, 30, NOW);

    expect(purged).toMatchObject({ complete: true, auditEvents: 0 });
    expect(purged.instances).toBeGreaterThanOrEqual(count);
    expect(purged.triggerEvents).toBeGreaterThanOrEqual(count);
    expect(await left(old)).toEqual({ instances: 0, nodeRuns: 0, logs: 0, triggerEvents: 0, auditEvents: count });
    expect(await left(young)).toEqual({ instances: 20, nodeRuns: 40, logs: 40, triggerEvents: 20, auditEvents: 20 });
  });

  it("keeps the events a paused trigger holds, however old, and purges the other old events of the same trigger", async () => {
    const wf = `wf_kept_${crypto.randomUUID().slice(0, 8)}`;
    const at = NOW - retentionMs(30) - DAY;
    await history(wf, 3, at);
    await env.DB.prepare(
      `INSERT INTO trigger_events (id, trigger_id, workspace_id, received_at, last_received_at, source, outcome, detail, message)
       VALUES ('evt_kept_' || ?1, 'trg_' || ?1, 'default', ?2, ?2, 'webhook', 'paused', 'kept while the trigger is paused', '{}')`,
    )
      .bind(wf, at)
      .run();

    await purgeHistory(env, 30, NOW);

    const outcomes = await env.DB.prepare(`SELECT outcome FROM trigger_events WHERE trigger_id = 'trg_' || ?1`).bind(wf).all<{ outcome: string }>();
    expect(outcomes.results).toEqual([{ outcome: "paused" }]);
  });

  it("keeps audit rows for their own, longer retention", async () => {
    const wf = `wf_audit_${crypto.randomUUID().slice(0, 8)}`;
    await history(wf, 10, NOW - retentionMs(100));
    await purgeHistory(env, 30, NOW, { auditDays: 365 });
    expect(await left(wf)).toMatchObject({ instances: 0, auditEvents: 10 });
    const purged = await purgeHistory(env, 30, NOW + retentionMs(300), { auditDays: 365 });
    expect(purged.auditEvents).toBeGreaterThanOrEqual(10);
    expect(await left(wf)).toMatchObject({ auditEvents: 0 });
  });

  it("deletes the run definitions past its age that no instance names, and keeps one an old instance still names and a young one", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const [unused, named, young] = [`def_unused_${tag}`, `def_named_${tag}`, `def_young_${tag}`];
    const define = (hash: string, createdAt: number) =>
      env.DB.prepare(`INSERT INTO run_definitions (hash, workspace_id, workflow_id, definition, weights, created_at) VALUES (?, 'default', 'wf', '{}', '{}', ?)`).bind(hash, createdAt);
    await env.DB.batch([
      define(unused, NOW - retentionMs(60)),
      define(named, NOW - retentionMs(60)),
      define(young, NOW - retentionMs(1)),
      env.DB.prepare(
        `INSERT INTO instances (id, workspace_id, workflow_id, workflow_name, version, env, status, priority, trigger_type, trigger_message, params, created_at, finished_at, def_hash)
         VALUES (?, 'default', 'wf', 'w', NULL, 'dev', 'succeeded', 3, 'api', '{}', '{}', ?2, ?2, ?3)`,
      ).bind(`ins_named_${tag}`, NOW - retentionMs(1), named),
    ]);
    const purged = await purgeHistory(env, 30, NOW);
    expect(purged.runDefinitions).toBeGreaterThanOrEqual(1);
    const { results } = await env.DB.prepare(`SELECT hash FROM run_definitions WHERE hash LIKE ? ORDER BY hash`).bind(`%_${tag}`).all<{ hash: string }>();
    expect(results.map((r) => r.hash)).toEqual([named, young]);
  });

  it("purges the data path's audit rows (run requests, queue sends, uploads) with the run history, not after the audit's year", async () => {
    const actions = ["POST /api/v1/workflows/:id/runs", "POST /api/v1/queues/:queue/messages", "PUT /api/v1/buckets/:bucket/objects/:key{.+}"];
    expect(DATA_PATH_AUDIT_ACTIONS).toContain(actions[0]);
    const tag = crypto.randomUUID().slice(0, 8);
    for (const [i, action] of actions.entries()) await history(`wf_data${i}_${tag}`, 10, NOW - retentionMs(30) - DAY, action);
    const config = `wf_cfgaudit_${tag}`;
    await history(config, 10, NOW - retentionMs(30) - DAY);
    const purged = await purgeHistory(env, 30, NOW, { auditDays: 365 });
    expect(purged.auditEvents).toBeGreaterThanOrEqual(30);
    for (const i of actions.keys()) expect(await left(`wf_data${i}_${tag}`)).toMatchObject({ instances: 0, auditEvents: 0 });
    expect(await left(config)).toMatchObject({ instances: 0, auditEvents: 10 });
  });

  it("stops when its time budget is spent, says it is not complete, and the next run goes on where it stopped", async () => {
    const wf = `wf_budget_${crypto.randomUUID().slice(0, 8)}`;
    await history(wf, PURGE_BATCH + 50, NOW - retentionMs(60));
    // The clock passes the budget once the first batch is under way.
    let reads = 0;
    const clock = () => (reads++ < 2 ? 0 : PURGE_TIME_BUDGET_MS);
    const first = await purgeHistory(env, 30, NOW, { clock });
    expect(first).toMatchObject({ complete: false, instances: PURGE_BATCH, triggerEvents: 0 });
    expect(await left(wf)).toMatchObject({ instances: 50, nodeRuns: 100, logs: 100 });
    const second = await purgeHistory(env, 30, NOW);
    expect(second.complete).toBe(true);
    expect(await left(wf)).toMatchObject({ instances: 0, nodeRuns: 0, logs: 0, triggerEvents: 0 });
  });
});
