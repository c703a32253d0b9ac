// One instance as its page shows it: refreshed every second while it can still change, with node logs.
import { SvelteMap } from "svelte/reactivity";
import { ApiError, type Api, type Instance, type NodeRun } from "./api.ts";
import { isOpenByDefault, logsDue, logVersion } from "./node-logs.ts";
import { isLive } from "./status.ts";

export interface NodeLog {
  /** `null` until a log has been read, or when the node has none yet. */
  text: string | null;
  error: string | null;
  /** The node state the text belongs to (see `logVersion`); `undefined` makes it due again. */
  version: string | undefined;
}

export class InstanceView {
  // Replaced whole on every refresh, never mutated: raw state is enough.
  #instance = $state.raw<Instance | null>(null);
  logs = new SvelteMap<string, NodeLog>();
  /** The last refresh failed (the page keeps showing what it had). */
  refreshError = $state<ApiError | null>(null);
  /** Ticks with the refreshes, so running durations count up. */
  now = $state.raw(new Date());

  #chosen = new SvelteMap<string, boolean>();
  #reading = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;

  readonly #api: Api;
  readonly #intervalMs: number;

  constructor(api: Api, initial: Instance, intervalMs = 1000) {
    this.#api = api;
    this.#intervalMs = intervalMs;
    this.#instance = initial;
  }

  get instance(): Instance {
    return this.#instance!;
  }

  get live(): boolean {
    return isLive(this.instance.status);
  }

  /** Whether a node's log is shown: the person's choice, else the default for its state. */
  isOpen(name: string): boolean {
    const chosen = this.#chosen.get(name);
    if (chosen !== undefined) return chosen;
    const node = this.instance.nodes.find((n) => n.name === name);
    return node ? isOpenByDefault(node, this.instance.nodes.length) : false;
  }

  setOpen(name: string, open: boolean): void {
    if (this.#chosen.get(name) === open) return;
    this.#chosen.set(name, open);
    if (open) void this.refreshLogs();
  }

  start(): void {
    this.#running = true;
    void this.refreshLogs();
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** Reads the logs that are open and stale; called on every refresh and when a log is opened. */
  async refreshLogs(): Promise<void> {
    const due = logsDue(
      this.instance.nodes,
      (name) => this.isOpen(name),
      (name) => this.logs.get(name)?.version,
    ).filter((name) => !this.#reading.has(name));
    const nodes = this.instance.nodes.filter((node) => due.includes(node.name));
    await Promise.all(nodes.map((node) => this.#readLog(node)));
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#running && this.live) this.#timer = setTimeout(() => void this.#refresh(), this.#intervalMs);
  }

  async #refresh(): Promise<void> {
    try {
      this.#instance = await this.#api.getInstance(this.instance.id);
      this.refreshError = null;
    } catch (cause) {
      this.refreshError = cause instanceof ApiError ? cause : new ApiError(0, "unknown", String(cause));
      if (this.refreshError.status === 401) return this.stop(); // the layout takes over from here
    }
    this.now = new Date();
    await this.refreshLogs();
    this.#schedule();
  }

  async #readLog(node: NodeRun): Promise<void> {
    const version = logVersion(node);
    const previous = this.logs.get(node.name);
    this.#reading.add(node.name);
    try {
      const text = await this.#api.getNodeLog(this.instance.id, node.name);
      this.logs.set(node.name, { text, error: null, version });
    } catch (cause) {
      if (cause instanceof ApiError && cause.status === 404) {
        // No log (yet): nothing to show, and nothing to re-read until the node moves on.
        this.logs.set(node.name, { text: null, error: null, version });
      } else {
        const message = cause instanceof Error ? cause.message : String(cause);
        this.logs.set(node.name, { text: previous?.text ?? null, error: message, version: undefined });
      }
    } finally {
      this.#reading.delete(node.name);
    }
  }
}
