// The definitions API in the Workers runtime: auth, CRUD, validation errors, versions, clone.
import { describe, expect, it } from "vitest";
import { api, createWorkflow, shellNode, startRun } from "./helpers.ts";

const hello = (name = "hello") => ({
  name,
  nodes: [shellNode("greet", 'echo "Hello, Trigger Workflow! Current time is ${bizdate}"')],
});

describe("auth", () => {
  it("answers health without a key", async () => {
    const res = await api("GET", "/api/v1/health", undefined, null);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true });
  });

  it("refuses a missing key with 401 and the error shape", async () => {
    const res = await api("GET", "/api/v1/workflows", undefined, null);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe("unauthorized");
    expect(res.json.error.message).toMatch(/Bearer/);
  });

  it("refuses a wrong key with 401", async () => {
    const res = await api("GET", "/api/v1/workflows", undefined, "not-the-key");
    expect(res.status).toBe(401);
  });

  it("accepts a key created by an admin and refuses it once revoked", async () => {
    const created = await api("POST", "/api/v1/keys", { name: "ci", role: "viewer" });
    expect(created.status).toBe(201);
    expect((await api("GET", "/api/v1/workflows", undefined, created.json.key)).status).toBe(200);
    expect((await api("POST", "/api/v1/workflows", hello("by-viewer"), created.json.key)).status).toBe(403);
    expect((await api("DELETE", `/api/v1/keys/${created.json.id}`)).status).toBe(204);
    expect((await api("GET", "/api/v1/workflows", undefined, created.json.key)).status).toBe(401);
  });

  it("serves the OpenAPI 3.1 document", async () => {
    const res = await api("GET", "/api/v1/openapi.json", undefined, null);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe("3.1.0");
    expect(Object.keys(res.json.paths)).toEqual(expect.arrayContaining(["/api/v1/workflows", "/api/v1/workflows/{id}/runs", "/api/v1/instances/{id}"]));
  });

  it("documents every path of DESIGN §4, flow control and operations included, with its methods", async () => {
    const paths = (await api("GET", "/api/v1/openapi.json", undefined, null)).json.paths as Record<string, Record<string, unknown>>;
    const expected: [string, string][] = [
      ["/api/v1/workflows/{id}/versions/{a}/compare/{b}", "get"],
      ["/api/v1/instances/{id}/rerun", "post"],
      ["/api/v1/instances/bulk", "post"],
      ["/api/v1/triggers/{id}/events", "get"],
      ["/api/v1/triggers/{id}/events/{eventId}/replay", "post"],
      ["/api/v1/triggers/{id}/pause", "post"],
      ["/api/v1/triggers/{id}/resume", "post"],
      ["/api/v1/triggers/{id}/discard", "post"],
      ["/api/v1/workflows/{id}/alerts", "get"],
      ["/api/v1/workflows/{id}/alerts/test", "post"],
      ["/api/v1/workspaces/{id}/sources", "put"],
    ];
    const missing = expected.filter(([path, method]) => !paths[path]?.[method]).map(([path, method]) => `${method.toUpperCase()} ${path}`);
    expect(missing).toEqual([]);
  });
});

