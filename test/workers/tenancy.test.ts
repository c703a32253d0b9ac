// Cross-workspace table: every route and every runner-protocol call made with another workspace's key or token answers 403/404 and changes nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { api, createWorkflow, FakeRunner, mirrored, runnerToken, shellNode, startRun } from "./helpers.ts";
import { otherWorkspace, poolState, workspaceSnapshot, type OtherWorkspace } from "./tenancy-helpers.ts";

/** The same group name in both workspaces: they must still be two pools. */
const GROUP = "tenancy-shared";
const ids: Record<string, string> = {};
let other: OtherWorkspace;
let otherRunner: FakeRunner;

beforeAll(async () => {
  const wf = await createWorkflow({ name: "tenancy-a", policy: { resourceGroup: GROUP }, nodes: [shellNode("n", "echo a")] });
  await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
  ids.wf = wf.id;
  ids.prod = await startRun(wf.id, { env: "prod" });
  ids.dev = await startRun(wf.id, { env: "dev" });
  await mirrored(wf.id); // the snapshots compare lists, which D1 answers
  ids.trigger = (await api("POST", "/api/v1/triggers", { name: "tenancy-q", type: "queue", config: { queue: "user-behavior", key: "tenancy" } })).json.id;
  ids.hook = (await api("POST", "/api/v1/triggers", { name: "tenancy-hook", type: "webhook", config: {} })).json.id;
  ids.key = (await api("POST", "/api/v1/keys", { name: "tenancy-viewer", role: "viewer" })).json.id;
  // The first workspace's runner registers but never claims: its pool keeps both attempts ready.
  const mine = new FakeRunner(await runnerToken(GROUP));
  ids.runnerA = await mine.register();
  const { tasks } = await poolState(GROUP);
  ids.attempt = tasks[0]!.attempt_id as string;
  other = await otherWorkspace("tenancy other");
  otherRunner = new FakeRunner(await other.runnerToken(GROUP));
  ids.runnerB = await otherRunner.register();
});

/** [method, path, body, headers?]: `:name` is filled from `ids`. Each is made with the other workspace's admin key. */
const MANAGEMENT: [string, string, unknown?][] = [
  ["GET", "/api/v1/workflows/:wf"],
  ["PUT", "/api/v1/workflows/:wf", { name: "taken-over", nodes: [{ name: "n", type: "noop" }] }],
  ["DELETE", "/api/v1/workflows/:wf"],
  ["POST", "/api/v1/workflows/:wf/clone", { name: "stolen" }],
  ["POST", "/api/v1/workflows/:wf/publish", {}],
  ["GET", "/api/v1/workflows/:wf/versions"],
  ["GET", "/api/v1/workflows/:wf/versions/1"],
  ["GET", "/api/v1/workflows/:wf/versions/1/compare/1"],
  ["POST", "/api/v1/workflows/:wf/versions/1/revert"],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "dev" }],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "prod" }],
  ["GET", "/api/v1/instances/:prod"],
  ["GET", "/api/v1/instances/:prod/nodes/n/log"],
  ["POST", "/api/v1/instances/:prod/terminate"],
  ["POST", "/api/v1/instances/:dev/rerun", { mode: "all" }],
  ["GET", "/api/v1/triggers/:trigger"],
  ["PUT", "/api/v1/triggers/:trigger", { name: "tenancy-q", type: "queue", config: { queue: "user-behavior" } }],
  ["DELETE", "/api/v1/triggers/:trigger"],
  ["POST", "/api/v1/triggers/:trigger/disable"],
  ["POST", "/api/v1/triggers/:trigger/enable"],
  ["POST", "/api/v1/triggers/:hook/rotate-secret"],
  ["GET", "/api/v1/triggers/:trigger/events"],
  ["POST", "/api/v1/triggers/:trigger/test", { message: { key: "tenancy", value: "v" } }],
  ["DELETE", "/api/v1/keys/:key"],
  ["POST", "/api/v1/triggers", { name: "listen-in", type: "queue", config: { queue: "user-behavior" } }],
  ["POST", "/api/v1/triggers", { name: "watch-uploads", type: "r2", config: { bucket: "uploads" } }],
  ["POST", "/api/v1/queues/user-behavior/messages", { key: "tenancy", value: "chosen by another tenant" }],
  ["PUT", "/api/v1/buckets/uploads/objects/tenancy/probe.txt", "chosen by another tenant"],
  ["DELETE", "/api/v1/buckets/uploads/objects/tenancy/probe.txt"],
  ["GET", "/api/v1/workspaces/default/sources"],
  ["PUT", "/api/v1/workspaces/default/sources", { buckets: [], queues: [] }],
  ["PUT", "/api/v1/workspaces/:otherWs/sources", { buckets: ["uploads"], queues: ["user-behavior"] }],
  ["POST", "/api/v1/workspaces", { name: "own" }],
];

