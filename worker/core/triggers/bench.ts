// The trigger test bench: how each Sluice reference in a workflow's nodes would resolve for a sample message.
import type { WorkflowDefinition } from "../definition.ts";
import type { ErrorDetail } from "../errors.ts";
import { referencesIn, resolveText, runClock, type Reference } from "../params/index.ts";
import type { TriggerSpec } from "./config.ts";
import type { TriggerEvent } from "./decide.ts";
import { batchMessage, gatherKeyOf, gatherOutcome, gatherRuleOf, type GatherOutcome } from "./gather.ts";
import { queueRecord } from "./queue-record.ts";
import { cloudEvent, cloudEventId, R2NotificationSchema } from "./r2.ts";

export interface ResolvedReference {
  node: string;
  ref: string;
  /** The value the node would receive (as a literal string), when it resolves. */
  value?: string;
  /** Why it does not resolve: the node would fail before running. */
  error?: string;
  /** For `${nodes.<node>.outputs.<key>}`: only known once that node has run. */
  note?: string;
}

const BUILTINS = new Set(["bizdate", "cyctime"]);

/** Sluice's references in node code; other `${NAME}` are the language's own (bash variables, f-strings). */
function isSluiceReference(ref: Reference, declared: Set<string>): boolean {
  if (ref.kind === "date") return true;
  return ref.name.startsWith("workflow.") || ref.name.startsWith("nodes.") || declared.has(ref.name) || BUILTINS.has(ref.name);
}

/** Every reference of every node, in node order, resolved as an event received at `receivedAt` would. */
export function explainReferences(def: WorkflowDefinition, message: unknown, receivedAt: number): ResolvedReference[] {
  const clock = runClock({ receivedAt: new Date(receivedAt), timezone: def.policy.timezone });
  const out: ResolvedReference[] = [];
  for (const node of def.nodes) {
    const declared = new Set([...Object.keys(node.params), ...Object.keys(def.params)]);
    const seen = new Set<string>();
    for (const ref of referencesIn(node.code)) {
      if (!isSluiceReference(ref, declared) || seen.has(ref.raw)) continue;
      seen.add(ref.raw);
      if (ref.name.startsWith("nodes.")) {
        out.push({ node: node.name, ref: ref.raw, note: "an upstream node's output: known once that node has run" });
        continue;
      }
      const resolved = resolveText(ref.raw, { workflowParams: def.params, nodeParams: node.params, nodeOutputs: {}, triggerMessage: message, clock });
      out.push(resolved.ok ? { node: node.name, ref: ref.raw, value: resolved.text } : { node: node.name, ref: ref.raw, error: resolved.message });
    }
  }
  return out;
}

export interface SampleMessage {
  /** What the source delivers: an R2 notification, a queue producer body, or a webhook's JSON body. */
  message: unknown;
  /** The queue message id or webhook-id the sample stands for (the default dedup keys use them). */
  messageId?: string;
}

/** Builds the event a sample would be, exactly as ingest does, so the bench shows the real trigger message. */
export async function sampleEvent(trigger: TriggerSpec, sample: SampleMessage, receivedAt: number): Promise<{ ok: true; event: TriggerEvent } | { ok: false; details: ErrorDetail[] }> {
  const messageId = sample.messageId ?? "sample-message";
  switch (trigger.type) {
    case "r2": {
      const parsed = R2NotificationSchema.safeParse(sample.message);
      if (!parsed.success) {
        return {
          ok: false,
          details: parsed.error.issues.map((i) => ({ path: ["message", ...i.path].join("."), message: `message.${i.path.join(".")}: ${i.message} (an R2 event notification is expected)` })),
        };
      }
      return { ok: true, event: { type: "r2", message: cloudEvent(parsed.data, await cloudEventId(parsed.data)), receivedAt } };
    }
    case "queue":
      return { ok: true, event: { type: "queue", message: queueRecord(trigger.config.queue, sample.message, { id: messageId, timestamp: receivedAt }), receivedAt } };
    case "webhook":
      return { ok: true, event: { type: "webhook", message: sample.message, webhookId: messageId, receivedAt } };
  }
}

/** What a gathering trigger would do with a sample: the group it joins, and the message its run would carry. */
export type GatherPreview =
  | { outcome: GatherOutcome; detail: string; gatherKey: string | null; runMessage: unknown }
  | { outcome: "error"; detail: string; gatherKey: null; runMessage: null };

/**
 * The test bench's view of a batching or debouncing trigger (DESIGN §2.9), null for one that starts a run per
 * event. A batch's run reads `{batch, events}`, shown here as a batch of this one sample; a debounced run reads the
 * last event, which is the sample itself.
 */
export function gatherPreview(trigger: Pick<TriggerSpec, "batch" | "debounce">, event: TriggerEvent): GatherPreview | null {
  const rule = gatherRuleOf(trigger);
  if (!rule) return null;
  const key = gatherKeyOf(rule, event.message, event.receivedAt);
  if (!key.ok) return { outcome: "error", detail: `${rule.kind} key: ${key.error}`, gatherKey: null, runMessage: null };
  const keyed = key.value === null ? "the trigger's one group" : `the group of key '${key.value}'`;
  if (rule.kind === "batch") {
    const runMessage = batchMessage({ key: key.value, count: 1, firstReceivedAt: event.receivedAt, lastReceivedAt: event.receivedAt }, [event.message]);
    const detail = `would join ${keyed}: one run when ${rule.maxEvents} events arrived or ${rule.windowSeconds} s after the first, with {batch, events}`;
    return { outcome: gatherOutcome(rule), detail, gatherKey: key.value, runMessage };
  }
  const cap = rule.maxWaitSeconds === null ? "" : `, at most ${rule.maxWaitSeconds} s after the first`;
  const detail = `would join ${keyed}: one run with the last event once none arrived for ${rule.windowSeconds} s${cap}`;
  return { outcome: gatherOutcome(rule), detail, gatherKey: key.value, runMessage: event.message };
}
