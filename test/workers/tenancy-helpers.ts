// Helpers for the tenancy tests: a second workspace with its own keys, and snapshots of the first's state.
import { env, runInDurableObject } from "cloudflare:test";
import { api } from "./helpers.ts";

export interface OtherWorkspace {
  id: string;
  admin: string;
  runnerToken: (group: string) => Promise<string>;
}

/** A new workspace (by the bootstrap admin) with its admin key; runner tokens are made with that key. */
export async function otherWorkspace(name: string): Promise<OtherWorkspace> {
  const created = await api("POST", "/api/v1/workspaces", { name });
  if (created.status !== 201) throw new Error(`workspace: ${created.status} ${created.text}`);
  const admin = created.json.adminKey as string;
  return {
    id: created.json.id as string,
    admin,
    runnerToken: async (group) => {
      const res = await api("POST", "/api/v1/keys", { name: `runner-${group}`, role: "runner", resourceGroup: group }, admin);
      if (res.status !== 201) throw new Error(`runner token: ${res.status} ${res.text}`);
      return res.json.key as string;
    },
  };
}

/** Everything the pool of a group (by its object name) holds: tasks with their lease state, and registered runners. */
export function poolState(name: string) {
  return runInDurableObject(env.POOL.get(env.POOL.idFromName(name)), (_, state) => ({
    tasks: state.storage.sql.exec(`SELECT attempt_id, workspace_id, state, runner_id, log_bytes FROM tasks ORDER BY attempt_id`).toArray(),
    finished: state.storage.sql.exec(`SELECT attempt_id FROM finished ORDER BY attempt_id`).toArray(),
    runners: state.storage.sql.exec(`SELECT id, key_id, name, slots FROM runners ORDER BY id`).toArray(),
  }));
}

/** What the default workspace's objects look like through the API (by the bootstrap admin): any change shows here. */
export async function workspaceSnapshot(ids: { wf: string; trigger: string; hook: string }, group: string) {
  const read = async (path: string) => {
    const res = await api("GET", path);
    return { status: res.status, body: res.json ?? res.text };
  };
  return {
    workflow: await read(`/api/v1/workflows/${ids.wf}`),
    versions: await read(`/api/v1/workflows/${ids.wf}/versions`),
    instances: await read(`/api/v1/instances?workflowId=${ids.wf}&limit=200`),
    trigger: await read(`/api/v1/triggers/${ids.trigger}`),
    hook: await read(`/api/v1/triggers/${ids.hook}`),
    events: await read(`/api/v1/triggers/${ids.trigger}/events?limit=200`),
    keys: await read(`/api/v1/keys`),
    // Without `connected`: it says whether the last heartbeat is recent, which time alone changes.
    runners: ((await api("GET", `/api/v1/runners?resourceGroup=${group}`)).json.items as Record<string, unknown>[]).map(({ connected: _, ...r }) => r),
    sources: await read(`/api/v1/workspaces/default/sources`),
    hookSecret: (await env.DB.prepare(`SELECT secret FROM triggers WHERE id = ?`).bind(ids.hook).first<{ secret: string }>())?.secret,
    object: (await env.UPLOADS.head("tenancy/probe.txt"))?.etag ?? null,
  };
}
