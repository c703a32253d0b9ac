// Why an instance or a node has not started yet (or never will), in words a person can act on.
import type { Edge, Instance, NodeRun, Runner } from "./api/types.ts";

export interface RunnerPicture {
  /** Connected runners of the instance's resource group; null when unknown. */
  runners: readonly Runner[] | null;
  resourceGroup: string;
}

const runningCount = (runner: Runner) => (Array.isArray(runner.running) ? runner.running.length : runner.running);

/** A sentence about the resource group's capacity, when it explains a wait. */
function capacity({ runners, resourceGroup }: RunnerPicture): string | null {
  if (runners === null) return null;
  if (runners.length === 0) return `No runner is connected to resource group ${resourceGroup}: start one (npm run runner) and the queued work starts.`;
  const slots = runners.reduce((sum, r) => sum + r.slots, 0);
  const busy = runners.reduce((sum, r) => sum + runningCount(r), 0);
  return busy >= slots
    ? `All ${slots} slots of resource group ${resourceGroup} are busy (${runners.length} runner${runners.length === 1 ? "" : "s"}); higher-priority work goes first.`
    : `${slots - busy} of ${slots} slots of resource group ${resourceGroup} are free.`;
}

/** The instance-level explanation: the admission limit it waits on, or why its ready nodes have not started. */
export function explainInstance(instance: Instance, picture: RunnerPicture): string[] {
  const lines: string[] = [];
  if (instance.status === "waiting") {
    lines.push(
      instance.waitReason
        ? `Waiting to start: ${instance.waitReason}.`
        : "Waiting to start: the workflow's coordinator has not admitted it yet.",
    );
    return lines;
  }
  if (instance.status !== "running") return lines;
  const queued = instance.nodes.filter((n) => n.status === "queued");
  if (queued.length > 0) {
    lines.push(`${queued.map((n) => n.name).join(", ")} ${queued.length === 1 ? "is" : "are"} ready and queued for a runner slot.`);
    const words = capacity(picture);
    if (words) lines.push(words);
  }
  return lines;
}

/** Why a skipped instance never ran, as one sentence; the server's reason may already start with "skipped:". */
export function skipReasonText(reason: string | null | undefined): string {
  const why = (reason ?? "").replace(/^skipped:\s*/i, "").trim();
  return why ? `Skipped, it never ran: ${why}.` : "Skipped, it never ran: an overlap policy or the waiting timeout kept it from starting.";
}

/** One node's explanation, from its state, its upstream nodes' states and (when it never ran) its instance's. */
export function explainNode(node: NodeRun, nodes: readonly NodeRun[], edges: readonly Edge[], instanceStatus?: Instance["status"]): string | null {
  if (instanceStatus === "skipped" && node.status === "skipped") return "Never ran: the whole instance was skipped.";
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const upstream = edges.filter((e) => e.to === node.name).map((e) => byName.get(e.from)).filter((n): n is NodeRun => !!n);
  switch (node.status) {
    case "pending": {
      const open = upstream.filter((u) => !["succeeded", "skipped", "failed", "terminated"].includes(u.status));
      return open.length
        ? `Waits for upstream ${open.map((u) => `${u.name} (${u.status})`).join(", ")}.`
        : "Waits to be scheduled.";
    }
    case "queued":
      return "Ready: queued for a free runner slot (strict priority, then weight, then age).";
    case "skipped": {
      const failed = upstream.filter((u) => u.status === "failed" || u.status === "terminated");
      if (failed.length) return `Skipped: upstream ${failed.map((u) => u.name).join(", ")} ${failed.length === 1 ? "did" : "did"} not succeed.`;
      const branches = upstream.filter((u) => u.type === "branch");
      if (branches.length) return `Skipped: branch ${branches.map((u) => u.name).join(", ")} did not choose it.`;
      return "Skipped: an upstream node did not run.";
    }
    case "failed":
      return node.error ? `Failed: ${node.error}` : node.exitCode !== null ? `Failed with exit code ${node.exitCode}.` : "Failed.";
    case "terminated":
      return "Terminated by a person or the API.";
    default:
      return null;
  }
}
