import { env, runDurableObjectAlarm, runInDurableObject, evictDurableObject } from "cloudflare:test";
import { it, expect } from "vitest";
import { armFault, armedFaults } from "../../worker/faults.ts";
import { isolatedGroup, shellNode, startRun } from "../workers/helpers.ts";

const scope = isolatedGroup();
it("probe", async () => {
  console.log("bindings", env.SLUICE_FAULTS, JSON.stringify((env as any).SLUICE_FAULT_RUNS), typeof process !== "undefined" ? process.env.SLUICE_FAULT_RUNS : "noproc");
  const wf = await scope.createWorkflow({ name: "p", nodes: [shellNode("n", "true", { retry: { count: 1, delaySeconds: 1 } })] });
  armFault("outbox.d1", 1);
  const id = await startRun(wf.id);
  console.log("armed after start", armedFaults());
  const coord = env.COORDINATOR.get(env.COORDINATOR.idFromName(wf.id));
  const pending = () => runInDurableObject(coord, (_: any, s) => s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n);
  console.log("outbox pending", await pending(), "alarm", await runInDurableObject(coord, (_: any, s) => s.storage.getAlarm()), Date.now());
  await new Promise((r) => setTimeout(r, 2500));
  console.log("outbox pending after 2.5s", await pending());
  const runner = await scope.newRunner();
  const [t] = await runner.claim(1);
  await runner.heartbeat([t.attemptId]);
  await new Promise((r) => setTimeout(r, 1500));
  const pool = scope.pool();
  console.log("pool tasks after lease expiry", await runInDurableObject(pool, (_: any, s) => s.storage.sql.exec("SELECT attempt_id, state FROM tasks").toArray()));
  await new Promise((r) => setTimeout(r, 1500));
  console.log("after 3s", await runInDurableObject(pool, (_: any, s) => s.storage.sql.exec("SELECT attempt_id, state FROM tasks").toArray()));
  const p = runner.claim(1);
  await evictDurableObject(pool).catch((e) => console.log("evict err", e));
  console.log("claim during evict", await p.then((x) => x.length, (e) => String(e)));
});