describe("workflow definitions", () => {
  it("creates, reads, lists, replaces and deletes a workflow", async () => {
    const created = await createWorkflow(hello("crud"));
    const read = await api("GET", `/api/v1/workflows/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.json.definition.policy).toMatchObject({ priority: 5, weighting: "none", maxParallel: null, timezone: "UTC" });
    expect(read.json.publishedVersion).toBeNull();

    const list = await api("GET", "/api/v1/workflows?limit=200");
    expect(list.json.items.map((w: { id: string }) => w.id)).toContain(created.id);

    const replaced = await api("PUT", `/api/v1/workflows/${created.id}`, { ...hello("crud-renamed"), description: "v2" });
    expect(replaced.status).toBe(200);
    expect(replaced.json.name).toBe("crud-renamed");

    expect((await api("DELETE", `/api/v1/workflows/${created.id}`)).status).toBe(204);
    expect((await api("GET", `/api/v1/workflows/${created.id}`)).status).toBe(404);
  });

  it("refuses a second workflow with the same name with 409", async () => {
    await createWorkflow(hello("twice"));
    const res = await api("POST", "/api/v1/workflows", hello("twice"));
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/twice/);
  });

  it("names the nodes of a cycle and saves nothing", async () => {
    const before = (await api("GET", "/api/v1/workflows?limit=200")).json.items.length;
    const res = await api("POST", "/api/v1/workflows", {
      name: "cyclic",
      nodes: ["a", "b", "c"].map((n) => shellNode(n, "true")),
      edges: [{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "a" }],
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("validation_failed");
    expect(res.json.error.message).toMatch(/cycle/);
    expect(res.json.error.message).toMatch(/a → b → c → a|b → c → a → b|c → a → b → c/);
    expect((await api("GET", "/api/v1/workflows?limit=200")).json.items.length).toBe(before);
  });

  it("names the 400-node limit for 401 nodes", async () => {
    const nodes = Array.from({ length: 401 }, (_, i) => ({ name: `n${i}`, type: "noop" }));
    const res = await api("POST", "/api/v1/workflows", { name: "too-big", nodes });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/400/);
  });

  it("names flink-sql-streaming as unsupported in a triggered workflow", async () => {
    const res = await api("POST", "/api/v1/workflows", { name: "streaming", nodes: [{ name: "s", type: "flink-sql-streaming" }] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json.error)).toMatch(/flink-sql-streaming/);
  });

  it("answers a malformed JSON body with a 400 error shape", async () => {
    const res = await api("POST", "/api/v1/workflows", "{not json");
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json.error.code).toBeTypeOf("string");
  });

  it("rejects an invalid update and keeps the previous draft", async () => {
    const created = await createWorkflow(hello("keep-draft"));
    const res = await api("PUT", `/api/v1/workflows/${created.id}`, { name: "keep-draft", nodes: [{ name: "x", type: "shell" }], edges: [{ from: "x", to: "ghost" }] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json.error)).toMatch(/ghost/);
    const read = await api("GET", `/api/v1/workflows/${created.id}`);
    expect(read.json.definition.nodes[0].name).toBe("greet");
  });
});

describe("canvas layout", () => {
  it("keeps node positions in the draft and refuses one for a node the workflow lacks", async () => {
    const wf = await createWorkflow(hello("laid-out"));
    const placed = { ...hello("laid-out"), ui: { positions: { greet: { x: 120, y: -40 } } } };
    expect((await api("PUT", `/api/v1/workflows/${wf.id}`, placed)).status).toBe(200);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).json.definition.ui).toEqual({ positions: { greet: { x: 120, y: -40 } } });

    const stray = await api("PUT", `/api/v1/workflows/${wf.id}`, { ...placed, ui: { positions: { gone: { x: 0, y: 0 } } } });
    expect(stray.status).toBe(400);
    expect(stray.json.error.details).toEqual([expect.objectContaining({ path: "ui.positions.gone" })]);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).json.definition.ui.positions).toHaveProperty("greet");
  });

  it("compares two versions that differ only in layout as identical, with the layout change said", async () => {
    const wf = await createWorkflow({ ...hello("moved"), ui: { positions: { greet: { x: 0, y: 0 } } } });
    await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
    await api("PUT", `/api/v1/workflows/${wf.id}`, { ...hello("moved"), ui: { positions: { greet: { x: 300, y: 0 } } } });
    await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
    const diff = await api("GET", `/api/v1/workflows/${wf.id}/versions/1/compare/2`);
    expect(diff.json.summary).toMatchObject({ identical: true, layoutChanged: true });
    expect(diff.json.fields).toEqual([]);
  });
});

describe("workflow list", () => {
  type Item = { id: string; triggerId: string | null; lastRun: { id: string; status: string; env: string; createdAt: string } | null };
  const listed = async (key?: string) => {
    const res = await api("GET", "/api/v1/workflows?limit=200", undefined, key);
    expect(res.status).toBe(200);
    return new Map((res.json.items as Item[]).map((w) => [w.id, w]));
  };
  const trigger = async (name: string, key?: string) => (await api("POST", "/api/v1/triggers", { name, type: "webhook" }, key)).json.id as string;
  const noop = (name: string, triggerId: string | null = null) => ({ name, policy: { triggerId }, nodes: [{ name: "n", type: "noop" }] });
  /** The instances API's newest, which the list's lastRun must match; D1 is written by the coordinator's outbox. */
  async function newestRun(workflowId: string, runs: number, key?: string) {
    for (;;) {
      const items = (await api("GET", `/api/v1/instances?workflowId=${workflowId}&limit=200`, undefined, key)).json.items;
      if (items.length === runs) return items[0] as { id: string; status: string; env: string; createdAt: string };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("gives each workflow its trigger (published, else draft) and its last run", async () => {
    const [first, second] = [await trigger("list-first"), await trigger("list-second")];
    const draftOnly = await createWorkflow(noop("list-draft-only", first));
    const published = await createWorkflow(noop("list-published", first));
    expect((await api("POST", `/api/v1/workflows/${published.id}/publish`, {})).status).toBe(200);
    // The draft moves on to another trigger; events still start the published version with the first.
    expect((await api("PUT", `/api/v1/workflows/${published.id}`, noop("list-published", second))).status).toBe(200);
    const idle = await createWorkflow(noop("list-idle"));

    await startRun(draftOnly.id, { env: "dev" });
    await startRun(draftOnly.id, { env: "dev" });
    await startRun(published.id, { env: "prod" });
    const [newestDraft, newestProd] = [await newestRun(draftOnly.id, 2), await newestRun(published.id, 1)];

    const items = await listed();
    expect(items.get(draftOnly.id)).toMatchObject({ triggerId: first, lastRun: { id: newestDraft.id, env: "dev", createdAt: newestDraft.createdAt } });
    expect(items.get(published.id)).toMatchObject({ triggerId: first, lastRun: { id: newestProd.id, env: "prod" } });
    expect(items.get(published.id)!.lastRun!.status).toBe((await api("GET", `/api/v1/instances/${newestProd.id}`)).json.status);
    expect(items.get(idle.id)).toMatchObject({ triggerId: null, lastRun: null });
  });

  it("keeps another workspace's workflows and runs out of the list", async () => {
    const other = (await api("POST", "/api/v1/workspaces", { name: "list team" })).json.adminKey as string;
    const ours = await createWorkflow(noop("list-shared-name"));
    const theirsRes = await api("POST", "/api/v1/workflows", noop("list-shared-name", await trigger("their-hook", other)), other);
    expect(theirsRes.status).toBe(201);
    const theirs = theirsRes.json.id as string;
    expect((await api("POST", `/api/v1/workflows/${theirs}/runs`, { env: "dev" }, other)).status).toBe(201);
    const theirRun = await newestRun(theirs, 1, other);

    const mine = await listed();
    expect(mine.has(theirs)).toBe(false);
    expect(mine.get(ours.id)).toMatchObject({ triggerId: null, lastRun: null });
    const their = await listed(other);
    expect([...their.keys()]).toEqual([theirs]);
    expect(their.get(theirs)!.lastRun!.id).toBe(theirRun.id);
  });

  it("pages with a cursor without repeating or skipping a workflow", async () => {
    const made = [];
    for (const n of [1, 2, 3]) made.push((await createWorkflow(noop(`list-page-${n}`))).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Item[]; nextCursor: string | null } = (await api("GET", `/api/v1/workflows?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).json;
      seen.push(...page.items.map((w) => w.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(made));
  });
});

describe("versions", () => {
  it("publishes numbered versions, lists, compares, reverts and clones", async () => {
    const wf = await createWorkflow(hello("versioned"));
    expect((await api("POST", `/api/v1/workflows/${wf.id}/publish`, { message: "first" })).json).toEqual({ version: 1 });

    const v2 = { name: "versioned", params: { target: "t" }, nodes: [shellNode("greet", "echo second"), { name: "end", type: "noop" }], edges: [{ from: "greet", to: "end" }] };
    expect((await api("PUT", `/api/v1/workflows/${wf.id}`, v2)).status).toBe(200);
    expect((await api("POST", `/api/v1/workflows/${wf.id}/publish`, {})).json).toEqual({ version: 2 });

    const versions = await api("GET", `/api/v1/workflows/${wf.id}/versions`);
    expect(versions.json.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.json.items[1].message).toBe("first");

    const diff = await api("GET", `/api/v1/workflows/${wf.id}/versions/1/compare/2`);
    expect(diff.status).toBe(200);
    expect(JSON.stringify(diff.json)).toMatch(/end/);
    expect(JSON.stringify(diff.json)).toMatch(/echo second/);

    const reverted = await api("POST", `/api/v1/workflows/${wf.id}/versions/1/revert`);
    expect(reverted.status).toBe(200);
    expect(reverted.json.definition.nodes.map((n: { name: string }) => n.name)).toEqual(["greet"]);
    expect(reverted.json.publishedVersion).toBe(2);
    expect((await api("POST", `/api/v1/workflows/${wf.id}/publish`, {})).json).toEqual({ version: 3 });

    const clone = await api("POST", `/api/v1/workflows/${wf.id}/clone`, { name: "versioned-copy" });
    expect(clone.status).toBe(201);
    expect(clone.json.publishedVersion).toBeNull();
    expect(clone.json.definition.nodes).toEqual(reverted.json.definition.nodes);
  });

  it("answers 404 for a version that does not exist", async () => {
    const wf = await createWorkflow(hello("no-versions"));
    expect((await api("GET", `/api/v1/workflows/${wf.id}/versions/7`)).status).toBe(404);
  });
});

describe("response headers", () => {
  it("marks API answers as not sniffable, not framable and not cacheable", async () => {
    const { SELF } = await import("cloudflare:test");
    const res = await SELF.fetch("http://sluice.test/api/v1/workflows", { headers: { authorization: "Bearer test-admin-key" } });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});