/** [method, path, body, headers]: made with the other workspace's runner token (same group name). */
const RUNNER_PROTOCOL: [string, string, unknown, Record<string, string>][] = [
  ["POST", "/api/v1/runner/claim", { runnerId: ":runnerA", slots: 4, waitMs: 0 }, {}],
  ["POST", "/api/v1/runner/heartbeat", { runnerId: ":runnerA", slots: 4, leases: [{ attemptId: ":attempt", leaseId: "lse_guessed" }] }, {}],
  ["POST", "/api/v1/runner/attempts/:attempt/log", "injected\n", { "x-sluice-runner": ":runnerB", "x-sluice-lease": "lse_guessed" }],
  ["POST", "/api/v1/runner/attempts/:attempt/log", "injected\n", { "x-sluice-runner": ":runnerA", "x-sluice-lease": "lse_guessed" }],
  ["POST", "/api/v1/runner/attempts/:attempt/complete", { exitCode: 0, signal: null, outputs: {}, error: null }, { "x-sluice-runner": ":runnerB", "x-sluice-lease": "lse_guessed" }],
  ["POST", "/api/v1/runner/attempts/:attempt/complete", { exitCode: 0, signal: null, outputs: {}, error: null }, { "x-sluice-runner": ":runnerA", "x-sluice-lease": "lse_guessed" }],
];

const fill = (text: string) => text.replace(/:(\w+)/g, (m, k: string) => (k === "otherWs" ? other.id : (ids[k] ?? m)));
const filled = (body: unknown) => (body === undefined ? undefined : typeof body === "string" ? body : JSON.parse(fill(JSON.stringify(body))));
const snapshot = async () => ({ api: await workspaceSnapshot({ wf: ids.wf!, trigger: ids.trigger!, hook: ids.hook! }, GROUP), pool: await poolState(GROUP) });

describe("another workspace's admin key", () => {
  for (const [method, path, body] of MANAGEMENT) {
    it(`${method} ${path} answers 403 or 404 and changes nothing`, async () => {
      const before = await snapshot();
      const res = await api(method, fill(path), filled(body), other.admin);
      expect([403, 404], res.text).toContain(res.status);
      expect(res.json.error.message, res.text).toBeTruthy();
      expect(await snapshot()).toEqual(before);
    });
  }

  it("lists nothing of the first workspace", async () => {
    for (const path of ["/api/v1/workflows?limit=200", "/api/v1/instances?limit=200", "/api/v1/triggers?limit=200", `/api/v1/runners?resourceGroup=${GROUP}`, "/api/v1/keys", "/api/v1/audit"]) {
      const res = await api("GET", path, undefined, other.admin);
      expect(res.status, path).toBe(200);
      const items = res.json.items as { id: string | number; workflowId?: string; keyId?: string }[];
      const first = Object.entries(ids).filter(([k]) => k !== "runnerB").map(([, v]) => v);
      expect(items.map((i) => i.id).filter((id) => first.includes(String(id))), path).toEqual([]);
    }
  });
});

describe("another workspace's runner token", () => {
  for (const [method, path, body, headers] of RUNNER_PROTOCOL) {
    it(`${method} ${path} ${JSON.stringify(body)} as ${Object.values(headers)[0] ?? "its own token"} answers 403 or 404 and changes nothing`, async () => {
      const before = await snapshot();
      const extra = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fill(v)]));
      const res = await api(method, fill(path), filled(body), otherRunner.token, extra);
      expect([403, 404], res.text).toContain(res.status);
      expect(await snapshot()).toEqual(before);
    });
  }

  it("claims nothing of the first workspace's group of the same name, and registering leaves its runners alone", async () => {
    const before = await snapshot();
    const stranger = new FakeRunner(await other.runnerToken(GROUP));
    expect(await stranger.claim(8)).toEqual([]);
    expect(await otherRunner.claim(8)).toEqual([]);
    expect((await otherRunner.heartbeat([ids.attempt!])).json.cancel).toEqual([ids.attempt]);
    expect(await snapshot()).toEqual(before);
  });
});
