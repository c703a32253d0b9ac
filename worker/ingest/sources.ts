// The event sources this installation has (wrangler.toml): R2 buckets bound to the Worker and the trigger queues.
import type { SourceGrants } from "../core/tenancy.ts";
import { triggerQueueNames } from "./queues.ts";

/** Buckets bound to this Worker, by name (wrangler.toml r2_buckets). */
export const BUCKETS: Record<string, (env: Env) => R2Bucket> = { uploads: (env) => env.UPLOADS };

/** What the bootstrap admin may grant to workspaces. */
export function installedSources(): SourceGrants {
  return { buckets: Object.keys(BUCKETS), queues: triggerQueueNames() };
}
