// One event to one trigger: decide, start the published workflows through their coordinators, write the verdict.
import { checkTriggerMessageSize } from "../core/runs.ts";
import { SluiceError } from "../core/errors.ts";
import {
  coordinatorDedupKey,
  decide,
  noWorkflowVerdict,
  startVerdict,
  type TriggerEvent,
  type TriggerSpec,
  type WorkflowStart,
} from "../core/triggers/index.ts";
import type { Started } from "../coordinator/workflow-coordinator.ts";
import { publishedWorkflowsOf, unpublishedWorkflowsOf, type PublishedWorkflow } from "../db/triggers.ts";
import type { TriggerEventRecord } from "../db/trigger-events.ts";
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

/** A delivery decided up to its starts: either a final verdict, or the starts whose answers complete it. */
export type PlannedDelivery =
  | { done: true; record: TriggerEventRecord }
  | { done: false; verdict: Omit<TriggerEventRecord, "outcome" | "detail" | "instanceIds">; starts: PlannedStart[] };

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
  const starts = await Promise.all(workflows.map((wf) => plannedStart(d, wf, decision.dedupKey, decision.orderingKey)));
  return { done: false, verdict, starts };
}

/** The verdict once every planned start has its coordinator's answer (in the order of `plan.starts`). */
export function settleDelivery(plan: Extract<PlannedDelivery, { done: false }>, answers: Started[]): TriggerEventRecord {
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
  const starts = new StartBatch(env);
  // Both awaited together: a start refused during the flush is handled at once, never left unobserved.
  const [answers] = await Promise.all([Promise.all(plan.starts.map((s) => starts.add(s.input))), starts.flush()]);
  return settleDelivery(plan, answers);
}
