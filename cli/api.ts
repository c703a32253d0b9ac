// The CLI's only door to the API: a thin layer over fetch, so switching to the shared typed client is one change here.

/** A non-2xx answer, with the API's own message and details (DESIGN §2.2 error shape). */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly details: { path?: string; message: string }[];

  constructor(status: number, code: string, message: string, details: { path?: string; message: string }[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface Connection {
  url: string;
  key: string;
}

export interface Api {
  readonly connection: Connection;
  call<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /** The answer as text (logs); `range` asks for bytes from an offset. */
  text(path: string, rangeFrom?: number): Promise<{ status: number; text: string }>;
  /** Every item of a cursor-paged list. */
  all<T = any>(path: string): Promise<T[]>;
  put(path: string, body: BodyInit, contentType: string): Promise<any>;
}

const errorFrom = async (res: Response): Promise<ApiError> => {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: { path?: string; message: string }[] } };
    return new ApiError(res.status, error.code, error.message, error.details ?? []);
  } catch {
    return new ApiError(res.status, "http_error", `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 500)}` : ""}`, []);
  }
};

export function createApi(connection: Connection, fetcher: typeof fetch = fetch): Api {
  const base = connection.url.replace(/\/+$/, "");
  const auth = { authorization: `Bearer ${connection.key}` };
  const send = async (method: string, path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetcher(`${base}/api/v1${path}`, { method, ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    } catch (err) {
      throw new ApiError(0, "unreachable", `cannot reach ${base}: ${(err as Error).cause ?? (err as Error).message}`, []);
    }
  };
  const api: Api = {
    connection,
    async call(method, path, body, headers = {}) {
      const res = await send(method, path, {
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw await errorFrom(res);
      const text = await res.text();
      return (text === "" ? undefined : JSON.parse(text)) as any;
    },
    async text(path, rangeFrom) {
      const res = await send("GET", path, { headers: rangeFrom ? { range: `bytes=${rangeFrom}-` } : {} });
      if (res.status === 416) return { status: 416, text: "" };
      if (!res.ok) throw await errorFrom(res);
      return { status: res.status, text: await res.text() };
    },
    async all(path) {
      const items = [];
      let cursor: string | null = null;
      do {
        const sep = path.includes("?") ? "&" : "?";
        const page: { items: any[]; nextCursor: string | null } = await api.call("GET", `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    },
    async put(path, body, contentType) {
      const res = await send("PUT", path, { headers: { "content-type": contentType }, body });
      if (!res.ok) throw await errorFrom(res);
      return res.json();
    },
  };
  return api;
}

/** The live status socket's URL (ws: or wss: as the API's scheme says). */
export const liveUrl = (connection: Connection, instanceId: string) =>
  `${connection.url.replace(/\/+$/, "").replace(/^http/, "ws")}/api/v1/instances/${encodeURIComponent(instanceId)}/live`;
