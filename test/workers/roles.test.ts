// Roles across every route: route × role → the exact status of an allowed call, or 403; the audit log and workspace creation.
import { beforeAll, describe, expect, it } from "vitest";
import { api, createWorkflow, instance, shellNode, startRun } from "./helpers.ts";

type Role = "admin" | "developer" | "operator" | "viewer" | "runner";
const ROLES: Role[] = ["admin", "developer", "operator", "viewer", "runner"];
const keys: Record<Role, string> = {} as Record<Role, string>;
const ids: Record<string, string> = {};

/** Polls until the instance has finished (noop instances finish inside their coordinator, right after the start). */
async function finished(id: string): Promise<string> {
  while (!["succeeded", "failed", "terminated"].includes((await instance(id)).status)) await new Promise((r) => setTimeout(r, 20));
  return id;
}

beforeAll(async () => {
  for (const role of ROLES) keys[role] = (await api("POST", "/api/v1/keys", { name: `role-${role}`, role })).json.key;
  const wf = await createWorkflow({ name: "roles-wf", nodes: [shellNode("n", "sleep 1")] });
  await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
  ids.wf = wf.id;
  ids.prodInstance = await startRun(wf.id, { env: "prod" });
  ids.devInstance = await startRun(wf.id, { env: "dev" });
  // Finished instances to rerun: a noop workflow finishes at once.
  const done = await createWorkflow({ name: "roles-done", nodes: [{ name: "n", type: "noop" }] });
  await api("POST", `/api/v1/workflows/${done.id}/publish`, {});
  ids.prodDone = await finished(await startRun(done.id, { env: "prod" }));
  ids.devDone = await finished(await startRun(done.id, { env: "dev" }));
  ids.trigger = (await api("POST", "/api/v1/triggers", { name: "roles-trg", type: "queue", config: { queue: "user-behavior" } })).json.id;
  ids.hook = (await api("POST", "/api/v1/triggers", { name: "roles-hook", type: "webhook", config: {} })).json.id;
  ids.key = (await api("POST", "/api/v1/keys", { name: "to-revoke", role: "viewer" })).json.id;
  // One of each thing a role deletes or stops, so every allowed call finds it there.
  for (const role of ROLES) {
    ids[`term_${role}`] = await startRun(wf.id, { env: "dev" });
    ids[`delwf_${role}`] = (await createWorkflow({ name: `roles-del-${role}`, nodes: [{ name: "n", type: "noop" }] })).id;
    ids[`deltrg_${role}`] = (await api("POST", "/api/v1/triggers", { name: `roles-del-${role}`, type: "queue", config: { queue: "user-behavior" } })).json.id;
  }
  // The runner role's own registered id, and an attempt it holds.
  ids.runnerId = (await api("POST", "/api/v1/runner/register", { name: "roles", slots: 4 }, keys.runner)).json.runnerId;
  const claimed = await api("POST", "/api/v1/runner/claim", { runnerId: ids.runnerId, name: "roles", slots: 1, waitMs: 0 }, keys.runner);
  ids.attempt = claimed.json.tasks[0].attemptId;
  ids.lease = claimed.json.tasks[0].leaseId;
});

const READ: Role[] = ["admin", "developer", "operator", "viewer"];
const EDIT: Role[] = ["admin", "developer"];
const PROD: Role[] = ["admin", "operator"];
const ADMIN: Role[] = ["admin"];
const RUNNER: Role[] = ["runner"];
/** Only the installation's bootstrap key: no key a workspace admin creates, of any role. */
const BOOTSTRAP_ONLY: Role[] = [];

type Route = [method: string, path: string, body: unknown, allowed: Role[], status: number, headers?: Record<string, string>];

/**
 * Every route of the API with the roles allowed to call it and the exact status an allowed call answers. Path
 * placeholders (`:name`) are filled from `ids` after `$role` is replaced; `$runner` is the runner's registered id.
 */
