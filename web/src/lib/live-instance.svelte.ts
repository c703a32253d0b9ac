// One instance kept live: pushed over the instance's WebSocket, or polled every second when the socket is not there.
import { SvelteMap, SvelteSet } from "svelte/reactivity";
import { ApiError, type Api, type Instance, type NodeRun } from "./api.ts";
import { LogBook, logKey, logVersion } from "./log-book.ts";
import { hasStarted, isLive } from "./status.ts";

type ServerMessage = { type: "instance"; instance: Instance } | { type: "log"; node: string; attempt: number; text: string };

export interface LiveOptions {
  /** The API key for the socket's subprotocol; the socket is skipped without one. */
  apiKey: string | null;
  intervalMs?: number;
  /** For tests and servers without the live endpoint. */
  socket?: boolean;
  origin?: string;
}

export class LiveInstance {
  instance = $state.raw<Instance>(null!);
  /** Log text by `node#attempt`. */
  logs = new SvelteMap<string, string>();
  logErrors = new SvelteMap<string, string>();
  /** How updates arrive: pushed by the server, or polled. */
  mode = $state<"connecting" | "socket" | "polling" | "stopped">("connecting");
  refreshError = $state<ApiError | null>(null);
  now = $state.raw(new Date());

  /** Nodes whose log someone is looking at, with the attempt shown (0 = the latest). */
  readonly open = new SvelteMap<string, number>();
  readonly #reading = new SvelteSet<string>();
  readonly #book = new LogBook();
  readonly #versions = new Map<string, string>();
  readonly #api: Api;
  readonly #options: LiveOptions;
  #socket: WebSocket | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #clock: ReturnType<typeof setInterval> | undefined;
  #running = false;
  /** Set while a new socket has not sent its first message (see #receive). */
  #resync = false;

  constructor(api: Api, initial: Instance, options: LiveOptions) {
    this.#api = api;
    this.#options = options;
    this.instance = initial;
  }

  get live(): boolean {
    return isLive(this.instance.status);
  }

  node(name: string): NodeRun | undefined {
    return this.instance.nodes.find((n) => n.name === name);
  }

  /** The attempt a node's log panel shows: the chosen one, else the latest. */
  attemptOf(name: string): number {
    const chosen = this.open.get(name);
    return chosen || this.node(name)?.attempt || 1;
  }

  logOf(name: string): string | undefined {
    return this.logs.get(logKey(name, this.attemptOf(name)));
  }

  isReading(name: string): boolean {
    return this.#reading.has(logKey(name, this.attemptOf(name)));
  }

  /** Shows (and follows) a node's log; `attempt` 0 follows the latest attempt. */
  watch(name: string, attempt = 0): void {
    this.open.set(name, attempt);
    void this.#readDue();
  }

  unwatch(name: string): void {
    this.open.delete(name);
  }

