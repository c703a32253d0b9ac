// Trigger definitions (DESIGN §2.7): the zod schema of what is saved, and the checks that refuse a bad one at save.
import { z } from "zod";
import { badRequest, type ErrorDetail } from "../errors.ts";
import { compileFilter, MAX_FILTER_LENGTH } from "./filter.ts";
import { R2_EVENT_SELECTORS } from "./r2.ts";
import { checkTemplate, MAX_TEMPLATE_LENGTH } from "./templates.ts";

export const TRIGGER_TYPES = ["r2", "queue", "webhook"] as const;
export type TriggerKind = (typeof TRIGGER_TYPES)[number];

export const DEDUP_WINDOW = { defaultSeconds: 86_400, maxSeconds: 14 * 86_400 } as const;

export const R2ConfigSchema = z.strictObject({
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, "bucket is an R2 bucket name: 3-63 lower-case letters, digits and -"),
  events: z
    .array(z.enum(R2_EVENT_SELECTORS, { error: `events are object-create, object-delete or actions: ${R2_EVENT_SELECTORS.slice(2).join(", ")}` }))
    .min(1, "events needs at least one of object-create, object-delete or an action")
    .default(["object-create"]),
  /** A glob over object keys, e.g. `input/*.csv`; `**` (the default) matches every key. */
  keyPattern: z.string().min(1).max(1024).default("**"),
});

export const QueueConfigSchema = z.strictObject({
  queue: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "queue is a queue name: lower-case letters, digits, - and _"),
  /** Only messages whose key equals this exactly start runs; null: every message. */
  key: z.string().max(1024).nullable().default(null),
});

export const WebhookConfigSchema = z.strictObject({});

export const DedupSchema = z.strictObject({
  /** A template over the trigger message; null: the default for the trigger type (see defaultDedupKey). */
  key: z.string().min(1).max(MAX_TEMPLATE_LENGTH).nullable().default(null),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(DEDUP_WINDOW.maxSeconds, `the dedup window is at most ${DEDUP_WINDOW.maxSeconds} seconds (14 days)`)
    .default(DEDUP_WINDOW.defaultSeconds),
});

export const OrderingSchema = z.strictObject({
  /** Instances whose keys are equal run one at a time, in arrival order (DESIGN §2.5). */
  key: z.string().min(1).max(MAX_TEMPLATE_LENGTH),
});

/** Events that pass the filter gathered per key value into one run (DESIGN §2.9). */
export const BatchSchema = z.strictObject({
  maxEvents: z.number().int().min(1).max(1000, "batch.maxEvents is at most 1000"),
  windowSeconds: z.number().int().min(1).max(86_400, "batch.windowSeconds is at most 86400 (a day)"),
  /** A template over the trigger message; null: one batch for every event. */
  key: z.string().min(1).max(MAX_TEMPLATE_LENGTH).nullable().default(null),
});

/** A run once no event of a key arrived for windowSeconds, with the last event (DESIGN §2.9). */
export const DebounceSchema = z
  .strictObject({
    windowSeconds: z.number().int().min(1).max(86_400, "debounce.windowSeconds is at most 86400 (a day)"),
    maxWaitSeconds: z.number().int().min(1).max(7 * 86_400).nullable().default(null),
    key: z.string().min(1).max(MAX_TEMPLATE_LENGTH).nullable().default(null),
  })
  .refine((d) => d.maxWaitSeconds === null || d.maxWaitSeconds >= d.windowSeconds, {
    message: "debounce.maxWaitSeconds is at least windowSeconds",
    path: ["maxWaitSeconds"],
  });

const common = {
  name: z.string().min(1).max(128).regex(/^\S/, "the name must not start with a space"),
  description: z.string().max(4000).default(""),
  /** A CEL condition on the trigger message, e.g. `data.object.size > 0`. */
  filter: z.string().min(1).max(MAX_FILTER_LENGTH).nullable().default(null),
  dedup: DedupSchema.default({ key: null, windowSeconds: DEDUP_WINDOW.defaultSeconds }),
  ordering: OrderingSchema.nullable().default(null),
  batch: BatchSchema.nullable().default(null),
  debounce: DebounceSchema.nullable().default(null),
  enabled: z.boolean().default(true),
};

export const TriggerInputSchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ ...common, type: z.literal("r2"), config: R2ConfigSchema }),
    z.strictObject({ ...common, type: z.literal("queue"), config: QueueConfigSchema }),
    z.strictObject({ ...common, type: z.literal("webhook"), config: WebhookConfigSchema.default({}) }),
  ],
  { error: `type is one of ${TRIGGER_TYPES.join(", ")}` },
);
export type TriggerInput = z.output<typeof TriggerInputSchema>;

export type TriggerConfig =
  | { type: "r2"; config: z.output<typeof R2ConfigSchema> }
  | { type: "queue"; config: z.output<typeof QueueConfigSchema> }
  | { type: "webhook"; config: z.output<typeof WebhookConfigSchema> };

/** What a saved trigger decides with; the adapters load it from D1. */
export type TriggerSpec = TriggerConfig & {
  id: string;
  filter: string | null;
  dedup: { key: string | null; windowSeconds: number };
  ordering: { key: string } | null;
  batch: z.output<typeof BatchSchema> | null;
  debounce: z.output<typeof DebounceSchema> | null;
  enabled: boolean;
  /** Kept events wait for resume or discard (DESIGN §2.10). */
  paused: boolean;
};

/** The event source a trigger listens to: the bucket or the queue; a webhook has its own URL. */
export function triggerSource(trigger: TriggerConfig): string | null {
  return trigger.type === "r2" ? trigger.config.bucket : trigger.type === "queue" ? trigger.config.queue : null;
}

function issuePath(path: PropertyKey[]): string | undefined {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") || undefined;
}

/**
 * Parses a trigger definition and checks what the schema cannot: the filter compiles, templates
 * refer only to the event, and a queue trigger names a queue this Worker consumes.
 */
export function parseTriggerInput(input: unknown, consumedQueues: readonly string[]): TriggerInput {
  const parsed = TriggerInputSchema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => {
      const path = issuePath(issue.path);
      return { path, message: path ? `${path}: ${issue.message}` : issue.message };
    });
    throw badRequest(details.map((d) => d.message).join("; "), details);
  }
  const trigger = parsed.data;
  const details: ErrorDetail[] = [];
  if (trigger.filter !== null) {
    const filter = compileFilter(trigger.filter);
    if (!filter.ok) details.push({ path: "filter", message: `filter: not a valid CEL condition: ${filter.error}` });
  }
  if (trigger.dedup.key !== null) details.push(...checkTemplate(trigger.dedup.key, "dedup.key"));
  if (trigger.ordering !== null) details.push(...checkTemplate(trigger.ordering.key, "ordering.key"));
  if (trigger.batch !== null && trigger.debounce !== null) details.push({ path: "debounce", message: "debounce: a trigger either batches or debounces, not both" });
  if (trigger.batch?.key) details.push(...checkTemplate(trigger.batch.key, "batch.key"));
  if (trigger.debounce?.key) details.push(...checkTemplate(trigger.debounce.key, "debounce.key"));
  if (trigger.type === "queue" && !consumedQueues.includes(trigger.config.queue)) {
    details.push({
      path: "config.queue",
      message: `config.queue: this Worker consumes no queue named '${trigger.config.queue}'; trigger queues: ${consumedQueues.join(", ")}`,
    });
  }
  if (details.length > 0) throw badRequest(details.map((d) => d.message).join("; "), details);
  return trigger;
}
