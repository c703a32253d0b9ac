// A small typed client for the Sluice HTTP API (DESIGN §4): one fetch wrapper, one error type.

import type {
  AlertDelivery,
  BulkAction,
  BulkFilter,
  BulkResult,
  Comparison,
  Env,
  ErrorDetail,
  Instance,
  InstanceFilter,
  InstanceStatus,
  InstanceSummary,
  Page,
  ReplayResult,
  ResumeResult,
  Runner,
  RunRequest,
  Stats,
  Trigger,
  TriggerEvent,
  TriggerInput,
  TriggerTestResult,
  VersionSummary,
  Workflow,
  WorkflowDefinition,
  WorkflowListItem,
  WorkflowVersion,
} from "./api-types.ts";

export type * from "./api-types.ts";

/** What the server said went wrong, as `{ error: { code, message, details } }`; status 0 means no response. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiOptions {
  /** Prefix of every path; empty when the console is served by the Worker itself. */
  baseUrl?: string;
  /** The API key to send, read on every call so signing in or out takes effect at once. */
  getKey: () => string | null;
  /** Told about every 401, before the ApiError is thrown. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | null | undefined>;

interface Call {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  query?: Query;
  body?: unknown;
  /** Sent as it is (an upload), with this content type; `body` is then ignored. */
  raw?: { data: Blob | string; type: string };
  as?: "json" | "text" | "none";
}

const segment = encodeURIComponent;