  start(): void {
    this.#running = true;
    clearInterval(this.#clock);
    this.#clock = setInterval(() => (this.now = new Date()), 1000);
    void this.#readDue();
    if (!this.live) {
      this.mode = "stopped";
      return;
    }
    if (this.#options.socket !== false && this.#options.apiKey && typeof WebSocket !== "undefined") this.#connect();
    else this.#poll();
  }

  stop(): void {
    this.#running = false;
    this.mode = "stopped";
    clearTimeout(this.#timer);
    clearInterval(this.#clock);
    this.#socket?.close();
    this.#socket = null;
  }

  /** After terminate or rerun: read the new state now and follow it again. */
  async refresh(): Promise<void> {
    await this.#fetchInstance();
    if (this.#running && this.live && this.mode === "stopped") this.start();
  }

  #connect(): void {
    const origin = this.#options.origin ?? location.origin;
    const url = `${origin.replace(/^http/, "ws")}/api/v1/instances/${encodeURIComponent(this.instance.id)}/live`;
    try {
      this.#socket = new WebSocket(url, ["sluice.v1", `bearer.${this.#options.apiKey}`]);
    } catch {
      return this.#poll();
    }
    this.mode = "connecting";
    this.#resync = true;
    this.#socket.onopen = () => {
      this.mode = "socket";
    };
    this.#socket.onmessage = (event) => {
      try {
        this.#receive(JSON.parse(String(event.data)) as ServerMessage);
      } catch {
        // a message we do not understand: the next instance message or a poll puts it right
      }
    };
    this.#socket.onclose = () => {
      this.#socket = null;
      if (!this.#running) return;
      if (!this.live) {
        this.mode = "stopped";
        return;
      }
      // Never opened (no live endpoint yet) or dropped: keep going by polling.
      this.#poll();
    };
  }

  #receive(message: ServerMessage): void {
    if (message.type === "instance") {
      // The server streams this instance's log chunks from its socket's first message on: the open logs are
      // read again then, so a line written between an earlier read and that moment is not missed.
      if (this.#resync) {
        this.#resync = false;
        this.#versions.clear();
      }
      this.#setInstance(message.instance);
      if (!this.live) {
        this.mode = "stopped";
        this.#socket?.close();
      }
    } else if (message.type === "log") {
      const key = logKey(message.node, message.attempt);
      const outcome = this.#book.chunk(message.node, message.attempt, message.text);
      if (outcome === "appended") this.logs.set(key, this.#book.text(message.node, message.attempt)!);
      else if (outcome === "read" && this.open.has(message.node)) void this.#read(message.node, message.attempt);
    }
  }

  #poll(): void {
    this.mode = "polling";
    clearTimeout(this.#timer);
    if (!this.#running || !this.live) {
      if (!this.live) this.mode = "stopped";
      return;
    }
    this.#timer = setTimeout(async () => {
      await this.#fetchInstance();
      if (this.refreshError?.status === 401) return this.stop();
      this.#poll();
    }, this.#options.intervalMs ?? 1000);
  }

  async #fetchInstance(): Promise<void> {
    try {
      this.#setInstance(await this.#api.getInstance(this.instance.id));
      this.refreshError = null;
    } catch (cause) {
      this.refreshError = cause instanceof ApiError ? cause : new ApiError(0, "unknown", String(cause));
    }
  }

  #setInstance(next: Instance): void {
    this.instance = next;
    this.now = new Date();
    void this.#readDue();
  }

  /**
   * Reads the open logs that are stale: a node that changed state since its last read (a final read
   * after it ends reconciles any streamed chunk), or a running node while polling.
   */
  async #readDue(): Promise<void> {
    const reads: Promise<void>[] = [];
    for (const node of this.instance.nodes) {
      if (!this.open.has(node.name) || !hasStarted(node)) continue;
      const attempt = this.attemptOf(node.name);
      const key = logKey(node.name, attempt);
      const version = attempt === node.attempt ? logVersion(node) : `fixed:${attempt}`;
      const streaming = this.mode === "socket" && this.#book.isLoaded(node.name, attempt);
      const stale = this.#versions.get(key) !== version || (node.status === "running" && attempt === node.attempt && !streaming);
      if (stale && !this.#reading.has(key)) {
        this.#versions.set(key, version);
        reads.push(this.#read(node.name, attempt));
      }
    }
    await Promise.all(reads);
  }

  async #read(node: string, attempt: number): Promise<void> {
    const key = logKey(node, attempt);
    if (!this.#book.beginRead(node, attempt)) return;
    this.#reading.add(key);
    try {
      const text = await this.#api.getNodeLog(this.instance.id, node, attempt);
      this.logs.set(key, this.#book.read(node, attempt, text));
      this.logErrors.delete(key);
    } catch (cause) {
      if (cause instanceof ApiError && cause.status === 404) {
        this.logs.set(key, this.#book.read(node, attempt, ""));
      } else {
        this.#book.readFailed(node, attempt);
        this.#versions.delete(key);
        this.logErrors.set(key, cause instanceof Error ? cause.message : String(cause));
      }
    } finally {
      this.#reading.delete(key);
    }
  }
}
