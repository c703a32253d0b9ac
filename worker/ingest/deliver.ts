// One event to one trigger: decide, start the published workflows through their coordinators (or gather the event
// at the trigger's gate when it batches or debounces), write the verdict.
import { checkTriggerMessageSize } from "../core/runs.ts";
import { SluiceError } from "../core/errors.ts";
import {
  coordinatorDedupKey,
  decide,
  fitsAlone,
  gatheredInstanceId,
  gatherKeyOf,
  gatherRuleOf,
  messageBytes,
  noWorkflowVerdict,
  startVerdict,
  type GatherEvent,
  type GatherRule,
  type Joined,
  type TriggerEvent,
  type TriggerSpec,
  type WorkflowStart,
} from "../core/triggers/index.ts";
import type { Started } from "../coordinator/workflow-coordinator.ts";
import { publishedWorkflowsOf, unpublishedWorkflowsOf, type PublishedWorkflow } from "../db/triggers.ts";
import type { TriggerEventRecord } from "../db/trigger-events.ts";
import type { GateTrigger } from "../gate/gate-store.ts";
import { GateBatch } from "./gate-batch.ts";
import { StartBatch, type PublishedStart } from "./starts.ts";

export interface Delivery {
  trigger: TriggerSpec;
  workspaceId: string;
  event: TriggerEvent;
  /** The event log row; derived from the queue message for queue deliveries, so a redelivery updates it. */
  eventId: string;
  /** The instance id to ask each workflow's coordinator for (derived for queue deliveries, see derivedId). */
  instanceIdFor(workflowId: string): Promise<string> | string;
  source: string;
  sourceId: string | null;
}

/** Per-batch memo of which workflows a trigger starts: a batch of 100 messages reads D1 once per trigger. */
export class WorkflowLookup {
  private readonly d1: D1Database;
  private readonly published = new Map<string, Promise<PublishedWorkflow[]>>();

  constructor(d1: D1Database) {
    this.d1 = d1;
  }

  publishedFor(triggerId: string): Promise<PublishedWorkflow[]> {
    let found = this.published.get(triggerId);
    if (!found) {
      found = publishedWorkflowsOf(this.d1, triggerId);
      // A failed read is not remembered: the next message of the batch tries again.
      found.catch(() => this.published.delete(triggerId));
      this.published.set(triggerId, found);
    }
    return found;
  }

  unpublishedFor(triggerId: string) {
    return unpublishedWorkflowsOf(this.d1, triggerId);
  }
}

/** One coordinator start a delivery asks for, with what its verdict needs to name it. */
export interface PlannedStart {
  workflowId: string;
  workflowName: string;
  requestedId: string;
  input: PublishedStart;
}

type Verdict = Omit<TriggerEventRecord, "outcome" | "detail" | "instanceIds">;

/** An event a batching or debouncing trigger gathers: its gate's answer completes the verdict. */
export interface PlannedGather {
  trigger: GateTrigger;
  rule: GatherRule;
  event: GatherEvent;
  /** The workflows the group's run will start, to name its instances in this event's row. */
  workflows: { id: string; name: string }[];
}

/**
 * A delivery decided up to its starts: a final verdict, the starts whose answers complete it, or the gate
 * whose answer (the group the event joined) completes it.
 */
export type PlannedDelivery =
  | { done: true; record: TriggerEventRecord }
  | { done: false; verdict: Verdict; starts: PlannedStart[] }
  | { done: false; verdict: Verdict; gather: PlannedGather };
export type PlannedStarts = Extract<PlannedDelivery, { starts: PlannedStart[] }>;
export type PlannedGathering = Extract<PlannedDelivery, { gather: PlannedGather }>;

async function plannedStart(d: Delivery, wf: PublishedWorkflow, dedupKey: string, orderingKey: string | null): Promise<PlannedStart> {
  const requestedId = await d.instanceIdFor(wf.id);
  // Ids and inputs only: the coordinator resolves parameters and cycle time against the version it holds.
  const input: PublishedStart = {
    workspaceId: wf.workspaceId,
    workflowId: wf.id,
    version: wf.version,
    run: {
      instanceId: requestedId,
      env: "prod",
      receivedAt: d.event.receivedAt,
      runDate: null,
      priorityOverride: null,
      triggerType: d.event.type,
      triggerMessage: d.event.message,
      params: null,
      dedup: { key: await coordinatorDedupKey(d.trigger.id, dedupKey), windowSeconds: d.trigger.dedup.windowSeconds },
      orderingKey,
    },
  };
  return { workflowId: wf.id, workflowName: wf.name, requestedId, input };
}

/**
 * Decides one (event, trigger) as far as it can without a coordinator. Throws only on infrastructure
 * failure (D1), which the caller turns into a retry.
 */