export function createApi(options: ApiOptions) {
  const baseUrl = options.baseUrl ?? "";
  // Wrapped, not stored bare: a detached window.fetch throws "Illegal invocation" in browsers.
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function call<T>(path: string, { method = "GET", query, body, raw, as = "json" }: Call = {}): Promise<T> {
    const headers = new Headers({ accept: as === "text" ? "text/plain" : "application/json" });
    const key = options.getKey();
    if (key) headers.set("authorization", `Bearer ${key}`);
    // Runs started here are "manual" runs (DESIGN §2.7), not API runs.
    headers.set("x-sluice-client", "console");
    if (raw) headers.set("content-type", raw.type || "application/octet-stream");
    else if (body !== undefined) headers.set("content-type", "application/json");

    let response: Response;
    try {
      response = await send(`${baseUrl}/api/v1${path}${queryString(query)}`, {
        method,
        headers,
        body: raw ? raw.data : body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError(0, "network", `The server could not be reached (${(cause as Error).message ?? cause}).`);
    }

    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) options.onUnauthorized?.();
      throw error;
    }
    if (as === "none" || response.status === 204) return undefined as T;
    if (as === "text") return (await response.text()) as T;
    try {
      return (await response.json()) as T;
    } catch {
      // Typically an HTML page where the API should be: a proxy, or a Worker without the /api route.
      throw new ApiError(response.status, "bad_response", `${method} ${path} did not answer with JSON.`);
    }
  }

  const post = <T>(path: string, body: unknown = {}) => call<T>(path, { method: "POST", body });
  const wf = (id: string) => `/workflows/${segment(id)}`;

  return {
    health: () => call<{ ok: boolean }>("/health"),

    // Workflows (DESIGN §2.8)
    listWorkflows: (page: { limit?: number; cursor?: string | null } = {}) =>
      call<Page<WorkflowListItem>>("/workflows", { query: page }),
    getWorkflow: (id: string) => call<Workflow>(wf(id)),
    createWorkflow: (definition: WorkflowDefinition) => post<Workflow>("/workflows", definition),
    saveDraft: (id: string, definition: WorkflowDefinition) => call<Workflow>(wf(id), { method: "PUT", body: definition }),
    deleteWorkflow: (id: string) => call<void>(wf(id), { method: "DELETE", as: "none" }),
    cloneWorkflow: (id: string, name: string) => post<Workflow>(`${wf(id)}/clone`, { name }),

    // Versions
    publish: (id: string, message?: string) => post<{ version: number }>(`${wf(id)}/publish`, message ? { message } : {}),
    listVersions: (id: string) => call<{ items: VersionSummary[] }>(`${wf(id)}/versions`),
    getVersion: (id: string, version: number) => call<WorkflowVersion>(`${wf(id)}/versions/${version}`),
    compareVersions: (id: string, from: number, to: number) =>
      call<Comparison>(`${wf(id)}/versions/${from}/compare/${to}`),
    revert: (id: string, version: number) => post<Workflow>(`${wf(id)}/versions/${version}/revert`),

    // Alerts (DESIGN §2.10)
    listAlerts: (id: string, cursor?: string | null) => call<Page<AlertDelivery>>(`${wf(id)}/alerts`, { query: { cursor } }),
    /** A sample alert to `url`, or to every configured alert URL. */
    testAlert: (id: string, url?: string) => post<{ items: AlertDelivery[] }>(`${wf(id)}/alerts/test`, url ? { url } : {}),
    alertSecret: (id: string) => call<{ secret: string }>(`${wf(id)}/alerts/secret`),

    // Runs and instances
    startRun: (workflowId: string, request: RunRequest) =>
      call<{ id: string; status: InstanceStatus }>(`${wf(workflowId)}/runs`, { method: "POST", body: request }),
    listInstances: (filter: InstanceFilter & { limit?: number; cursor?: string | null } = {}) =>
      call<Page<InstanceSummary>>("/instances", { query: { ...filter } }),
    getInstance: (id: string) => call<Instance>(`/instances/${segment(id)}`),
    /** The node's log as text: the latest attempt unless one is named. */
    getNodeLog: (instanceId: string, node: string, attempt?: number) =>
      call<string>(`/instances/${segment(instanceId)}/nodes/${segment(node)}/log`, { query: { attempt }, as: "text" }),
    terminate: (instanceId: string) =>
      post<{ id: string; status: InstanceStatus }>(`/instances/${segment(instanceId)}/terminate`),
    rerun: (instanceId: string, mode: "all" | "failed") =>
      post<{ id: string; status: InstanceStatus }>(`/instances/${segment(instanceId)}/rerun`, { mode }),
    /** The node and everything downstream of it again; upstream outputs are reused (DESIGN §2.10). */
    rerunFrom: (instanceId: string, node: string) =>
      post<{ id: string; status: InstanceStatus }>(`/instances/${segment(instanceId)}/rerun`, { mode: "from", node }),
    /** One action over every instance the filter matches; `dryRun` only counts them. */
    bulk: (action: BulkAction, filter: BulkFilter, dryRun: boolean) => post<BulkResult>("/instances/bulk", { action, filter, dryRun }),

    // Triggers (DESIGN §2.7)
    listTriggers: () => call<Page<Trigger>>("/triggers", { query: { limit: 200 } }),
    getTrigger: (id: string) => call<Trigger>(`/triggers/${segment(id)}`),
    createTrigger: (trigger: TriggerInput) => post<Trigger>("/triggers", trigger),
    updateTrigger: (id: string, trigger: TriggerInput) => call<Trigger>(`/triggers/${segment(id)}`, { method: "PUT", body: trigger }),
    deleteTrigger: (id: string) => call<void>(`/triggers/${segment(id)}`, { method: "DELETE", as: "none" }),
    setTriggerEnabled: (id: string, enabled: boolean) => post<Trigger>(`/triggers/${segment(id)}/${enabled ? "enable" : "disable"}`),
    rotateSecret: (id: string) => post<{ secret: string; previousSecretValidUntil: string }>(`/triggers/${segment(id)}/rotate-secret`),
    listTriggerEvents: (id: string, page: { limit?: number; cursor?: string | null; outcome?: string } = {}) =>
      call<Page<TriggerEvent>>(`/triggers/${segment(id)}/events`, { query: page }),
    replayEvent: (id: string, eventId: string) => post<ReplayResult>(`/triggers/${segment(id)}/events/${segment(eventId)}/replay`),
    pauseTrigger: (id: string) => post<Trigger>(`/triggers/${segment(id)}/pause`),
    resumeTrigger: (id: string) => post<ResumeResult>(`/triggers/${segment(id)}/resume`),
    /** `remaining`: kept events the request had no time for; discard again. */
    discardKept: (id: string) => post<{ discarded: number; remaining?: number }>(`/triggers/${segment(id)}/discard`),
    testTrigger: (id: string, message: unknown, messageId?: string) =>
      post<TriggerTestResult>(`/triggers/${segment(id)}/test`, messageId ? { message, messageId } : { message }),

    // Local producers: an upload to a bucket, a message to a queue
    uploadObject: (bucket: string, key: string, data: Blob | string, type: string) =>
      call<{ bucket: string; key: string; size: number; eTag: string; notification: "sent" | "by-r2" }>(
        `/buckets/${segment(bucket)}/objects/${key.split("/").map(segment).join("/")}`,
        { method: "PUT", raw: { data, type } },
      ),
    sendMessage: (queue: string, message: { key?: string | null; value: unknown; headers?: Record<string, string> }) =>
      post<{ queue: string; accepted: true }>(`/queues/${segment(queue)}/messages`, message),

    // Runners of a resource group
    listRunners: (resourceGroup = "default") => call<{ items: Runner[] }>("/runners", { query: { resourceGroup } }),
    stats: () => call<Stats>("/stats"),
  };
}

export type Api = ReturnType<typeof createApi>;

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (error && typeof error.message === "string") {
      return new ApiError(
        response.status,
        typeof error.code === "string" ? error.code : `http_${response.status}`,
        error.message,
        Array.isArray(error.details) ? (error.details as ErrorDetail[]) : [],
      );
    }
  } catch {
    // Not our JSON error body (a proxy's HTML page, say): fall through to the status line.
  }
  const summary = text.trim().slice(0, 200);
  const message = `${response.status} ${response.statusText || "error"}`.trim();
  return new ApiError(response.status, `http_${response.status}`, summary && !summary.startsWith("<") ? `${message}: ${summary}` : message);
}
