// What passes between the Worker and a runner: claimed tasks under their lease ids, heartbeats, logs and results.
import { z } from "zod";

export interface RunnerTask {
  attemptId: string;
  instanceId: string;
  workflowId: string;
  nodeName: string;
  attempt: number;
  type: "shell" | "python";
  /** The node's code, references already rewritten so values stay data (DESIGN §2.3). */
  script: string;
  /** Shell only: bash sourced before the script (via BASH_ENV) that reads `values` into variables. */
  prelude: string;
  /** Shell only: the resolved values, which the runner writes to `$SLUICE_VALUES/1`, `/2`, … for the prelude. */
  values?: string[];
  env: Record<string, string>;
  timeoutSeconds: number;
  leaseSeconds: number;
  /** This lease's own random id (DESIGN §2.6): every heartbeat, log chunk and result for the attempt carries it. */
  leaseId: string;
}

/** A task as the pool keeps it: the runner's view plus its place in line. */
export interface QueuedTask {
  task: Omit<RunnerTask, "leaseSeconds" | "leaseId">;
  priority: number;
  weight: number;
  /** The workflow's `policy.share` (DESIGN §2.9): its slots per round among the workflows of its level; absent (1) in outbox rows from before. */
  share?: number;
  /** The instance's workspace: a pool leases a task only to runners of that workspace (absent in outbox rows from before). */
  workspaceId?: string;
}

/** Registration: the pool issues the runner's id, bound to the token that asked; every later call carries it. */
export const RegisterSchema = z.strictObject({
  name: z.string().max(128).default(""),
  slots: z.number().int().min(1).max(1024),
});

/** A runner id as the pool issues it (`rnr_…`); a client-chosen one is never registered. */
const RunnerId = z.string().min(1).max(128).describe("the id POST /runner/register issued to this runner");

export const ClaimSchema = z.strictObject({
  runnerId: RunnerId,
  name: z.string().max(128).default(""),
  slots: z.number().int().min(1).max(1024),
  waitMs: z.number().int().min(0).max(30_000).default(20_000),
});

/** A lease id as the pool issues it with a task (`lse_…`). */
const LeaseId = z.string().min(1).max(128).describe("the leaseId the pool issued with the task");

/** A lease the runner holds: the attempt and the id of its current lease. */
export const HeldLeaseSchema = z.strictObject({ attemptId: z.string().min(1).max(128), leaseId: LeaseId });

export const HeartbeatSchema = z.strictObject({
  runnerId: RunnerId,
  name: z.string().max(128).default(""),
  slots: z.number().int().min(0).max(1024),
  /** Every attempt the runner still has a process for, under its lease id: each live one is renewed. */
  leases: z.array(HeldLeaseSchema).max(1024),
});

/** Log chunks and results name their runner and the attempt's lease in headers (the log body is the text itself). */
export const LeaseHeadersSchema = z.object({
  "x-sluice-runner": RunnerId,
  "x-sluice-lease": LeaseId,
});

/** Outputs a node may hand downstream; the runner caps what it reads from $SLUICE_OUTPUT the same way. */
export const MAX_OUTPUTS_BYTES = 64 * 1024;

export const CompletionSchema = z.strictObject({
  exitCode: z.number().int().nullable(),
  signal: z.string().max(32).nullable().default(null),
  outputs: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
    .default({})
    .refine((o) => new TextEncoder().encode(JSON.stringify(o)).byteLength <= MAX_OUTPUTS_BYTES + 1024, {
      message: `outputs are at most ${MAX_OUTPUTS_BYTES} bytes`,
    }),
  error: z.string().max(4096).nullable().default(null),
});
export type Completion = z.output<typeof CompletionSchema>;

/**
 * A result, plus how many slots the runner has free once this attempt's is released: the pool leases
 * that many next tasks in the same call (one hop per node). 0 asks for none.
 */
export const ResultSchema = CompletionSchema.extend({
  freeSlots: z.number().int().min(0).max(1024).default(0),
});

/** Log volume kept per node run; past it one truncation line is written and the rest dropped. */
export const MAX_LOG_BYTES_PER_RUN = 5 * 1024 * 1024;
export const MAX_LOG_CHUNK_BYTES = 256 * 1024;
