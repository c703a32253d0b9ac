// TriggerGate Durable Object: one per batching or debouncing trigger; gathers its events and starts a group's runs when it closes.
import { DurableObject } from "cloudflare:workers";
import { newId } from "../core/ids.ts";
import {
  admit,
  batchMessage,
  CLOSED_MEMORY_MS,
  coordinatorDedupKey,
  DEDUP_WINDOW,
  gatheredDedupKey,
  gatheredInstanceId,
  groupEventId,
  groupStartVerdict,
  groupsToStart,
  noWorkflowVerdict,
  startRetryAt,
  type GatherEvent,
  type GatherRule,
  type Group,
  type Joined,
} from "../core/triggers/index.ts";
import type { Started } from "../coordinator/workflow-coordinator.ts";
import { publishedWorkflowsOf, unpublishedWorkflowsOf, type PublishedWorkflow } from "../db/triggers.ts";
import { recordEvents, type TriggerEventRecord } from "../db/trigger-events.ts";
import { injectFault } from "../faults.ts";
import { StartBatch, type PublishedStart } from "../ingest/starts.ts";
import { GateStore, type GateTrigger } from "./gate-store.ts";

/** Groups started per alarm round: a backlog of due groups is worked off round after round. */
const GROUPS_PER_ROUND = 100;

