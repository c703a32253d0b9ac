// The CLI's door to the API: the typed client the console uses too (web/src/lib/api/client.ts, generated from the
// OpenAPI document), built from the CLI's connection, plus what a command line needs beyond one JSON call: a node's
// log from a byte offset, a file uploaded as it is, every page of a list. Paths, params and bodies are the
// document's, so a wrong one is a type error; failures are the shared ApiError with the API's message.
import { ApiError, createSluiceClient, data, type paths, type SluiceClient } from "../web/src/lib/api/client.ts";

export { ApiError, data };
export type { SluiceClient };

export interface Connection {
  url: string;
  key: string;
}

/** The list paths that page with `cursor`/`nextCursor`. */
export type PagedPath = {
  [P in keyof paths]: paths[P] extends {
    get: {
      parameters: { query?: { limit?: number; cursor?: string } };
      responses: { 200: { content: { "application/json": { items: unknown[]; nextCursor: string | null } } } };
    };
  }
    ? P
    : never;
}[keyof paths];

/** One item of a paged list's answer. */
export type PageItem<P extends PagedPath> = paths[P] extends {
  get: { responses: { 200: { content: { "application/json": { items: (infer T)[] } } } } };
}
  ? T
  : never;

export type Upload = NonNullable<Awaited<ReturnType<typeof uploadObject>>["data"]>;

export interface Api {
  readonly connection: Connection;
  /** The shared typed client: `api.client.GET("/api/v1/workflows/{id}", { params: { path: { id } } })`. */
  readonly client: SluiceClient;
  /** A node's log as text from byte `from` on (`Range: bytes=<from>-`); 416 (nothing past it) is empty text. */
  log(instanceId: string, node: string, attempt?: number, from?: number): Promise<{ status: number; text: string }>;
  /** Every item of a cursor-paged list. */
  all<P extends PagedPath>(path: P): Promise<PageItem<P>[]>;
  /** A file's bytes as an object of a bucket, with the content type given. */
  upload(bucket: string, key: string, body: Uint8Array, contentType: string): Promise<Upload>;
}

const PAGE_SIZE = 200;

/** An object key keeps its `/` between segments (the server reads the rest of the path as the key). */
const keyPath = (key: string) => key.split("/").map(encodeURIComponent).join("/");

function uploadObject(client: SluiceClient, bucket: string, key: string, body: Uint8Array, contentType: string) {
  return client.PUT("/api/v1/buckets/{bucket}/objects/{key}", {
    params: { path: { bucket, key } },
    pathSerializer: (url) => url.replace("{bucket}", encodeURIComponent(bucket)).replace("{key}", keyPath(key)),
    // The bytes as they are: not JSON.
    body: body as never,
    bodySerializer: ((raw: Uint8Array) => raw) as never,
    headers: { "content-type": contentType },
  });
}

/**
 * A fetch that says which server could not be reached: the shared client passes an ApiError thrown here through
 * unchanged (its own words for a network failure do not name the URL, which is what a CLI user needs to check).
 */
function reaching(base: string, fetcher: typeof fetch): typeof fetch {
  return (async (request: Request) => {
    try {
      return await fetcher(request);
    } catch (err) {
      throw new ApiError(0, "unreachable", `cannot reach ${base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
  }) as typeof fetch;
}

export function createApi(connection: Connection, fetcher: typeof fetch = fetch): Api {
  const base = connection.url.replace(/\/+$/, "");
  const client = createSluiceClient({
    baseUrl: base,
    key: connection.key,
    // JSON is asked for, so an HTML page where the API should be (a wrong URL) is said as such.
    headers: { accept: "application/json" },
    fetch: reaching(base, fetcher),
  });
  // `all` takes any paged path; openapi-fetch cannot check a call over a union of paths, so it is made once here.
  const page = client.GET as (path: PagedPath, init: { params: { query: { limit: number; cursor?: string } } }) => Promise<{ data?: unknown }>;

  return {
    connection,
    client,
    async log(instanceId, node, attempt, from = 0) {
      try {
        const { data: text, response } = await client.GET("/api/v1/instances/{id}/nodes/{name}/log", {
          params: { path: { id: instanceId, name: node }, query: { attempt }, header: from > 0 ? { range: `bytes=${from}-` } : {} },
          headers: { accept: "text/plain" },
          parseAs: "text",
        });
        return { status: response.status, text: text ?? "" };
      } catch (err) {
        if (err instanceof ApiError && err.status === 416) return { status: 416, text: "" };
        throw err;
      }
    },
    async all<P extends PagedPath>(path: P) {
      const items: PageItem<P>[] = [];
      let cursor: string | undefined;
      do {
        const answer = (await data(page(path, { params: { query: { limit: PAGE_SIZE, cursor } } }))) as { items: PageItem<P>[]; nextCursor: string | null };
        items.push(...answer.items);
        cursor = answer.nextCursor ?? undefined;
      } while (cursor);
      return items;
    },
    upload: async (bucket, key, body, contentType) => data(uploadObject(client, bucket, key, body, contentType)) as Promise<Upload>,
  };
}

/** The live status socket's URL (ws: or wss: as the API's scheme says). */
export const liveUrl = (connection: Connection, instanceId: string) =>
  `${connection.url.replace(/\/+$/, "").replace(/^http/, "ws")}/api/v1/instances/${encodeURIComponent(instanceId)}/live`;
