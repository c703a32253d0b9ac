// Admission of waiting instances (DESIGN §2.5, §2.9): maxParallel and concurrency keys over real processes, (priority, arrival) order, ordering keys.
import type { SchedulerHost } from "./host.ts";
import type { InstanceRecord } from "./records.ts";

/** Places held in a line: instances running, and instances no longer running whose stopped processes may still live. */
export interface PlacesHeld {
  running: number;
  exiting: number;
}

/** What keeps a waiting instance from starting now. */
export type Blocker =
  | { kind: "key"; key: string; limit: number; held: PlacesHeld }
  | { kind: "maxParallel"; limit: number; held: PlacesHeld }
  | { kind: "ordering"; key: string };

const total = (held: PlacesHeld) => held.running + held.exiting;

/**
 * Instances holding a place in an environment's maxParallel: the running ones, and those no longer
 * running whose stopped processes may still live (core/attempts.ts `holdsPlace`).
 */
export function placesHeld(host: SchedulerHost, env: string): PlacesHeld {
  let exiting = 0;
  for (const id of host.instancesWithExitingRuns()) {
    const instance = host.instance(id);
    if (instance && instance.env === env && instance.status !== "running") exiting++;
  }
  return { running: host.countRunning(env), exiting };
}

/**
 * Whether an instance's ordering key lets it start: no instance with the key runs, and none with the
 * key arrived earlier and still waits (instances sharing a key run one at a time, in arrival order).
 */
export function orderingKeyFree(host: SchedulerHost, instance: InstanceRecord): boolean {
  const key = instance.ordering_key;
  if (key === null) return true;
  if (host.firstWithOrderingKey(instance.env, key, "running")) return false;
  return host.firstWithOrderingKey(instance.env, key, "waiting")?.id === instance.id;
}

/** The concurrency key's limit when it is full for this instance (null: a free place, or no key). */
function fullKey(host: SchedulerHost, instance: InstanceRecord): Blocker | null {
  const { concurrency_key: key, concurrency_limit: limit } = instance;
  if (key === null || limit === null) return null;
  const held = host.keyPlacesHeld(instance.env, key);
  return total(held) >= limit ? { kind: "key", key, limit, held } : null;
}

function fullMaxParallel(host: SchedulerHost, instance: InstanceRecord): Blocker | null {
  if (instance.max_parallel === null) return null;
  const held = placesHeld(host, instance.env);
  return total(held) >= instance.max_parallel ? { kind: "maxParallel", limit: instance.max_parallel, held } : null;
}

/**
 * The limit that holds a waiting instance: its concurrency key's when full (the narrower line), else
 * maxParallel's, else its ordering key's; null when none does (admission starts it).
 */
export function blockerOf(host: SchedulerHost, instance: InstanceRecord): Blocker | null {
  const blocker = fullKey(host, instance) ?? fullMaxParallel(host, instance);
  if (blocker) return blocker;
  return orderingKeyFree(host, instance) ? null : { kind: "ordering", key: instance.ordering_key! };
}

/**
 * The waiting instance to start next in (priority, arrival) order. Only line heads are read: an instance
 * whose key is full is passed over without holding up the others (there are at most as many such heads
 * as keys holding places), and one behind it in its key's line is never read. A full maxParallel holds everyone.
 */
export function nextToAdmit(host: SchedulerHost, env: string): InstanceRecord | null {
  for (const head of host.waitingLineHeads(env)) {
    if (fullKey(host, head)) continue;
    const candidate = orderingKeyFree(host, head) ? head : firstOrderingFreeBehind(host, head);
    if (!candidate) continue;
    return fullMaxParallel(host, candidate) ? null : candidate;
  }
  return null;
}

/**
 * A key's line whose head waits for its trigger ordering key: the first behind it whose ordering key is
 * free may use the key's free place (a line of ordering keys is read as admission always read them).
 */
function firstOrderingFreeBehind(host: SchedulerHost, head: InstanceRecord): InstanceRecord | null {
  if (head.concurrency_key === null) return null;
  for (const candidate of host.waitingWithConcurrencyKey(head.env, head.concurrency_key)) {
    if (orderingKeyFree(host, candidate)) return candidate;
  }
  return null;
}

const ordinal = (n: number) => {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
};

const heldText = (held: PlacesHeld) =>
  `${total(held)} running${held.exiting > 0 ? `, ${held.exiting} of them stopped but with processes still exiting` : ""}`;

/** Names a full limit, e.g. `concurrency key 'u1' limit 2 reached (2 running)`. */
export function describeBlocker(blocker: Blocker): string {
  if (blocker.kind === "key") return `concurrency key '${blocker.key}' limit ${blocker.limit} reached (${heldText(blocker.held)})`;
  if (blocker.kind === "maxParallel") return `maxParallel ${blocker.limit} reached (${heldText(blocker.held)})`;
  return `another instance with ordering key '${blocker.key}' runs or arrived first`;
}

/** Why a waiting instance waits, for people reading the console: the limit that holds it and its place in that line. */
export function waitReason(host: SchedulerHost, instance: InstanceRecord): string | null {
  if (instance.status !== "waiting") return null;
  const blocker = blockerOf(host, instance);
  if (blocker?.kind === "key") {
    const ahead = host.countWaitingAheadWithKey(instance.env, blocker.key, instance.priority, instance.seq);
    return `${describeBlocker(blocker)}; ${ordinal(ahead + 1)} in its line`;
  }
  if (blocker?.kind === "ordering") return describeBlocker(blocker);
  const ahead = host.countWaitingAhead(instance.env, instance.priority, instance.seq);
  if (blocker) return `${describeBlocker(blocker)}; ${ordinal(ahead + 1)} in its line`;
  return `${ordinal(ahead + 1)} in line`;
}