const ROUTES: Route[] = [
  ["GET", "/api/v1/workflows", undefined, READ, 200],
  ["POST", "/api/v1/workflows", { name: "by-$role", nodes: [{ name: "n", type: "noop" }] }, EDIT, 201],
  ["GET", "/api/v1/workflows/:wf", undefined, READ, 200],
  ["PUT", "/api/v1/workflows/:wf", { name: "roles-wf", nodes: [{ name: "n", type: "shell", code: "sleep 1" }] }, EDIT, 200],
  ["POST", "/api/v1/workflows/:wf/clone", { name: "clone-by-$role" }, EDIT, 201],
  ["POST", "/api/v1/workflows/:wf/publish", {}, EDIT, 200],
  ["GET", "/api/v1/workflows/:wf/versions", undefined, READ, 200],
  ["GET", "/api/v1/workflows/:wf/versions/1", undefined, READ, 200],
  ["GET", "/api/v1/workflows/:wf/versions/1/compare/1", undefined, READ, 200],
  ["POST", "/api/v1/workflows/:wf/versions/1/revert", undefined, EDIT, 200],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "dev" }, EDIT, 201],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "prod" }, PROD, 201],
  ["DELETE", "/api/v1/workflows/:delwf_$role", undefined, EDIT, 204],
  ["GET", "/api/v1/instances", undefined, READ, 200],
  ["GET", "/api/v1/instances/:prodInstance", undefined, READ, 200],
  ["GET", "/api/v1/instances/:prodInstance/nodes/n/log", undefined, READ, 200],
  ["POST", "/api/v1/instances/:prodDone/rerun", { mode: "all" }, PROD, 200],
  ["POST", "/api/v1/instances/:devDone/rerun", { mode: "all" }, EDIT, 200],
  ["POST", "/api/v1/instances/:term_$role/terminate", undefined, EDIT, 200],
  ["GET", "/api/v1/runners", undefined, READ, 200],
  ["GET", "/api/v1/triggers", undefined, READ, 200],
  ["POST", "/api/v1/triggers", { name: "trg-by-$role", type: "queue", config: { queue: "user-behavior" } }, EDIT, 201],
  ["GET", "/api/v1/triggers/:trigger", undefined, READ, 200],
  ["PUT", "/api/v1/triggers/:trigger", { name: "roles-trg", type: "queue", config: { queue: "user-behavior" } }, EDIT, 200],
  ["POST", "/api/v1/triggers/:trigger/disable", undefined, EDIT, 200],
  ["POST", "/api/v1/triggers/:trigger/enable", undefined, EDIT, 200],
  ["POST", "/api/v1/triggers/:hook/rotate-secret", undefined, EDIT, 200],
  ["GET", "/api/v1/triggers/:trigger/events", undefined, READ, 200],
  ["POST", "/api/v1/triggers/:trigger/test", { message: { key: "k", value: "v" } }, READ, 200],
  ["DELETE", "/api/v1/triggers/:deltrg_$role", undefined, EDIT, 204],
  ["POST", "/api/v1/queues/user-behavior/messages", { key: "k", value: "v" }, PROD, 202],
  ["PUT", "/api/v1/buckets/uploads/objects/roles/$role.txt", "by $role", PROD, 201],
  ["DELETE", "/api/v1/buckets/uploads/objects/roles/$role.txt", undefined, PROD, 200],
  ["GET", "/api/v1/keys", undefined, ADMIN, 200],
  ["POST", "/api/v1/keys", { name: "by-$role", role: "viewer" }, ADMIN, 201],
  ["GET", "/api/v1/audit", undefined, ADMIN, 200],
  ["GET", "/api/v1/stats", undefined, ADMIN, 200],
  ["POST", "/api/v1/workspaces", { name: "by-$role" }, BOOTSTRAP_ONLY, 201],
  ["GET", "/api/v1/workspaces", undefined, BOOTSTRAP_ONLY, 200],
  ["GET", "/api/v1/workspaces/default/sources", undefined, BOOTSTRAP_ONLY, 200],
  ["PUT", "/api/v1/workspaces/default/sources", { buckets: ["uploads"], queues: ["user-behavior"] }, BOOTSTRAP_ONLY, 200],
  ["POST", "/api/v1/runner/register", { name: "r-$role", slots: 1 }, RUNNER, 201],
  ["POST", "/api/v1/runner/claim", { runnerId: "$runner", slots: 1, waitMs: 0 }, RUNNER, 200],
  ["POST", "/api/v1/runner/heartbeat", { runnerId: "$runner", slots: 4, leases: [] }, RUNNER, 200],
  ["POST", "/api/v1/runner/attempts/:attempt/log", "a line\n", RUNNER, 204, { "x-sluice-runner": "$runner", "x-sluice-lease": "$lease" }],
  ["POST", "/api/v1/runner/attempts/:attempt/complete", { exitCode: 0, signal: null, outputs: {}, error: null }, RUNNER, 200, { "x-sluice-runner": "$runner", "x-sluice-lease": "$lease" }],
  ["DELETE", "/api/v1/keys/:key", undefined, ADMIN, 204],
];

