// The trigger form: its fields ↔ the API's trigger input, sample messages for the test bench, and outcomes in words.
import type { ErrorDetail, EventOutcome, Trigger, TriggerConfig, TriggerEvent, TriggerInput, TriggerKind } from "./api/types.ts";

/** How a trigger turns events into runs: one run each, gathered into batches, or debounced (DESIGN §2.9). */
export type Gathering = "none" | "batch" | "debounce";

export interface TriggerForm {
  name: string;
  description: string;
  type: TriggerKind;
  bucket: string;
  /** Comma-separated: object-create, object-delete or R2 action names. */
  events: string;
  keyPattern: string;
  queue: string;
  /** Blank: every message of the queue. */
  messageKey: string;
  filter: string;
  dedupKey: string;
  /** Hours, as typed. */
  dedupHours: string;
  orderingKey: string;
  gathering: Gathering;
  batchMaxEvents: string;
  batchWindowSeconds: string;
  batchKey: string;
  debounceWindowSeconds: string;
  /** Blank: no cap on how long a stream of events can put the run off. */
  debounceMaxWaitSeconds: string;
  debounceKey: string;
  enabled: boolean;
}

export const DEFAULT_DEDUP_HOURS = 24;

export function emptyForm(type: TriggerKind = "r2"): TriggerForm {
  return {
    name: "",
    description: "",
    type,
    bucket: "uploads",
    events: "object-create",
    keyPattern: "input/*.csv",
    queue: "user-behavior",
    messageKey: "",
    filter: "",
    dedupKey: "",
    dedupHours: String(DEFAULT_DEDUP_HOURS),
    orderingKey: "",
    gathering: "none",
    batchMaxEvents: "100",
    batchWindowSeconds: "60",
    batchKey: "",
    debounceWindowSeconds: "30",
    debounceMaxWaitSeconds: "",
    debounceKey: "",
    enabled: true,
  };
}

export function formFromTrigger(trigger: Trigger): TriggerForm {
  const form = emptyForm(trigger.type);
  const config: TriggerConfig = trigger.config;
  return {
    ...form,
    name: trigger.name,
    description: trigger.description ?? "",
    bucket: config.bucket ?? form.bucket,
    events: (config.events ?? ["object-create"]).join(", "),
    keyPattern: config.keyPattern ?? "**",
    queue: config.queue ?? form.queue,
    messageKey: config.key ?? "",
    filter: trigger.filter ?? "",
    dedupKey: trigger.dedup?.key ?? "",
    dedupHours: String(Math.round(((trigger.dedup?.windowSeconds ?? 86_400) / 3600) * 100) / 100),
    orderingKey: trigger.ordering?.key ?? "",
    gathering: trigger.batch ? "batch" : trigger.debounce ? "debounce" : "none",
    ...(trigger.batch
      ? { batchMaxEvents: String(trigger.batch.maxEvents), batchWindowSeconds: String(trigger.batch.windowSeconds), batchKey: trigger.batch.key ?? "" }
      : {}),
    ...(trigger.debounce
      ? {
          debounceWindowSeconds: String(trigger.debounce.windowSeconds),
          debounceMaxWaitSeconds: trigger.debounce.maxWaitSeconds === null ? "" : String(trigger.debounce.maxWaitSeconds),
          debounceKey: trigger.debounce.key ?? "",
        }
      : {}),
    enabled: trigger.enabled,
  };
}

export type FormErrors = Partial<Record<keyof TriggerForm, string>>;

/** The server's detail paths (`batch.key`, `debounce.maxWaitSeconds`, …) → the form field that holds them. */
const SERVER_FIELDS: Record<string, keyof TriggerForm> = {
  name: "name",
  filter: "filter",
  "dedup.key": "dedupKey",
  "dedup.windowSeconds": "dedupHours",
  "ordering.key": "orderingKey",
  "config.bucket": "bucket",
  "config.events": "events",
  "config.queue": "queue",
  "batch.maxEvents": "batchMaxEvents",
  "batch.windowSeconds": "batchWindowSeconds",
  "batch.key": "batchKey",
  "debounce.windowSeconds": "debounceWindowSeconds",
  "debounce.maxWaitSeconds": "debounceMaxWaitSeconds",
  "debounce.key": "debounceKey",
  debounce: "gathering",
};

/** A refused save's details on the fields they name; the rest stay in the notice above the form. */
export function formErrorsFrom(details: readonly ErrorDetail[]): FormErrors {
  const errors: FormErrors = {};
  for (const detail of details) {
    const field = detail.path ? SERVER_FIELDS[detail.path] : undefined;
    if (field && !errors[field]) errors[field] = detail.message;
  }
  return errors;
}

