// The lifecycle states of instances and node runs (DESIGN §2.6) as the console shows them.
import type { Env, InstanceStatus, NodeRun, NodeStatus } from "./api.ts";

export const INSTANCE_STATUSES: readonly InstanceStatus[] = ["waiting", "running", "succeeded", "failed", "terminated", "skipped"];
export const ENVS: readonly Env[] = ["dev", "prod"];

/** A colour family for a status; the status word is always shown too, never the colour alone. */
export type Tone = "idle" | "live" | "ok" | "bad" | "muted";

const TONES: Record<InstanceStatus | NodeStatus, Tone> = {
  pending: "idle",
  queued: "idle",
  waiting: "idle",
  running: "live",
  succeeded: "ok",
  failed: "bad",
  terminated: "bad",
  skipped: "muted",
};

export function toneOf(status: InstanceStatus | NodeStatus): Tone {
  return TONES[status] ?? "idle";
}

export function isInstanceStatus(text: string | null | undefined): text is InstanceStatus {
  return INSTANCE_STATUSES.includes(text as InstanceStatus);
}

export function isEnv(text: string | null | undefined): text is Env {
  return ENVS.includes(text as Env);
}

/** An instance that can still change: the console keeps refreshing it. */
export function isLive(status: InstanceStatus): boolean {
  return status === "waiting" || status === "running";
}

/** A node run that has been handed to something that executes it, so it may have a log. */
export function hasStarted(node: Pick<NodeRun, "status" | "startedAt">): boolean {
  return node.startedAt !== null || !["pending", "queued", "skipped"].includes(node.status);
}