const fill = (text: string, role: Role) =>
  text
    .replaceAll("$role", role)
    .replaceAll("$runner", ids.runnerId ?? "")
    .replaceAll("$lease", ids.lease ?? "")
    .replace(/:(\w+)/g, (_, k: string) => ids[k] ?? `:${k}`);

describe("route × role", () => {
  for (const [method, path, body, allowed, status, headers = {}] of ROUTES) {
    for (const role of ROLES) {
      const verdict = allowed.includes(role) ? `answers ${status}` : "is forbidden (403)";
      it(`${method} ${path} ${JSON.stringify(body ?? "")} as ${role} ${verdict}`, async () => {
        const payload = body === undefined ? undefined : typeof body === "string" ? fill(body, role) : JSON.parse(fill(JSON.stringify(body), role));
        const extra = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fill(v, role)]));
        const res = await api(method, fill(path, role), payload, keys[role], extra);
        if (allowed.includes(role)) {
          expect(res.status, res.text).toBe(status);
        } else {
          expect(res.status, res.text).toBe(403);
          expect(res.json.error.code).toBe("forbidden");
        }
      });
    }
  }

  it("the bootstrap admin key reaches the bootstrap-only routes", async () => {
    expect((await api("GET", "/api/v1/workspaces")).status).toBe(200);
    expect((await api("GET", "/api/v1/workspaces/default/sources")).json).toEqual({ buckets: ["uploads"], queues: ["user-behavior"] });
  });
});

describe("workspaces", () => {
  it("keeps another workspace's objects out of reach (404) and out of listings", async () => {
    const created = await api("POST", "/api/v1/workspaces", { name: "other team" });
    expect(created.status).toBe(201);
    const other = created.json.adminKey as string;
    for (const path of [`/api/v1/workflows/${ids.wf}`, `/api/v1/instances/${ids.prodInstance}`, `/api/v1/triggers/${ids.trigger}`]) {
      expect((await api("GET", path, undefined, other)).status, path).toBe(404);
    }
    expect((await api("POST", `/api/v1/workflows/${ids.wf}/runs`, { env: "dev" }, other)).status).toBe(404);
    expect((await api("POST", `/api/v1/instances/${ids.devInstance}/terminate`, undefined, other)).status).toBe(404);
    expect((await api("GET", "/api/v1/workflows?limit=200", undefined, other)).json.items).toEqual([]);
    expect((await api("GET", "/api/v1/instances", undefined, other)).json.items).toEqual([]);
  });

  it("lets only the bootstrap admin create workspaces", async () => {
    expect((await api("POST", "/api/v1/workspaces", { name: "nope" }, keys.admin)).status).toBe(403);
  });

  it("records who changed what in the audit log", async () => {
    const wf = await createWorkflow({ name: "audited", nodes: [{ name: "n", type: "noop" }] });
    await api("POST", `/api/v1/workflows/${wf.id}/publish`, {}, keys.developer);
    const log = (await api("GET", "/api/v1/audit?limit=500")).json.items as { action: string; target: Record<string, string>; actorRole: string }[];
    expect(log).toContainEqual(expect.objectContaining({ action: "POST /api/v1/workflows/:id/publish", target: { id: wf.id }, actorRole: "developer" }));
    expect(log.some((e) => e.action === "POST /api/v1/workflows" && e.actorRole === "admin")).toBe(true);
  });
});
