// The console's calls to the Sluice HTTP API (DESIGN §4), by name, over the typed client generated from the
// OpenAPI document (api/client.ts, api/schema.d.ts): paths, bodies and answers are checked against the server's.
import { ApiError, createSluiceClient, data } from "./api/client.ts";
import type { BulkAction, BulkFilter, InstanceFilter, Page, RunRequest, Trigger, TriggerInput, Workflow, WorkflowDefinition, WorkflowVersion } from "./api/types.ts";

export { ApiError };
export type * from "./api/types.ts";

export interface ApiOptions {
  /** The server's origin; empty when the console is served by the Worker itself. */
  baseUrl?: string;
  /** The API key to send, read on every call so signing in or out takes effect at once. */
  getKey: () => string | null;
  /** Told about every 401, before the ApiError is thrown. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

const JSON_ACCEPT = { accept: "application/json" };

/** An object key keeps its `/` between segments (the server reads the rest of the path as the key). */
const keyPath = (key: string) => key.split("/").map(encodeURIComponent).join("/");

export function createApi(options: ApiOptions) {
  const client = createSluiceClient({
    baseUrl: options.baseUrl ?? "",
    key: options.getKey,
    // Runs started here are "manual" runs (DESIGN §2.7), not API runs.
    headers: { "x-sluice-client": "console", ...JSON_ACCEPT },
    onUnauthorized: options.onUnauthorized,
    fetch: options.fetch,
  });
  const { GET, POST, PUT, DELETE } = client;
  const id = (value: string) => ({ path: { id: value } });
  // A definition as the server answers it: its defaults are filled in (api/types.ts).
  const asWorkflow = (workflow: Promise<unknown>) => workflow as Promise<Workflow>;

  return {
    // Workflows (DESIGN §2.8)
    listWorkflows: (page: { limit?: number; cursor?: string | null } = {}) => data(GET("/api/v1/workflows", { params: { query: { ...page, cursor: page.cursor ?? undefined } } })),
    getWorkflow: (wf: string) => asWorkflow(data(GET("/api/v1/workflows/{id}", { params: id(wf) }))),
    createWorkflow: (definition: WorkflowDefinition) => asWorkflow(data(POST("/api/v1/workflows", { body: definition }))),
    saveDraft: (wf: string, definition: WorkflowDefinition) => asWorkflow(data(PUT("/api/v1/workflows/{id}", { params: id(wf), body: definition }))),
    deleteWorkflow: async (wf: string) => void (await DELETE("/api/v1/workflows/{id}", { params: id(wf) })),
    cloneWorkflow: (wf: string, name: string) => asWorkflow(data(POST("/api/v1/workflows/{id}/clone", { params: id(wf), body: { name } }))),

    // Versions
    publish: (wf: string, message?: string) => data(POST("/api/v1/workflows/{id}/publish", { params: id(wf), body: message ? { message } : {} })),
    listVersions: (wf: string) => data(GET("/api/v1/workflows/{id}/versions", { params: id(wf) })),
    getVersion: (wf: string, n: number) =>
      data(GET("/api/v1/workflows/{id}/versions/{n}", { params: { path: { id: wf, n } } })) as Promise<WorkflowVersion>,
    compareVersions: (wf: string, a: number, b: number) => data(GET("/api/v1/workflows/{id}/versions/{a}/compare/{b}", { params: { path: { id: wf, a, b } } })),
    revert: (wf: string, n: number) => asWorkflow(data(POST("/api/v1/workflows/{id}/versions/{n}/revert", { params: { path: { id: wf, n } }, body: {} as never }))),

    // Alerts (DESIGN §2.10)
    listAlerts: (wf: string, cursor?: string | null) => data(GET("/api/v1/workflows/{id}/alerts", { params: { ...id(wf), query: { cursor: cursor ?? undefined } } })),
    /** A sample alert to `url`, or to every configured alert URL. */
    testAlert: (wf: string, url?: string) => data(POST("/api/v1/workflows/{id}/alerts/test", { params: id(wf), body: url ? { url } : {} })),
    alertSecret: (wf: string) => data(GET("/api/v1/workflows/{id}/alerts/secret", { params: id(wf) })),

    // Runs and instances
    startRun: (wf: string, request: RunRequest) => data(POST("/api/v1/workflows/{id}/runs", { params: id(wf), body: request })),
    listInstances: (filter: InstanceFilter & { limit?: number; cursor?: string | null } = {}) =>
      data(GET("/api/v1/instances", { params: { query: { ...filter, cursor: filter.cursor ?? undefined } } })),
    getInstance: (instance: string) => data(GET("/api/v1/instances/{id}", { params: id(instance) })),
    /** The node's log as text: the latest attempt unless one is named. */
    getNodeLog: async (instance: string, node: string, attempt?: number) =>
      (await data(
        GET("/api/v1/instances/{id}/nodes/{name}/log", {
          params: { path: { id: instance, name: node }, query: { attempt }, header: {} },
          headers: { accept: "text/plain" },
          parseAs: "text",
        }),
      )) as string,
    terminate: (instance: string) => data(POST("/api/v1/instances/{id}/terminate", { params: id(instance) })),
    rerun: (instance: string, mode: "all" | "failed") => data(POST("/api/v1/instances/{id}/rerun", { params: id(instance), body: { mode } })),
    /** The node and everything downstream of it again; upstream outputs are reused (DESIGN §2.10). */
    rerunFrom: (instance: string, node: string) => data(POST("/api/v1/instances/{id}/rerun", { params: id(instance), body: { mode: "from", node } })),
    /** One action over every instance the filter matches; `dryRun` only counts them. */
    bulk: (action: BulkAction, filter: BulkFilter, dryRun: boolean) => data(POST("/api/v1/instances/bulk", { body: { action, filter, dryRun } })),

    // Triggers (DESIGN §2.7)
    listTriggers: () => data(GET("/api/v1/triggers", { params: { query: { limit: 200 } } })) as Promise<Page<Trigger>>,
    getTrigger: (trigger: string) => data(GET("/api/v1/triggers/{id}", { params: id(trigger) })) as Promise<Trigger>,
    createTrigger: (trigger: TriggerInput) => data(POST("/api/v1/triggers", { body: trigger })) as Promise<Trigger>,
    updateTrigger: (trigger: string, input: TriggerInput) => data(PUT("/api/v1/triggers/{id}", { params: id(trigger), body: input })) as Promise<Trigger>,
    deleteTrigger: async (trigger: string) => void (await DELETE("/api/v1/triggers/{id}", { params: id(trigger) })),
    setTriggerEnabled: (trigger: string, enabled: boolean) =>
      data(POST(enabled ? "/api/v1/triggers/{id}/enable" : "/api/v1/triggers/{id}/disable", { params: id(trigger) })) as Promise<Trigger>,
    rotateSecret: (trigger: string) => data(POST("/api/v1/triggers/{id}/rotate-secret", { params: id(trigger) })),
    listTriggerEvents: (trigger: string, page: { limit?: number; cursor?: string | null; outcome?: string } = {}) =>
      data(GET("/api/v1/triggers/{id}/events", { params: { ...id(trigger), query: { ...page, cursor: page.cursor ?? undefined } as never } })),
    replayEvent: (trigger: string, eventId: string) =>
      data(POST("/api/v1/triggers/{id}/events/{eventId}/replay", { params: { path: { id: trigger, eventId } }, body: {} as never })),
    pauseTrigger: (trigger: string) => data(POST("/api/v1/triggers/{id}/pause", { params: id(trigger), body: {} as never })) as Promise<Trigger>,
    resumeTrigger: (trigger: string) => data(POST("/api/v1/triggers/{id}/resume", { params: id(trigger), body: {} as never })),
    /** `remaining`: kept events the request had no time for; discard again. */
    discardKept: (trigger: string) => data(POST("/api/v1/triggers/{id}/discard", { params: id(trigger), body: {} as never })),
    testTrigger: (trigger: string, message: unknown, messageId?: string) =>
      data(POST("/api/v1/triggers/{id}/test", { params: id(trigger), body: messageId ? { message, messageId } : { message } })),

    // Local producers: an upload to a bucket, a message to a queue
    uploadObject: (bucket: string, key: string, body: Blob | string, type: string) =>
      data(
        PUT("/api/v1/buckets/{bucket}/objects/{key}", {
          params: { path: { bucket, key } },
          pathSerializer: (path) => path.replace("{bucket}", encodeURIComponent(bucket)).replace("{key}", keyPath(key)),
          body: body as never,
          bodySerializer: ((raw: Blob | string) => raw) as never,
          headers: { "content-type": type || "application/octet-stream" },
        }),
      ),
    sendMessage: (queue: string, message: { key?: string | null; value: unknown; headers?: Record<string, string> }) =>
      data(POST("/api/v1/queues/{queue}/messages", { params: { path: { queue } }, body: message })),

    // Runners of a resource group
    listRunners: (resourceGroup = "default") => data(GET("/api/v1/runners", { params: { query: { resourceGroup } } })),
    stats: () => data(GET("/api/v1/stats")),
  };
}

export type Api = ReturnType<typeof createApi>;
