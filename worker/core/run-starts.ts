// Run requests resolved against their definitions: each run's parameters and cycle time, every run checked before any starts.
import type { Priority, WorkflowDefinition } from "./definition.ts";
import { badRequest, SluiceError, type ErrorDetail } from "./errors.ts";
import { resolveConcurrencyKey, type KeyResolution } from "./concurrency-key.ts";
import { runClock } from "./params/index.ts";
import { mergeRunParams, type TriggerType } from "./runs.ts";

/** The most runs one request (`{runs: [...]}`) may start. */
export const MAX_RUNS_PER_REQUEST = 100;

/** One run as the Worker asks for it: ids and inputs only; the coordinator holds the definition. */
export interface RunSpec {
  instanceId: string;
  env: "dev" | "prod";
  receivedAt: number;
  /** yyyymmdd; null: the run's cycle time is when it was received. */
  runDate: string | null;
  priorityOverride: Priority | null;
  triggerType: TriggerType;
  triggerMessage: unknown;
  /** Overrides of declared workflow parameters; null: the declared values. */
  params: Record<string, string> | null;
  /** Built-in idempotency (DESIGN §2.7): a second start with the same key inside the window starts nothing. */
  dedup?: { key: string; windowSeconds: number } | null;
  /** Instances that share an ordering key run one at a time, in arrival order (DESIGN §2.5). */
  orderingKey?: string | null;
}

export interface ResolvedRun {
  params: Record<string, string>;
  cyctime: number;
  /** policy.concurrency.key's value for this run (null: the workflow has no key); an error skips the instance. */
  concurrencyKey: KeyResolution | null;
}

/**
 * Parameters and cycle time of every run. Problems of all runs are gathered into one 400; in a batch
 * each is named by its place (`runs[3].params.x`), so nothing starts until the whole request is right.
 */
export function resolveRuns(runs: RunSpec[], definitionOf: (run: RunSpec) => WorkflowDefinition, batch: boolean): ResolvedRun[] {
  const messages: string[] = [];
  const details: ErrorDetail[] = [];
  const resolved = runs.map((run, i) => {
    const def = definitionOf(run);
    try {
      const clock = runClock({ runDate: run.runDate ?? undefined, receivedAt: new Date(run.receivedAt), timezone: def.policy.timezone });
      const params = mergeRunParams(def.params, run.params ?? undefined);
      const key = def.policy.concurrency?.key;
      // Resolved once, here: the instance keeps its key's value for good (reruns wait in the same line).
      const concurrencyKey = key === undefined ? null : resolveConcurrencyKey(key, { triggerMessage: run.triggerMessage, params, clock });
      return { params, cyctime: clock.cyctime.getTime(), concurrencyKey };
    } catch (err) {
      if (!(err instanceof SluiceError) || err.status !== 400) throw err;
      const at = batch ? `runs[${i}]` : "";
      messages.push(at ? `${at}: ${err.message}` : err.message);
      const found = err.details.length > 0 ? err.details : [{ path: run.runDate !== null ? "runDate" : undefined, message: err.message }];
      for (const d of found) {
        const path = [at, d.path].filter(Boolean).join(".");
        details.push({ path: path || undefined, message: at ? `${at}: ${d.message}` : d.message });
      }
      return null;
    }
  });
  if (messages.length > 0) throw badRequest(messages.length === 1 ? messages[0]! : `${messages.length} runs are invalid: ${messages.join("; ")}`, details);
  return resolved as ResolvedRun[];
}