export class TriggerGate extends DurableObject<Env> {
  private readonly store: GateStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new GateStore(ctx.storage.sql);
  }

  /**
   * Adds a consumer batch's events of this trigger, in arrival order, in one transaction; answers the group each
   * joined. Idempotent by event id. The alarm is armed before the answer, so a group that closed by count (or
   * a window) starts even if this object is evicted right after.
   */
  async addMany(trigger: GateTrigger, rule: GatherRule, events: GatherEvent[]): Promise<Joined[]> {
    const now = Date.now();
    const joined = this.ctx.storage.transactionSync(() => {
      this.store.rememberTrigger(trigger);
      return events.map((event) => admit(this.store, rule, event, now, () => newId("grp", now)));
    });
    await this.armAlarm();
    injectFault(this.env, `gate:added:${trigger.id}`); // test/faults: the answer is lost after the commit
    return joined;
  }

  /** The only caller of the starts: alarms of one object never overlap, so a group is never started twice at once. */
  override async alarm(): Promise<void> {
    await this.startDueGroups();
  }

  private async armAlarm(): Promise<void> {
    const at = this.store.nextWake(CLOSED_MEMORY_MS);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
  }

  /**
   * Starts every due group with one call per workflow coordinator (the trigger's published workflows read once),
   * then writes the groups' own event-log rows and marks them started. A group whose start (or log row) failed
   * stays closing and is tried again from the alarm, with the same instance ids and dedup key, so a repeated close
   * never runs twice.
   */
  private async startDueGroups(): Promise<void> {
    const now = Date.now();
    const due = this.ctx.storage.transactionSync(() => {
      const groups = groupsToStart(this.store.dueGroups(now, GROUPS_PER_ROUND), now);
      for (const g of groups) this.store.saveGroup(g);
      return groups;
    });
    const trigger = this.store.trigger();
    if (due.length > 0 && trigger) await this.startGroups(trigger, due).catch((err: unknown) => due.forEach((g) => this.failed(g, err)));
    this.store.purgeStarted(Date.now() - CLOSED_MEMORY_MS, Date.now());
    await this.armAlarm();
  }

  private async startGroups(trigger: GateTrigger, due: Group[]): Promise<void> {
    const workflows = await publishedWorkflowsOf(this.env.DB, trigger.id);
    const unpublished = workflows.length === 0 ? noWorkflowVerdict(await unpublishedWorkflowsOf(this.env.DB, trigger.id)) : null;
    const plans = await Promise.all(due.map((g) => this.planGroupRun(trigger, g, workflows)));
    const starts = new StartBatch(this.env);
    const answered = plans.map((plan) => Promise.allSettled(plan.runs.map((r) => starts.add(r.start))));
    await starts.flush();
    const rows: (TriggerEventRecord | null)[] = await Promise.all(
      plans.map(async (plan, i) => {
        try {
          return settleGroupRun(plan, await answered[i]!, unpublished);
        } catch (err) {
          return this.failed(due[i]!, err);
        }
      }),
    );
    const started = due.filter((_, i) => rows[i] !== null);
    try {
      await recordEvents(this.env.DB, rows.filter((r) => r !== null));
      injectFault(this.env, `gate:started:${trigger.id}`); // test/faults: the gate dies after the starts, before marking them
      const at = Date.now();
      this.ctx.storage.transactionSync(() => started.forEach((g) => this.store.markStarted(g.id, at)));
    } catch (err) {
      started.forEach((g) => this.failed(g, err));
    }
  }

  private failed(group: Group, err: unknown): null {
    console.error(`sluice gate: group ${group.id} (attempt ${group.attempts + 1}) could not start; retrying: ${err instanceof Error ? err.message : String(err)}`);
    group.attempts += 1;
    group.dueAt = startRetryAt(group, Date.now());
    this.store.saveGroup(group);
    return null;
  }

  /** One group's run in each published workflow of the trigger, and the base of the group's own event-log row. */
  private async planGroupRun(trigger: GateTrigger, group: Group, workflows: PublishedWorkflow[]): Promise<GroupRun> {
    const messages = this.store.messagesOf(group);
    const message = group.rule.kind === "batch" ? batchMessage(group, messages) : messages[0];
    const what = group.rule.kind === "batch" ? `batch of ${messages.length} event(s)` : `debounce of ${group.count} event(s)`;
    const row = {
      id: await groupEventId(group.id, group.openedAt),
      triggerId: trigger.id,
      workspaceId: trigger.workspaceId,
      receivedAt: Date.now(),
      source: group.rule.kind,
      sourceId: group.id,
      dedupKey: gatheredDedupKey(group.id),
      message,
    };
    const dedup = { key: await coordinatorDedupKey(trigger.id, gatheredDedupKey(group.id)), windowSeconds: DEDUP_WINDOW.defaultSeconds };
    const runs = await Promise.all(
      workflows.map(async (wf) => {
        const instanceId = await gatheredInstanceId(wf.id, group.id, group.openedAt);
        const start: PublishedStart = {
          workspaceId: wf.workspaceId,
          workflowId: wf.id,
          version: wf.version,
          run: {
            instanceId,
            env: "prod",
            receivedAt: group.lastReceivedAt,
            runDate: null,
            priorityOverride: null,
            triggerType: trigger.type,
            triggerMessage: message,
            params: null,
            dedup,
            orderingKey: null,
          },
        };
        return { wf, start };
      }),
    );
    return { row, label: `${what}${group.key === null ? "" : ` (key '${group.key}')`}`, runs };
  }
}

interface GroupRun {
  row: Omit<TriggerEventRecord, "outcome" | "detail" | "instanceIds">;
  /** How the group's row names it: `batch of 3 event(s) (key 'u1')`. */
  label: string;
  runs: { wf: PublishedWorkflow; start: PublishedStart }[];
}

/** The group's own row once the coordinators answered (core/triggers/gather.ts groupStartVerdict); throws to retry. */
function settleGroupRun(plan: GroupRun, answers: PromiseSettledResult<Started>[], unpublished: ReturnType<typeof noWorkflowVerdict> | null): TriggerEventRecord {
  if (plan.runs.length === 0) {
    const none = unpublished ?? noWorkflowVerdict([]);
    return { ...plan.row, outcome: none.outcome, detail: `${plan.label}: ${none.detail}`, instanceIds: [] };
  }
  const verdict = groupStartVerdict(
    plan.label,
    plan.runs.map(({ wf, start }, i) => ({ workflowId: wf.id, workflowName: wf.name, requestedId: start.run.instanceId, answer: answers[i]! })),
  );
  if ("retry" in verdict) throw verdict.retry;
  return { ...plan.row, ...verdict };
}
