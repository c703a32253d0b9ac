// Replay: a logged event's stored message decided again now, as a new event that names the one it replays (DESIGN §2.10).
import { conflict, notFound } from "../core/errors.ts";
import { derivedInstanceId } from "../core/ids.ts";
import { decidedAgainInstanceSeed, loggedEvent, replayDedupKey, sha256Hex, wholeMessage, withFixedDedupKey } from "../core/triggers/index.ts";
import { claimReplay, loggedEventOf, settleReplay } from "../db/kept-events.ts";
import type { TriggerEventRecord } from "../db/trigger-events.ts";
import { toSpec, triggerRow } from "../db/triggers.ts";
import { deliver, WorkflowLookup } from "./deliver.ts";

export type ReplayedEvent = TriggerEventRecord & { replayOf: string };

/**
 * Replays `eventId` of the workspace's trigger against the trigger's current configuration and published
 * workflows, through the live delivery path (a paused trigger keeps the replay like any new event). Replay n takes
 * its number by inserting its row first; its dedup key `replay:<id>:<n>` and instance ids derive from that row, so
 * each request starts at most one run per workflow, and a start repeated inside it finds the same run.
 */
export async function replayEvent(env: Env, workspaceId: string, triggerId: string, eventId: string, now = Date.now()): Promise<ReplayedEvent> {
  const trigger = await triggerRow(env.DB, triggerId);
  if (!trigger || trigger.workspaceId !== workspaceId) throw notFound(`trigger ${triggerId}`);
  const source = await loggedEventOf(env.DB, workspaceId, eventId, triggerId);
  const whole = wholeMessage(source);
  if (!whole.ok) throw conflict(`event ${eventId} cannot be replayed: ${whole.reason}`);
  const claim = await claimReplay(env.DB, source, now);
  const dedupKey = replayDedupKey(source.id, claim.n);
  const spec = withFixedDedupKey(toSpec(trigger), dedupKey);
  let record: TriggerEventRecord;
  try {
    record = await deliver(
      env,
      {
        trigger: spec,
        workspaceId,
        event: loggedEvent(spec, whole.message, now, source.sourceId),
        eventId: claim.id,
        instanceIdFor: async (workflowId) => derivedInstanceId(workflowId, now, await sha256Hex(decidedAgainInstanceSeed(claim.id, workflowId))),
        source: source.source,
        sourceId: source.sourceId,
      },
      new WorkflowLookup(env.DB),
    );
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    await settleReplay(env.DB, { ...failedReplay(claim.id, source.triggerId, workspaceId, now), detail: `replay ${claim.n} of ${eventId} failed: ${why}` }).catch(() => {});
    throw err;
  }
  // The replay key is written even when nothing started: a kept replay is resumed under it, never under the original's.
  const replayed: ReplayedEvent = { ...record, dedupKey: record.dedupKey ?? dedupKey, replayOf: source.id };
  await settleReplay(env.DB, replayed);
  return replayed;
}

function failedReplay(id: string, triggerId: string, workspaceId: string, now: number): TriggerEventRecord {
  return { id, triggerId, workspaceId, receivedAt: now, source: "", sourceId: null, dedupKey: null, outcome: "error", detail: "", instanceIds: [], message: null };
}
