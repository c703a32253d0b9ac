// Following a run (DESIGN §8 `run --follow`, `logs -f`): node states and log lines as they happen, over the
// live WebSocket, polling when it cannot be had; every node's log is completed from the API before the end.
import { ApiError, data, liveUrl, type Api } from "./api.ts";

export const FINISHED = ["succeeded", "failed", "terminated", "skipped"];

export interface InstanceNode {
  name: string;
  status: string;
  attempt: number;
  error?: string | null;
}
export interface Instance {
  id: string;
  status: string;
  nodes: InstanceNode[];
  reason?: string | null;
  [k: string]: unknown;
}

export interface FollowSink {
  node(node: InstanceNode): void;
  log(node: string, text: string): void;
  instance(instance: Instance): void;
  /** Said once when the live socket cannot be had and polling takes over. */
  notice(text: string): void;
}

/**
 * What has been printed, per node and attempt, in bytes of log: the live socket's chunks and the API's log
 * are the same bytes, so the rest of a log is always `Range: bytes=<printed>-`.
 */
export class LogCursor {
  private readonly printed = new Map<string, number>();
  private readonly states = new Map<string, string>();
  private readonly sink: FollowSink;
  private readonly only: string | undefined;

  constructor(sink: FollowSink, only?: string) {
    this.sink = sink;
    this.only = only;
  }

  chunk(node: string, attempt: number, text: string): void {
    if (this.only !== undefined && node !== this.only) return;
    const key = `${node}#${attempt}`;
    this.printed.set(key, (this.printed.get(key) ?? 0) + Buffer.byteLength(text));
    this.sink.log(node, text);
  }

  offset(node: string, attempt: number): number {
    return this.printed.get(`${node}#${attempt}`) ?? 0;
  }

  /** Says each node's new state once. */
  instance(instance: Instance): void {
    for (const node of instance.nodes) {
      if (this.only !== undefined && node.name !== this.only) continue;
      const state = `${node.attempt}:${node.status}`;
      if (this.states.get(node.name) === state) continue;
      this.states.set(node.name, state);
      this.sink.node(node);
    }
  }

  /** Prints what the API has beyond what was printed, for every node that has run. */
  async catchUp(api: Api, instance: Instance): Promise<void> {
    for (const node of instance.nodes) {
      if (this.only !== undefined && node.name !== this.only) continue;
      if (node.status === "queued" || node.status === "waiting" || node.status === "pending") continue;
      const from = this.offset(node.name, node.attempt);
      const answer = await api.log(instance.id, node.name, node.attempt, from).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null; // a node that never ran has no log
        throw err;
      });
      if (answer === null) continue;
      const { status, text } = answer;
      // A server that ignored the range (200) sent it all: skip what was printed.
      const rest = status === 200 && from > 0 ? Buffer.from(text).subarray(from).toString() : text;
      if (rest !== "") this.chunk(node.name, node.attempt, rest);
    }
  }
}

const getInstance = (api: Api, id: string): Promise<Instance> => data(api.client.GET("/api/v1/instances/{id}", { params: { path: { id } } }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows until the instance finishes; returns it as it ended. */
export async function follow(api: Api, instanceId: string, sink: FollowSink, only?: string): Promise<Instance> {
  const cursor = new LogCursor(sink, only);
  const viaSocket =
    typeof WebSocket === "function"
      ? await followLive(api, instanceId, cursor).catch((err: Error) => {
          sink.notice(`live status unavailable (${err.message}); polling`);
          return null;
        })
      : null;
  let instance = viaSocket ?? (await pollUntilFinished(api, instanceId, cursor));
  // The live window may close before the last chunks travel: the API's log has every byte.
  instance = await getInstance(api, instanceId);
  cursor.instance(instance);
  await cursor.catchUp(api, instance);
  sink.instance(instance);
  return instance;
}

async function pollUntilFinished(api: Api, instanceId: string, cursor: LogCursor): Promise<Instance> {
  for (;;) {
    const instance = await getInstance(api, instanceId);
    cursor.instance(instance);
    await cursor.catchUp(api, instance);
    if (FINISHED.includes(instance.status)) return instance;
    await sleep(500);
  }
}

/** How often the API is asked whether the instance ended, in case the socket falls silent. */
const WATCHDOG_MS = 5_000;

/**
 * The live socket: resolves with the finished instance, rejects when the socket fails (the caller then polls).
 * A slow poll beside it ends the wait should the socket stay open but silent.
 */
function followLive(api: Api, instanceId: string, cursor: LogCursor): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(liveUrl(api.connection, instanceId), ["sluice.v1", `bearer.${api.connection.key}`]);
    let done = false;
    const end = (outcome: () => void) => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      ws.close();
      outcome();
    };
    const watchdog = setInterval(() => {
      getInstance(api, instanceId).then(
        (instance: Instance) => FINISHED.includes(instance.status) && end(() => resolve(instance)),
        () => {}, // the socket or the next tick says more
      );
    }, WATCHDOG_MS);
    ws.addEventListener("message", (event: MessageEvent) => {
      const msg = JSON.parse(String(event.data)) as { type: string; instance?: Instance; node?: string; attempt?: number; text?: string };
      if (msg.type === "log" && msg.node !== undefined) cursor.chunk(msg.node, msg.attempt ?? 1, msg.text ?? "");
      if (msg.type === "instance" && msg.instance) {
        cursor.instance(msg.instance);
        if (FINISHED.includes(msg.instance.status)) end(() => resolve(msg.instance!));
      }
    });
    ws.addEventListener("error", () => end(() => reject(new Error("live socket failed"))));
    ws.addEventListener("close", (event: CloseEvent) => end(() => reject(new Error(`live socket closed${event.code ? ` with ${event.code}` : ""}`))));
  });
}