export async function planDelivery(d: Delivery, lookup: WorkflowLookup): Promise<PlannedDelivery> {
  const base = { id: d.eventId, triggerId: d.trigger.id, workspaceId: d.workspaceId, receivedAt: d.event.receivedAt, source: d.source, sourceId: d.sourceId, message: d.event.message };
  const decision = decide(d.trigger, d.event);
  if (!decision.start) return { done: true, record: { ...base, dedupKey: null, outcome: decision.outcome, detail: decision.detail, instanceIds: [] } };
  const verdict = { ...base, dedupKey: decision.dedupKey };
  try {
    checkTriggerMessageSize(d.event.message);
  } catch (err) {
    if (err instanceof SluiceError) return { done: true, record: { ...verdict, outcome: "error", detail: err.message, instanceIds: [] } };
    throw err;
  }
  const workflows = await lookup.publishedFor(d.trigger.id);
  if (workflows.length === 0) return { done: true, record: { ...verdict, ...noWorkflowVerdict(await lookup.unpublishedFor(d.trigger.id)), instanceIds: [] } };
  const rule = gatherRuleOf(d.trigger);
  if (rule) return planGather(d, rule, verdict, workflows, await coordinatorDedupKey(d.trigger.id, decision.dedupKey));
  const starts = await Promise.all(workflows.map((wf) => plannedStart(d, wf, decision.dedupKey, decision.orderingKey)));
  return { done: false, verdict, starts };
}

/** An event for the trigger's gate, or an error verdict when its gather key cannot resolve or it cannot fit a batch. */
function planGather(d: Delivery, rule: GatherRule, verdict: Verdict, workflows: PublishedWorkflow[], dedupKey: string): PlannedDelivery {
  const key = gatherKeyOf(rule, d.event.message, d.event.receivedAt);
  if (!key.ok) return { done: true, record: { ...verdict, outcome: "error", detail: `${rule.kind} key: ${key.error}`, instanceIds: [] } };
  const bytes = messageBytes(d.event.message);
  if (!fitsAlone(rule, key.value, bytes)) {
    return { done: true, record: { ...verdict, outcome: "error", detail: `the event (${bytes} bytes) alone makes a batch over the 128 KB trigger-message limit`, instanceIds: [] } };
  }
  return {
    done: false,
    verdict,
    gather: {
      trigger: { id: d.trigger.id, workspaceId: d.workspaceId, type: d.trigger.type },
      rule,
      event: {
        eventId: d.eventId,
        key: key.value,
        message: d.event.message,
        receivedAt: d.event.receivedAt,
        bytes,
        dedup: { key: dedupKey, windowSeconds: d.trigger.dedup.windowSeconds },
      },
      workflows: workflows.map((wf) => ({ id: wf.id, name: wf.name })),
    },
  };
}

/** The verdict once the gate answered: the group the event joined, and the instances that group's run will be. */
export async function settleGather(plan: PlannedGathering, joined: Joined): Promise<TriggerEventRecord> {
  const instanceIds = await Promise.all(plan.gather.workflows.map((wf) => gatheredInstanceId(wf.id, joined.groupId, joined.openedAt)));
  const what = joined.outcome === "batched" ? "batch" : "debounce";
  const keyed = plan.gather.event.key === null ? "" : ` (key '${plan.gather.event.key}')`;
  const runs = plan.gather.workflows.map((wf, i) => `${wf.name} (${instanceIds[i]})`).join(", ");
  if (joined.duplicateOf !== null) {
    return { ...plan.verdict, outcome: "duplicate", detail: `same dedup key as event ${joined.duplicateOf}, already in ${what} ${joined.groupId}; its run: ${runs}`, instanceIds };
  }
  const again = joined.added ? "" : "already ";
  return { ...plan.verdict, outcome: joined.outcome, detail: `${again}in ${what} ${joined.groupId}${keyed}; its run: ${runs}`, instanceIds };
}

/** The verdict once every planned start has its coordinator's answer (in the order of `plan.starts`). */
export function settleDelivery(plan: PlannedStarts, answers: Started[]): TriggerEventRecord {
  const starts: WorkflowStart[] = plan.starts.map((s, i) => ({
    workflowId: s.workflowId,
    workflowName: s.workflowName,
    requestedId: s.requestedId,
    id: answers[i]!.id,
    duplicate: answers[i]!.duplicate === true,
  }));
  return { ...plan.verdict, ...startVerdict(starts) };
}

/**
 * The verdict for one (event, trigger) with its starts made at once (webhooks; the queue consumer
 * collects the starts of a whole message batch first). Every start is idempotent, so a retry after a
 * failure never runs twice.
 */
export async function deliver(env: Env, d: Delivery, lookup: WorkflowLookup): Promise<TriggerEventRecord> {
  const plan = await planDelivery(d, lookup);
  if (plan.done) return plan.record;
  if ("gather" in plan) {
    const gates = new GateBatch(env);
    const [joined] = await Promise.all([gates.add(plan.gather.trigger, plan.gather.rule, plan.gather.event), gates.flush()]);
    return settleGather(plan, joined);
  }
  const starts = new StartBatch(env);
  // Both awaited together: a start refused during the flush is handled at once, never left unobserved.
  const [answers] = await Promise.all([Promise.all(plan.starts.map((s) => starts.add(s.input))), starts.flush()]);
  return settleDelivery(plan, answers);
}
