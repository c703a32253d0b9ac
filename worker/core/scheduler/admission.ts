// Admission of waiting instances (DESIGN §2.5): maxParallel over real processes, (priority, arrival) order, ordering keys.
import type { SchedulerHost } from "./host.ts";
import type { InstanceRecord } from "./records.ts";

/**
 * Instances holding a place in an environment's maxParallel: the running ones, and those no longer
 * running whose stopped processes may still live (core/attempts.ts `holdsPlace`).
 */
export function placesHeld(host: SchedulerHost, env: string): { running: number; exiting: number } {
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

/** The waiting instance to start next in (priority, arrival) order, if its ordering key and maxParallel allow one. */
export function nextToAdmit(host: SchedulerHost, env: string): InstanceRecord | null {
  let next: InstanceRecord | null = null;
  for (const candidate of host.waitingInstances(env)) {
    if (orderingKeyFree(host, candidate)) {
      next = candidate;
      break;
    }
  }
  if (!next || next.max_parallel === null) return next;
  const held = placesHeld(host, env);
  return held.running + held.exiting < next.max_parallel ? next : null;
}

/** Why a waiting instance waits, for people reading the console. */
export function waitReason(host: SchedulerHost, instance: InstanceRecord): string | null {
  if (instance.status !== "waiting") return null;
  const ahead = host.countWaitingAhead(instance.env, instance.priority, instance.seq);
  const { running: strictlyRunning, exiting } = placesHeld(host, instance.env);
  const running = strictlyRunning + exiting;
  if (instance.max_parallel !== null && running >= instance.max_parallel) {
    const held = exiting > 0 ? `, ${exiting} of them stopped but with processes still exiting` : "";
    return `maxParallel ${instance.max_parallel} reached (${running} running${held}); ${ahead} waiting ahead of it`;
  }
  return instance.ordering_key !== null ? `another instance with ordering key '${instance.ordering_key}' runs or arrived first` : `${ahead} waiting ahead of it`;
}
