// People operating instances during the fault suite: terminate live instances and rerun finished ones through the API.
import { api } from "../workers/helpers.ts";
import { readCoordinator, type InstanceRow, type NodeRunRow } from "./invariants.ts";
import type { Rng } from "./rng.ts";
import type { World, WorkflowUnderTest } from "./world.ts";

/** One terminate or rerun as its operator saw it; `answeredAt` is after a 200 answer, null when none came. */
export interface Operation {
  kind: "terminate" | "rerun";
  instanceId: string;
  workflow: string;
  mode?: "all" | "failed";
  requestedAt: number;
  answeredAt: number | null;
  status: number;
}

/**
 * A person's click, retried on 5xx like a person clicking again. 409 is an answer: the instance moved
 * on meanwhile, or an earlier click that got a 5xx had already done it (`repeated`).
 */
async function click(path: string, body?: unknown): Promise<{ status: number; repeated: boolean }> {
  for (let attempt = 0; ; attempt++) {
    const res = await api("POST", path, body);
    if (res.status < 500 || attempt >= 3) return { status: res.status, repeated: attempt > 0 };
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  }
}

export interface PlannedOperation {
  kind: Operation["kind"];
  workflow: WorkflowUnderTest;
  mode: "all" | "failed";
  /** Which of the candidate instances, as a fraction of their count. */
  pick: number;
  afterMs: number;
  /** Terminate only: rerun the instance (all nodes) right after, as someone restarting a run does. */
  thenRerun: boolean;
}

export class Operators {
  readonly log: Operation[] = [];
  private readonly world: World;

  constructor(world: World) {
    this.world = world;
  }

  /** Draws a round's operations from the plan's stream; their targets are picked when they run, from live state. */
  plan(rng: Rng, terminates: number, reruns: number): PlannedOperation[] {
    return Array.from({ length: terminates + reruns }, (_, i) => ({
      kind: i < terminates ? ("terminate" as const) : ("rerun" as const),
      workflow: rng.pick(this.world.workflows),
      mode: rng.chance(0.5) ? ("all" as const) : ("failed" as const),
      pick: rng.next(),
      afterMs: rng.int(40),
      thenRerun: i < terminates && rng.chance(0.5),
    }));
  }

  async perform(planned: PlannedOperation[]): Promise<void> {
    await Promise.all(
      planned.map(async (p) => {
        await new Promise((r) => setTimeout(r, p.afterMs));
        const target = await this.choose(p.workflow, p.kind, p.pick);
        if (target === null) return;
        const done = await this.operate(p.workflow, p.kind, target, p.mode);
        if (done && p.kind === "terminate" && p.thenRerun) await this.operate(p.workflow, "rerun", target, "all");
      }),
    );
  }

  /**
   * Terminate what runs, preferring instances with a node on a runner (the case that must wait for a
   * kill), or else what waits; rerun what ended, preferring what failed or was terminated (what people rerun).
   */
  private async choose(wf: WorkflowUnderTest, kind: Operation["kind"], pick: number): Promise<string | null> {
    const { instances, nodeRuns } = await readCoordinator(wf).catch(() => ({ instances: [] as InstanceRow[], nodeRuns: [] as NodeRunRow[] }));
    const having = (...statuses: string[]) => instances.filter((i) => statuses.includes(i.status));
    const busy = new Set(nodeRuns.filter((r) => r.current === 1 && r.status === "running").map((r) => r.instance_id));
    const first = (...lists: InstanceRow[][]) => lists.find((l) => l.length > 0) ?? [];
    const candidates =
      kind === "terminate"
        ? first(having("running").filter((i) => busy.has(i.id)), having("running"), having("waiting"))
        : first(having("failed", "terminated"), having("succeeded"));
    return candidates.length === 0 ? null : candidates[Math.floor(pick * candidates.length)]!.id;
  }

  /** Answers whether the operation was done (by this click or, for a terminate, by an earlier one that got a 5xx). */
  private async operate(wf: WorkflowUnderTest, kind: Operation["kind"], instanceId: string, mode: "all" | "failed"): Promise<boolean> {
    const requestedAt = Date.now();
    const { status, repeated } = await click(`/api/v1/instances/${instanceId}/${kind}`, kind === "rerun" ? { mode } : undefined);
    const done = status === 200 || (kind === "terminate" && status === 409 && repeated);
    this.log.push({ kind, instanceId, workflow: wf.name, mode: kind === "rerun" ? mode : undefined, requestedAt, answeredAt: done ? Date.now() : null, status });
    return done;
  }

  count(kind: Operation["kind"]): number {
    return this.log.filter((o) => o.kind === kind && o.status === 200).length;
  }
}
