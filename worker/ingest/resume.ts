// Resume: a resumed trigger's kept events decided in arrival order, in bounded rounds (the request, then the cron).
import { derivedInstanceId } from "../core/ids.ts";
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
import { planDelivery, settleDelivery, WorkflowLookup, type PlannedDelivery } from "./deliver.ts";
import { StartBatch } from "./starts.ts";

export interface ResumeProgress {
  /** Kept events this call decided (started, or whatever the trigger now says of them). */
  resumed: number;
  /** Kept events left for the background. */
  remaining: number;
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

/**
 * Decides one round of kept events: planned in arrival order, their starts sent with one call per workflow (so a
 * coordinator takes them in that order), and the verdicts up to the first that failed. The failed one and those
 * after it stay kept for the next round; every start is idempotent, so deciding them again starts nothing twice.
 */
async function decideRound(env: Env, trigger: TriggerSpec, workspaceId: string, kept: LoggedEventRow[]): Promise<{ records: TriggerEventRecord[]; failure: unknown }> {
  const lookup = new WorkflowLookup(env.DB);
  const starts = new StartBatch(env);
  const pending: Promise<TriggerEventRecord>[] = [];
  for (const event of kept) {
    const plan = await planKept(trigger, workspaceId, event, lookup);
    const record = plan.done ? Promise.resolve(plan.record) : Promise.all(plan.starts.map((s) => starts.add(s.input))).then((answers) => settleDelivery(plan, answers));
    record.catch(() => {}); // settled below, after the flush
    pending.push(record);
  }
  await starts.flush();
  const records: TriggerEventRecord[] = [];
  for (const record of pending) {
    try {
      records.push(await record);
    } catch (failure) {
      return { records, failure };
    }
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
  return { resumed, remaining: await countKept(env.DB, triggerId) };
}

/** The cron's continuation: every unpaused trigger with kept events left, oldest resume first, within one budget. */
export async function continueResumes(env: Env, budget: ResumeBudget = RESUME_CRON_BUDGET, clock: () => number = Date.now): Promise<ResumeProgress & { triggers: number }> {
  const startedAt = clock();
  const total = { resumed: 0, remaining: 0, triggers: 0 };
  for (const triggerId of await triggersWithKeptEvents(env.DB, 100)) {
    const left: ResumeBudget = { maxEvents: budget.maxEvents - total.resumed, maxMs: budget.maxMs - (clock() - startedAt) };
    if (!resumeMayContinue(left, clock(), clock(), 0)) break;
    const progress = await continueResume(env, triggerId, left, clock);
    total.resumed += progress.resumed;
    total.remaining += progress.remaining;
    total.triggers += 1;
  }
  return total;
}
