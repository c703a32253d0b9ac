// The Worker: HTTP (API, webhooks, console assets), queue consumers and the Durable Object classes.
import { createApp } from "./api/app.ts";
import { retentionDays } from "./core/retention.ts";
import { purgeHistory } from "./db/retention.ts";
import { consumeBatch } from "./ingest/queue.ts";

export { WorkflowCoordinator } from "./coordinator/workflow-coordinator.ts";
export { ResourcePool } from "./pool/resource-pool.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => consumeBatch(batch, env),
  // Cron (wrangler.toml [triggers]): history past RETENTION_DAYS goes, in bounded batches.
  scheduled: async (_controller, env) => {
    const purged = await purgeHistory(env.DB, retentionDays(env.RETENTION_DAYS));
    if (purged.instances || purged.triggerEvents) console.log("sluice retention: purged", purged);
  },
} satisfies ExportedHandler<Env>;
