// TriggerGate Durable Object: one per batching or debouncing trigger; gathers its events and starts a group's runs when it closes.
import { DurableObject } from "cloudflare:workers";
import { newId } from "../core/ids.ts";
import { singleFlight } from "../core/single-flight.ts";
import {
  admit,
  batchMessage,
  CLOSED_MEMORY_MS,
  coordinatorDedupKey,
  DEDUP_WINDOW,
  gatheredDedupKey,
  gatheredInstanceId,
  groupEventId,
  groupsToStart,
  noWorkflowVerdict,
  startRetryAt,
  startVerdict,
  type GatherEvent,
  type GatherRule,
  type Group,
  type Joined,
} from "../core/triggers/index.ts";
import { publishedWorkflowsOf, unpublishedWorkflowsOf } from "../db/triggers.ts";
import { recordEvents, type TriggerEventRecord } from "../db/trigger-events.ts";
import { injectFault } from "../faults.ts";
import { StartBatch } from "../ingest/starts.ts";
import { GateStore, type GateTrigger } from "./gate-store.ts";

/** Groups started per alarm round: a backlog of due groups is worked off round after round. */
const GROUPS_PER_ROUND = 100;

export class TriggerGate extends DurableObject<Env> {
  private readonly store: GateStore;
  /** One round of starts at a time: an alarm and a count-closed batch asking together start each group once. */
  private readonly startDue = singleFlight(() => this.startDueGroups(), () => undefined);

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

  /** What the gate holds (tests). */
  async counts() {
    return this.store.counts();
  }

  override async alarm(): Promise<void> {
    await this.startDue();
  }

  private async armAlarm(): Promise<void> {
    const at = this.store.nextWake(CLOSED_MEMORY_MS);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
  }

  /**
   * Starts every due group with one call per workflow coordinator, then writes the groups' own event-log rows and
   * marks them started. A group whose start (or log row) failed stays closing and is tried again from the alarm,
   * with the same instance ids and dedup key, so a repeated close never runs twice.
   */
  private async startDueGroups(): Promise<void> {
    const now = Date.now();
    const due = this.ctx.storage.transactionSync(() => {
      const groups = groupsToStart(this.store.dueGroups(now, GROUPS_PER_ROUND), now);
      for (const g of groups) this.store.saveGroup(g);
      return groups;
    });
    const trigger = this.store.trigger();
    if (due.length > 0 && trigger) {
      const rows = await Promise.all(due.map((g) => this.startGroupRun(trigger, g).catch((err: unknown) => this.failed(g, err))));
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
    this.store.purgeStarted(Date.now() - CLOSED_MEMORY_MS, Date.now());
    await this.armAlarm();
  }

  private failed(group: Group, err: unknown): null {
    console.error(`sluice gate: group ${group.id} (attempt ${group.attempts + 1}) could not start; retrying: ${err instanceof Error ? err.message : String(err)}`);
    group.attempts += 1;
    group.dueAt = startRetryAt(group, Date.now());
    this.store.saveGroup(group);
    return null;
  }

  /** Starts one group's run in each published workflow of the trigger; returns the group's event-log row. */
  private async startGroupRun(trigger: GateTrigger, group: Group): Promise<TriggerEventRecord> {
    const messages = this.store.messagesOf(group);
    const message = group.rule.kind === "batch" ? batchMessage(group, messages) : messages[0];
    const what = group.rule.kind === "batch" ? `batch of ${messages.length} event(s)` : `debounce of ${group.count} event(s)`;
    const keyed = group.key === null ? "" : ` (key '${group.key}')`;
    const base = {
      id: await groupEventId(group.id, group.openedAt),
      triggerId: trigger.id,
      workspaceId: trigger.workspaceId,
      receivedAt: Date.now(),
      source: group.rule.kind,
      sourceId: group.id,
      dedupKey: gatheredDedupKey(group.id),
      message,
    };
    const workflows = await publishedWorkflowsOf(this.env.DB, trigger.id);
    if (workflows.length === 0) {
      const none = noWorkflowVerdict(await unpublishedWorkflowsOf(this.env.DB, trigger.id));
      return { ...base, outcome: none.outcome, detail: `${what}${keyed}: ${none.detail}`, instanceIds: [] };
    }
    const dedup = { key: await coordinatorDedupKey(trigger.id, gatheredDedupKey(group.id)), windowSeconds: DEDUP_WINDOW.defaultSeconds };
    const planned = await Promise.all(
      workflows.map(async (wf) => ({ wf, requestedId: await gatheredInstanceId(wf.id, group.id, group.openedAt) })),
    );
    const starts = new StartBatch(this.env);
    const [answers] = await Promise.all([
      Promise.all(
        planned.map(({ wf, requestedId }) =>
          starts.add({
            workspaceId: wf.workspaceId,
            workflowId: wf.id,
            version: wf.version,
            run: {
              instanceId: requestedId,
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
          }),
        ),
      ),
      starts.flush(),
    ]);
    const verdict = startVerdict(
      planned.map(({ wf, requestedId }, i) => ({ workflowId: wf.id, workflowName: wf.name, requestedId, id: answers[i]!.id, duplicate: answers[i]!.duplicate === true })),
    );
    return { ...base, ...verdict, detail: `${what}${keyed}: ${verdict.detail}` };
  }
}
