// The Worker: HTTP (API, webhooks, console assets), queue consumers and the Durable Object classes.
import { createApp } from "./api/app.ts";
import { consumeBatch } from "./ingest/queue.ts";

export { WorkflowCoordinator } from "./coordinator/workflow-coordinator.ts";
export { ResourcePool } from "./pool/resource-pool.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => consumeBatch(batch, env),
} satisfies ExportedHandler<Env>;
