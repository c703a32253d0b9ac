// Roles and workspace isolation across every route: route × role → allowed or 403; another workspace's objects → 404.
import { beforeAll, describe, expect, it } from "vitest";
import { api, createWorkflow, shellNode, startRun } from "./helpers.ts";

type Role = "admin" | "developer" | "operator" | "viewer" | "runner";
const ROLES: Role[] = ["admin", "developer", "operator", "viewer", "runner"];
const keys: Record<Role, string> = {} as Record<Role, string>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  for (const role of ROLES) keys[role] = (await api("POST", "/api/v1/keys", { name: `role-${role}`, role })).json.key;
  const wf = await createWorkflow({ name: "roles-wf", nodes: [shellNode("n", "sleep 1")] });
  await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
  ids.wf = wf.id;
  ids.prodInstance = await startRun(wf.id, { env: "prod" });
  ids.devInstance = await startRun(wf.id, { env: "dev" });
  ids.trigger = (await api("POST", "/api/v1/triggers", { name: "roles-trg", type: "queue", config: { queue: "user-behavior" } })).json.id;
  ids.key = (await api("POST", "/api/v1/keys", { name: "to-revoke", role: "viewer" })).json.id;
});

const READ: Role[] = ["admin", "developer", "operator", "viewer"];
const EDIT: Role[] = ["admin", "developer"];
const PROD: Role[] = ["admin", "operator"];
const ADMIN: Role[] = ["admin"];
const RUNNER: Role[] = ["runner"];

/** Every route of the API with the roles allowed to call it. Path placeholders are filled from `ids`. */
const ROUTES: [string, string, unknown, Role[]][] = [
  ["GET", "/api/v1/workflows", undefined, READ],
  ["POST", "/api/v1/workflows", { name: "by-$role", nodes: [{ name: "n", type: "noop" }] }, EDIT],
  ["GET", "/api/v1/workflows/:wf", undefined, READ],
  ["PUT", "/api/v1/workflows/:wf", { name: "roles-wf", nodes: [{ name: "n", type: "shell", code: "sleep 1" }] }, EDIT],
  ["POST", "/api/v1/workflows/:wf/clone", { name: "clone-by-$role" }, EDIT],
  ["POST", "/api/v1/workflows/:wf/publish", {}, EDIT],
  ["GET", "/api/v1/workflows/:wf/versions", undefined, READ],
  ["GET", "/api/v1/workflows/:wf/versions/1", undefined, READ],
  ["GET", "/api/v1/workflows/:wf/versions/1/compare/1", undefined, READ],
  ["POST", "/api/v1/workflows/:wf/versions/1/revert", undefined, EDIT],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "dev" }, EDIT],
  ["POST", "/api/v1/workflows/:wf/runs", { env: "prod" }, PROD],
  ["GET", "/api/v1/instances", undefined, READ],
  ["GET", "/api/v1/instances/:prodInstance", undefined, READ],
  ["GET", "/api/v1/instances/:prodInstance/nodes/n/log", undefined, READ],
  ["POST", "/api/v1/instances/:prodInstance/rerun", { mode: "all" }, PROD],
  ["POST", "/api/v1/instances/:devInstance/rerun", { mode: "all" }, EDIT],
  ["GET", "/api/v1/runners", undefined, READ],
  ["GET", "/api/v1/triggers", undefined, READ],
  ["POST", "/api/v1/triggers", { name: "trg-by-$role", type: "queue", config: { queue: "user-behavior" } }, EDIT],
  ["GET", "/api/v1/triggers/:trigger", undefined, READ],
  ["PUT", "/api/v1/triggers/:trigger", { name: "roles-trg", type: "queue", config: { queue: "user-behavior" } }, EDIT],
  ["GET", "/api/v1/triggers/:trigger/events", undefined, READ],
  ["POST", "/api/v1/triggers/:trigger/test", { message: { key: "k", value: "v" } }, READ],
  ["POST", "/api/v1/queues/user-behavior/messages", { key: "k", value: "v" }, PROD],
  ["GET", "/api/v1/keys", undefined, ADMIN],
  ["POST", "/api/v1/keys", { name: "by-$role", role: "viewer" }, ADMIN],
  ["GET", "/api/v1/audit", undefined, ADMIN],
  ["POST", "/api/v1/runner/claim", { runnerId: "r-$role", slots: 1, waitMs: 0 }, RUNNER],
  ["POST", "/api/v1/runner/heartbeat", { runnerId: "r-$role", slots: 1, attempts: [] }, RUNNER],
  ["POST", "/api/v1/instances/:devInstance/terminate", undefined, EDIT],
  ["DELETE", "/api/v1/keys/:key", undefined, ADMIN],
];

const fill = (text: string, role: Role) => text.replace(/:(\w+)/g, (_, k: string) => ids[k] ?? `:${k}`).replaceAll("$role", role);

describe("route × role", () => {
  for (const [method, path, body, allowed] of ROUTES) {
    for (const role of ROLES) {
      const verdict = allowed.includes(role) ? "allowed" : "denied";
      it(`${method} ${path} ${JSON.stringify(body ?? "")} as ${role}: ${verdict}`, async () => {
        const payload = body === undefined ? undefined : JSON.parse(fill(JSON.stringify(body), role));
        const res = await api(method, fill(path, role), payload, keys[role]);
        if (verdict === "denied") {
          expect(res.status, res.text).toBe(403);
          expect(res.json.error.code).toBe("forbidden");
        } else {
          expect([401, 403], res.text).not.toContain(res.status);
          expect(res.status, res.text).toBeLessThan(500);
        }
      });
    }
  }
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
