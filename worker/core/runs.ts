// Starting a run: the request's shape, which definition an environment runs, and effective priority.
import { z } from "zod";
import { PRIORITY_LEVELS, type NodeDefinition, type Priority, type WorkflowDefinition } from "./definition.ts";
import { badRequest, SluiceError } from "./errors.ts";

/** Queues cap a message at 128 KB; a trigger message from any source gets the same bound. */
export const MAX_TRIGGER_MESSAGE_BYTES = 128 * 1024;

export const RunRequestSchema = z.strictObject({
  env: z.enum(["dev", "prod"]),
  runDate: z
    .string()
    .regex(/^\d{8}$/, "runDate is a date as yyyymmdd, e.g. 20260310")
    .optional(),
  triggerMessage: z.unknown().optional(),
  priority: z
    .number()
    .int()
    .refine((p) => (PRIORITY_LEVELS as readonly number[]).includes(p), "priority must be one of 1, 3, 5, 7, 8")
    .optional(),
  params: z.record(z.string(), z.string()).optional(),
  fromEventId: z
    .string()
    .min(1)
    .optional()
    .describe("A logged trigger event of this workspace (GET /triggers/{id}/events): its stored message becomes the trigger message (not with triggerMessage)"),
});
export type RunRequest = z.output<typeof RunRequestSchema>;

export type TriggerType = "manual" | "api" | "r2" | "queue" | "webhook";

export interface WorkflowForRun {
  publishedVersion: number | null;
}

/** dev runs the draft; prod runs the published version and nothing else (DESIGN §2.8). */
export function versionForRun(workflow: WorkflowForRun, env: "dev" | "prod"): number | null {
  if (env === "dev") return null;
  if (workflow.publishedVersion === null) {
    throw new SluiceError(409, "not_published", "this workflow has no published version yet: publish it before a prod run, or run it in dev");
  }
  return workflow.publishedVersion;
}

/** Run-time params override declared workflow params; an undeclared one is a mistake worth naming. */
export function mergeRunParams(declared: Record<string, string>, overrides: Record<string, string> = {}): Record<string, string> {
  const unknown = Object.keys(overrides).filter((k) => !(k in declared));
  if (unknown.length > 0) {
    throw badRequest(
      `params ${unknown.map((k) => `'${k}'`).join(", ")} are not parameters of this workflow; declared: ${Object.keys(declared).join(", ") || "none"}`,
      unknown.map((k) => ({ path: `params.${k}`, message: "not a declared workflow parameter" })),
    );
  }
  return { ...declared, ...overrides };
}

/** A run takes its trigger message from the request or from a logged event, never both (`index`: the run of a batch). */
export function checkMessageSource(request: RunRequest, index: number | null): void {
  if (request.fromEventId === undefined || request.triggerMessage === undefined) return;
  const path = index === null ? "fromEventId" : `runs[${index}].fromEventId`;
  throw badRequest(`${path}: give either triggerMessage or fromEventId (whose stored message becomes the trigger message), not both`, [
    { path, message: "not together with triggerMessage" },
  ]);
}

export function checkTriggerMessageSize(message: unknown): void {
  const bytes = new TextEncoder().encode(JSON.stringify(message ?? {})).byteLength;
  if (bytes > MAX_TRIGGER_MESSAGE_BYTES) {
    throw new SluiceError(413, "payload_too_large", `the trigger message is ${bytes} bytes; the limit is ${MAX_TRIGGER_MESSAGE_BYTES} bytes (128 KB)`);
  }
}

/** runtime override > node priority > workflow priority (DESIGN §2.4). */
export function effectivePriority(override: Priority | null, node: NodeDefinition | null, def: WorkflowDefinition): Priority {
  return (override ?? node?.priority ?? def.policy.priority) as Priority;
}
