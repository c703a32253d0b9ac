// The one typed client of the Sluice API, for the console and the CLI: openapi-fetch over the types generated
// from the OpenAPI document (schema.d.ts, `npm run api:generate`). Every failure is thrown as an ApiError with the
// API's own code and message, so callers only handle data. Nothing here touches a browser global at import time.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, paths };
export type ErrorDetail = components["schemas"]["Error"]["error"]["details"][number];

/** What the server said went wrong, as `{ error: { code, message, details } }`; status 0 means no response. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ClientOptions {
  /** The server's origin, e.g. `https://sluice.example.com`; left out in a page the Worker serves (the page's origin). */
  baseUrl?: string;
  /** The API key, read on every call so signing in or out takes effect at once. */
  key?: string | null | (() => string | null);
  /** Sent with every request, e.g. `x-sluice-client: console` (its runs are manual runs, DESIGN §2.7). */
  headers?: Record<string, string>;
  /** Told about every 401, before the ApiError is thrown. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

export type SluiceClient = Client<paths>;

/** A client whose calls resolve to `{ data }` on success and throw an ApiError otherwise. */
export function createSluiceClient(options: ClientOptions = {}): SluiceClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl || sameOrigin(),
    headers: options.headers,
    querySerializer: queryString,
    // Looked up per call, not stored bare: a detached window.fetch throws "Illegal invocation" in browsers.
    fetch: (request: Request) => (options.fetch ?? globalThis.fetch)(request),
  });
  client.use(authorization(options.key), failures(options.onUnauthorized));
  return client;
}

/** A page's own origin (the console served by the Worker); none in Node, where a baseUrl is required. */
const sameOrigin = () => (globalThis as { location?: { origin: string } }).location?.origin ?? "";

/** The data of a call that succeeded (failures have thrown already); `undefined` for a 204. */
export async function data<T>(call: Promise<{ data?: T }>): Promise<T> {
  return (await call).data as T;
}

/** Only the values that are set: no `cursor=` for a first page, no `status=` for "any status". */
function queryString(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  return params.toString();
}

const bearer = (key: ClientOptions["key"]) => (typeof key === "function" ? key() : key);

function authorization(key: ClientOptions["key"]): Middleware {
  return {
    onRequest({ request }) {
      const value = bearer(key);
      if (value) request.headers.set("authorization", `Bearer ${value}`);
      return request;
    },
  };
}

function failures(onUnauthorized: (() => void) | undefined): Middleware {
  return {
    onError({ error }) {
      if (error instanceof ApiError) return error;
      return new ApiError(0, "network", `The server could not be reached (${error instanceof Error ? error.message : String(error)}).`);
    },
    async onResponse({ request, response }) {
      if (!response.ok) {
        const failure = await errorFrom(response.clone());
        if (response.status === 401) onUnauthorized?.();
        throw failure;
      }
      if (response.status !== 204 && request.headers.get("accept") === "application/json" && !(await isJson(response.clone()))) {
        // Typically an HTML page where the API should be: a proxy, or a Worker without the /api route.
        throw new ApiError(response.status, "bad_response", `${request.method} ${apiPath(request.url)} did not answer with JSON.`);
      }
      return undefined;
    },
  };
}

async function isJson(response: Response): Promise<boolean> {
  const text = await response.text();
  if (text === "") return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `/workflows` for `https://host/api/v1/workflows?limit=1`: the path as the API reference names it. */
const apiPath = (url: string) => new URL(url, "http://relative.invalid").pathname.replace(/^.*?\/api\/v1(?=\/)/, "");

/** The API's error body as an ApiError; anything else (a proxy's page, say) as the status line. */
export async function errorFrom(response: Response): Promise<ApiError> {
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
    // Not our JSON error body: fall through to the status line.
  }
  const summary = text.trim().slice(0, 200);
  const message = `${response.status} ${response.statusText || "error"}`.trim();
  return new ApiError(response.status, `http_${response.status}`, summary && !summary.startsWith("<") ? `${message}: ${summary}` : message);
}
