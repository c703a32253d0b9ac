// Resume: a resumed trigger's kept events decided in arrival order, in bounded rounds (the request, then the cron).
import { SluiceError, unwrap } from "../core/errors.ts";
import { derivedInstanceId } from "../core/ids.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import type { Started } from "../coordinator/workflow-coordinator.ts";
import {
  decidedAgainInstanceSeed,
  loggedEvent,
  nextRoundSize,
  RESUME_CRON_BUDGET,
  resumedTrigger,
  resumeMayContinue,
  sha256Hex,
  wholeMessage,
  withFixedDedupKey,
  type ResumeBudget,
  type TriggerSpec,
} from "../core/triggers/index.ts";
import { countKept, finishResume, keptEvents, settleKept, triggersWithKeptEvents, type LoggedEventRow } from "../db/kept-events.ts";
import type { TriggerEventRecord } from "../db/trigger-events.ts";
import { toSpec, triggerRow } from "../db/triggers.ts";
import { planDelivery, settleDelivery, settleGather, WorkflowLookup, type PlannedDelivery, type PlannedStarts } from "./deliver.ts";
import { GateBatch } from "./gate-batch.ts";
import type { PublishedStart } from "./starts.ts";

export interface ResumeProgress {
  /** Kept events this call decided (started, or whatever the trigger now says of them). */
  resumed: number;
  /** Kept events left for the background. */
  remaining: number;
  /** Kept events this call read and decided, including those another resume wrote first. */
  decided: number;
}

/**
 * Plans one kept event as if it arrived now, with its original time and message (so its original dedup key) and an
 * instance id derived from its row: a second resume, or the cron, asks for the same instance (DESIGN §2.10).
 */
async function planKept(trigger: TriggerSpec, workspaceId: string, kept: LoggedEventRow, lookup: WorkflowLookup): Promise<PlannedDelivery> {
  const whole = wholeMessage(kept);
  const base = { id: kept.id, triggerId: kept.triggerId, workspaceId, receivedAt: kept.receivedAt, source: kept.source, sourceId: kept.sourceId, message: null };
  if (!whole.ok) return { done: true, record: { ...base, dedupKey: null, outcome: "error", detail: whole.reason, instanceIds: [] } };
  // A kept replay keeps its replay dedup key; any other kept event is keyed as the trigger keys it.
  const spec = resumedTrigger(withFixedDedupKey(trigger, kept.replayOf !== null ? kept.dedupKey : null));
  return planDelivery(
    {
      trigger: spec,
      workspaceId,
      event: loggedEvent(spec, whole.message, kept.receivedAt, kept.sourceId),
      eventId: kept.id,
      instanceIdFor: async (workflowId) => derivedInstanceId(workflowId, kept.receivedAt, await sha256Hex(decidedAgainInstanceSeed(kept.id, workflowId))),
      source: kept.source,
      sourceId: kept.sourceId,
    },
    lookup,
  );
}

/** What one start of a round came to: its coordinator's answer, a refusal of this run alone, or an infrastructure failure. */
type StartResult = { ok: true; started: Started } | { ok: false; refused: SluiceError | null; error: unknown };

/**
 * Sends a round's starts of one workflow in arrival order: one call (one transaction), or, when that fails, one by
 * one, stopping at the first that fails for a reason other than a refusal of that run. Unlike the queue consumer's
 * StartBatch, nothing after a failed start is started: the next round decides them again, still behind it.
 */
async function startInOrder(env: Env, inputs: PublishedStart[]): Promise<StartResult[]> {
  const { workspaceId, workflowId, version } = inputs[0]!;
  const coordinator = coordinatorFor(env, workflowId);
  const send = async (runs: PublishedStart[]) =>
    unwrap(await coordinator.startMany({ workspaceId, workflowId, publishedVersion: version, draftRevision: null, runs: runs.map((r) => r.run) }));
  try {
    return (await send(inputs)).map((started) => ({ ok: true, started }));
  } catch {
    // One run the coordinator refuses must not hold back the others: each alone, still in order.
  }
  const results: StartResult[] = [];
  for (const [i, input] of inputs.entries()) {
    try {
      results.push({ ok: true, started: (await send([input]))[0]! });
    } catch (err) {
      if (err instanceof SluiceError && err.status < 500) {
        results.push({ ok: false, refused: err, error: err });
        continue;
      }
      for (let j = i; j < inputs.length; j++) results.push({ ok: false, refused: null, error: err });
      break;
    }
  }
  return results;
}

/** A planned event's verdict from its starts' results; null when a start failed for a reason a later round may not meet. */
function verdictOf(plan: PlannedStarts, results: StartResult[]): TriggerEventRecord | null {
  if (results.some((r) => !r.ok && r.refused === null)) return null;
  const refused = results.flatMap((r, i) => (!r.ok && r.refused ? [`${plan.starts[i]!.workflowName}: ${r.refused.message}`] : []));
  if (refused.length === 0) return settleDelivery(plan, results.map((r) => (r as Extract<StartResult, { ok: true }>).started));
  const started = results.flatMap((r) => (r.ok ? [r.started.id] : []));
  return { ...plan.verdict, outcome: "error", detail: `a start was refused: ${refused.join("; ")}`, instanceIds: started };
}

