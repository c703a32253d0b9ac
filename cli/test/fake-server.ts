// A stand-in for the Sluice API behind the CLI's real client: the requests as the server would see them, the
// answers as it would give them (an ApiError becomes the API's error body, so the client's own error path runs).
import { ApiError, createApi, type Api } from "../api.ts";

export interface Seen {
  method: string;
  /** The path under the server, e.g. `/api/v1/workflows/wf_1`, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  /** JSON bodies parsed, any other as text. */
  body: any;
  bytes: Uint8Array;
}

type Answer = unknown | ApiError | Response;

export const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const toResponse = (answer: Answer): Response => {
  if (answer instanceof Response) return answer;
  if (answer instanceof ApiError) return json(answer.status, { error: { code: answer.code, message: answer.message, details: answer.details } });
  return answer === undefined ? new Response(null, { status: 204 }) : json(200, answer);
};

/** An Api over the real client whose server is `answer`; `seen` lists every request in order. */
export function fakeServer(answer: (req: Seen) => Answer | Promise<Answer>): { api: Api; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetcher = (async (request: Request) => {
    const url = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    const type = request.headers.get("content-type") ?? "";
    const req: Seen = { method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body: type.includes("json") && text ? JSON.parse(text) : text, bytes };
    seen.push(req);
    return toResponse(await answer(req));
  }) as typeof fetch;
  return { api: createApi({ url: "http://sluice.test/", key: "sk_test" }, fetcher), seen };
}