/** The input to save, or what to fix first (the server checks the rest: CEL filters, templates, queue names). */
export function triggerFromForm(form: TriggerForm): { ok: true; input: TriggerInput } | { ok: false; errors: FormErrors } {
  const errors: FormErrors = {};
  if (!form.name.trim()) errors.name = "Give the trigger a name.";
  const hours = Number(form.dedupHours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 14 * 24) errors.dedupHours = "Between a few seconds and 336 hours (14 days).";
  const events = form.events.split(",").map((e) => e.trim()).filter(Boolean);
  if (form.type === "r2") {
    if (!form.bucket.trim()) errors.bucket = "Which bucket?";
    if (events.length === 0) errors.events = "At least one event type, e.g. object-create.";
  }
  if (form.type === "queue" && !form.queue.trim()) errors.queue = "Which queue?";
  // Number inputs bound with bind:value hand over numbers (or null when blank), typed ones strings.
  const whole = (value: string | number | null) => {
    const text = String(value ?? "").trim();
    return /^\d+$/.test(text) && Number(text) >= 1 ? Number(text) : null;
  };
  if (form.gathering === "batch") {
    if (whole(form.batchMaxEvents) === null) errors.batchMaxEvents = "A whole number of events, at least 1.";
    if (whole(form.batchWindowSeconds) === null) errors.batchWindowSeconds = "A whole number of seconds, at least 1.";
  }
  if (form.gathering === "debounce") {
    if (whole(form.debounceWindowSeconds) === null) errors.debounceWindowSeconds = "A whole number of seconds, at least 1.";
    if (String(form.debounceMaxWaitSeconds ?? "").trim() && whole(form.debounceMaxWaitSeconds) === null) errors.debounceMaxWaitSeconds = "Blank, or a whole number of seconds.";
  }
  if (Object.keys(errors).length) return { ok: false, errors };

  const config =
    form.type === "r2"
      ? { bucket: form.bucket.trim(), events, keyPattern: form.keyPattern.trim() || "**" }
      : form.type === "queue"
        ? { queue: form.queue.trim(), key: form.messageKey === "" ? null : form.messageKey }
        : {};
  return {
    ok: true,
    input: {
      name: form.name.trim(),
      description: form.description,
      type: form.type,
      config,
      filter: form.filter.trim() || null,
      dedup: { key: form.dedupKey.trim() || null, windowSeconds: Math.round(hours * 3600) },
      ordering: form.orderingKey.trim() ? { key: form.orderingKey.trim() } : null,
      batch:
        form.gathering === "batch"
          ? { maxEvents: whole(form.batchMaxEvents)!, windowSeconds: whole(form.batchWindowSeconds)!, key: form.batchKey.trim() || null }
          : null,
      debounce:
        form.gathering === "debounce"
          ? {
              windowSeconds: whole(form.debounceWindowSeconds)!,
              maxWaitSeconds: whole(form.debounceMaxWaitSeconds),
              key: form.debounceKey.trim() || null,
            }
          : null,
      enabled: form.enabled,
      // The type and its config agree by construction; the server names any event it does not know.
    } as TriggerInput,
  };
}

/** A key a glob would match, for a sample: `input/*.csv` → `input/sample.csv`, `**` → `sample.txt`. */
export function exampleKey(pattern: string): string {
  const key = pattern
    .replace(/\*\*\/?/g, "")
    .replace(/\*/g, "sample")
    .replace(/\?/g, "x")
    .replace(/\{([^,}]*)[^}]*\}/g, "$1")
    .replace(/\[[^\]]*\]/g, "a");
  return key === "" || key.endsWith("/") ? `${key}sample.txt` : key;
}

/** A message as the source would deliver it, for the test bench. */
export function sampleMessage(form: TriggerForm, now: Date = new Date()): unknown {
  if (form.type === "r2") {
    return {
      account: "local",
      action: "PutObject",
      bucket: form.bucket || "uploads",
      object: { key: exampleKey(form.keyPattern || "**"), size: 1024, eTag: "0123456789abcdef" },
      eventTime: now.toISOString(),
    };
  }
  if (form.type === "queue") {
    return { key: form.messageKey || "some-key", value: { user_id: "1001", action_type: "login", timestamp: 1688888888 } };
  }
  return { event: "order.created", order: { id: "o_1001", total: 42 } };
}

const OUTCOMES: Record<EventOutcome | "would_start", string> = {
  started: "started a run",
  would_start: "would start a run",
  duplicate: "duplicate: the same event started a run already",
  filtered: "filtered out by the trigger's condition",
  key_mismatch: "the message key is not the trigger's key",
  unpublished: "the workflow has no published version",
  disabled: "the trigger is disabled",
  no_workflow: "no published workflow selects this trigger",
  error: "could not be processed",
  not_granted: "the workspace no longer holds this bucket or queue",
  batched: "gathered into a batch: one run starts for the batch",
  debounced: "held back: a run starts once the key has been quiet",
  paused: "kept while the trigger is paused: resume starts it, discard drops it",
  discarded: "dropped by discard while the trigger was paused",
};

export function outcomeText(outcome: string): string {
  return OUTCOMES[outcome as EventOutcome] ?? outcome;
}

export function outcomeTone(outcome: string): "ok" | "bad" | "muted" | "idle" | "live" {
  if (outcome === "started" || outcome === "would_start") return "ok";
  // Joined a run that is still gathering, or waits for resume: it will start something.
  if (outcome === "batched" || outcome === "debounced") return "live";
  if (outcome === "error") return "bad";
  if (outcome === "duplicate" || outcome === "filtered" || outcome === "key_mismatch" || outcome === "discarded") return "muted";
  return "idle";
}

/** Outcomes a replay is for (DESIGN §2.10): events that started nothing by mistake, or a run to do again. */
export function replayable(event: Pick<TriggerEvent, "outcome">): boolean {
  return event.outcome !== "paused";
}

/** Where an event came from, for the event log: the object key, the message key, or the webhook id. */
export function eventSubject(event: TriggerEvent): string {
  const message = event.message as { subject?: unknown; key?: unknown } | null;
  if (message && typeof message === "object") {
    if (typeof message.subject === "string") return message.subject;
    if (typeof message.key === "string") return message.key;
  }
  return event.sourceId ?? "";
}

/** The events since `since` about one object key (upload page) or message key (send page). */
export function eventsAbout(events: readonly TriggerEvent[], since: Date, subject?: string): TriggerEvent[] {
  return events.filter(
    (e) => Date.parse(e.lastReceivedAt ?? e.receivedAt) >= since.getTime() - 2000 && (subject === undefined || eventSubject(e) === subject),
  );
}