/**
 * Decides one round of kept events: planned in arrival order, their starts sent in that order with one call per
 * workflow, and the verdicts up to the first event whose start failed. That event and those after it stay kept
 * for the next round; every start is idempotent, so deciding them again starts nothing twice.
 */
async function decideRound(env: Env, trigger: TriggerSpec, workspaceId: string, kept: LoggedEventRow[]): Promise<{ records: TriggerEventRecord[]; failure: unknown }> {
  const lookup = new WorkflowLookup(env.DB);
  const plans: PlannedDelivery[] = [];
  for (const event of kept) plans.push(await planKept(trigger, workspaceId, event, lookup));
  // Per (workflow, version), in arrival order: where each start's result will be found.
  const groups = new Map<string, { inputs: PublishedStart[]; at: [number, number][] }>();
  plans.forEach((plan, p) => {
    if (!("starts" in plan)) return;
    plan.starts.forEach((s, i) => {
      const key = `${s.input.workflowId}@${s.input.version}`;
      const group = groups.get(key) ?? { inputs: [], at: [] };
      group.inputs.push(s.input);
      group.at.push([p, i]);
      groups.set(key, group);
    });
  });
  const results = plans.map((plan) => ("starts" in plan ? new Array<StartResult>(plan.starts.length) : []));
  // Events of a batching or debouncing trigger join their gate's groups, in arrival order, in one call.
  const gates = new GateBatch(env);
  const joins = plans.map((plan) =>
    "gather" in plan
      ? gates.add(plan.gather.trigger, plan.gather.rule, plan.gather.event).then(
          (joined) => ({ ok: true as const, joined }),
          (error: unknown) => ({ ok: false as const, error }),
        )
      : null,
  );
  await Promise.all([
    gates.flush(),
    ...[...groups.values()].map(async (group) => {
      const answers = await startInOrder(env, group.inputs);
      group.at.forEach(([p, i], k) => (results[p]![i] = answers[k]!));
    }),
  ]);
  const records: TriggerEventRecord[] = [];
  for (const [p, plan] of plans.entries()) {
    if ("gather" in plan) {
      const join = (await joins[p])!;
      if (!join.ok) return { records, failure: join.error };
      records.push(await settleGather(plan, join.joined));
      continue;
    }
    const record = plan.done ? plan.record : verdictOf(plan, results[p]!);
    if (record === null) return { records, failure: results[p]!.flatMap((r) => (r.ok ? [] : [r.error]))[0] };
    records.push(record);
  }
  return { records, failure: null };
}

/**
 * Decides a resumed trigger's kept events, oldest first, within `budget`. Stops when the trigger is paused again
 * (its kept events wait), when none is left (the resume is then finished: new events go live again), or on a
 * failure (the cron goes on later). Safe to run twice at once: rows are written only while still kept.
 */
export async function continueResume(env: Env, triggerId: string, budget: ResumeBudget, clock: () => number = Date.now): Promise<ResumeProgress> {
  const startedAt = clock();
  let resumed = 0;
  let decided = 0;
  while (resumeMayContinue(budget, startedAt, clock(), decided)) {
    const row = await triggerRow(env.DB, triggerId);
    if (!row || row.paused) break;
    const kept = await keptEvents(env.DB, triggerId, nextRoundSize(budget, decided));
    if (kept.length === 0) {
      await finishResume(env.DB, triggerId);
      break;
    }
    const { records, failure } = await decideRound(env, toSpec(row), row.workspaceId, kept);
    resumed += await settleKept(env.DB, records);
    decided += kept.length;
    if (failure !== null) {
      console.error(`sluice: resuming trigger ${triggerId} stopped at a failed start; the cron goes on later`, failure);
      break;
    }
  }
  return { resumed, remaining: await countKept(env.DB, triggerId), decided };
}

/** The cron's continuation: every unpaused trigger with kept events left, oldest resume first, within one budget. */
export async function continueResumes(env: Env, budget: ResumeBudget = RESUME_CRON_BUDGET, clock: () => number = Date.now): Promise<ResumeProgress & { triggers: number }> {
  const startedAt = clock();
  const total = { resumed: 0, remaining: 0, decided: 0, triggers: 0 };
  for (const triggerId of await triggersWithKeptEvents(env.DB, 100)) {
    const left: ResumeBudget = { maxEvents: budget.maxEvents - total.resumed, maxMs: budget.maxMs - (clock() - startedAt) };
    if (!resumeMayContinue(left, clock(), clock(), 0)) break;
    const progress = await continueResume(env, triggerId, left, clock);
    total.resumed += progress.resumed;
    total.remaining += progress.remaining;
    total.decided += progress.decided;
    total.triggers += 1;
  }
  return total;
}
