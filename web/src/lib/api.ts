// A small typed client for the Sluice HTTP API (DESIGN §4): one fetch wrapper, one error type.

export type Env = "dev" | "prod";
export type Priority = 1 | 3 | 5 | 7 | 8;
export type InstanceStatus = "waiting" | "running" | "succeeded" | "failed" | "terminated";
export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "terminated";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  /** `null` until the draft is published for the first time. */
  publishedVersion: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface NodeDefinition {
  name: string;
  type: string;
  code: string;
  params: Record<string, unknown>;
  priority?: Priority;
  timeoutSeconds: number;
  retry?: { count: number; delaySeconds: number; backoff?: string };
}

export interface WorkflowDefinition {
  name: string;
  description: string;
  params: Record<string, unknown>;
  policy: {
    priority?: Priority;
    weighting?: "none" | "downward";
    maxParallel?: number | null;
    triggerId?: string | null;
    timezone?: string;
    resourceGroup?: string;
  };
  nodes: NodeDefinition[];
  edges: { from: string; to: string }[];
}

export interface Workflow extends WorkflowSummary {
  definition: WorkflowDefinition;
}

export interface RunRequest {
  env: Env;
  /** `yyyymmdd`; the server uses the time of the run when it is absent. */
  runDate?: string;
  triggerMessage?: unknown;
  priority?: Priority;
}

export interface InstanceSummary {
  id: string;
  workflowId: string;
  workflowName: string;
  /** The version that ran; `null` for a dev run of the draft. */
  version: number | null;
  env: Env;
  status: InstanceStatus;
  priority: number;
  runDate: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NodeRun {
  name: string;
  type: string;
  status: NodeStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
}

export interface Instance extends InstanceSummary {
  nodes: NodeRun[];
}

export interface InstanceFilter {
  workflowId?: string;
  status?: InstanceStatus;
  env?: Env;
}

export interface ErrorDetail {
  path?: string;
  message: string;
}

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
  method?: "GET" | "POST";
  query?: Query;
  body?: unknown;
  as?: "json" | "text";
}

const segment = encodeURIComponent;

export function createApi(options: ApiOptions) {
  const baseUrl = options.baseUrl ?? "";
  // Wrapped, not stored bare: a detached window.fetch throws "Illegal invocation" in browsers.
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function call<T>(path: string, { method = "GET", query, body, as = "json" }: Call = {}): Promise<T> {
    const headers = new Headers({ accept: as === "json" ? "application/json" : "text/plain" });
    const key = options.getKey();
    if (key) headers.set("authorization", `Bearer ${key}`);
    if (body !== undefined) headers.set("content-type", "application/json");

    let response: Response;
    try {
      response = await send(`${baseUrl}/api/v1${path}${queryString(query)}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError(0, "network", `The server could not be reached (${(cause as Error).message ?? cause}).`);
    }

    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) options.onUnauthorized?.();
      throw error;
    }
    if (as === "text") return (await response.text()) as T;
    try {
      return (await response.json()) as T;
    } catch {
      // Typically an HTML page where the API should be: a proxy, or a Worker without the /api route.
      throw new ApiError(response.status, "bad_response", `${method} ${path} did not answer with JSON.`);
    }
  }

  return {
    health: () => call<{ ok: boolean }>("/health"),

    listWorkflows: (page: { limit?: number; cursor?: string | null } = {}) =>
      call<Page<WorkflowSummary>>("/workflows", { query: page }),

    getWorkflow: (id: string) => call<Workflow>(`/workflows/${segment(id)}`),

    startRun: (workflowId: string, request: RunRequest) =>
      call<{ id: string; status: InstanceStatus }>(`/workflows/${segment(workflowId)}/runs`, {
        method: "POST",
        body: request,
      }),

    listInstances: (filter: InstanceFilter & { limit?: number; cursor?: string | null } = {}) =>
      call<Page<InstanceSummary>>("/instances", { query: { ...filter } }),

    getInstance: (id: string) => call<Instance>(`/instances/${segment(id)}`),

    /** The node's log as text: the latest attempt unless one is named. */
    getNodeLog: (instanceId: string, node: string, attempt?: number) =>
      call<string>(`/instances/${segment(instanceId)}/nodes/${segment(node)}/log`, {
        query: { attempt },
        as: "text",
      }),
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
