// The Worker: HTTP (API, webhooks, console assets), queue consumers and the Durable Object classes.
import { createApp } from "./api/app.ts";
import { auditRetentionDays, retentionDays } from "./core/retention.ts";
import { ARCHIVE_MIN_AGE_MS } from "./core/logs.ts";
import { archiveFinishedLogs } from "./db/log-store.ts";
import { purgeHistory } from "./db/retention.ts";
import { sealPlaintextSecrets, sealPlaintextSecretsOnce } from "./db/secret-migration.ts";
import { purgeExpiredReceipts } from "./db/webhook-receipts.ts";
import { SecretBox } from "./core/secret-box.ts";
import { consumeBatch } from "./ingest/queue.ts";
import { continueResumes } from "./ingest/resume.ts";

export { WorkflowCoordinator } from "./coordinator/workflow-coordinator.ts";
export { ResourcePool } from "./pool/resource-pool.ts";
export { TriggerGate } from "./gate/trigger-gate.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => {
    // No webhook secret stays in plaintext: an isolate seals what it finds at its first request (and the cron again).
    ctx.waitUntil(sealPlaintextSecretsOnce(env));
    return app.fetch(request, env, ctx);
  },
  queue: (batch, env) => consumeBatch(batch, env),
  // Cron (wrangler.toml [triggers], every minute): history past RETENTION_DAYS (with its R2 logs) and audit
  // rows past AUDIT_RETENTION_DAYS go, batch after batch within the run's budget; finished attempts' logs
  // still in D1 move to R2, within their own budget; expired webhook receipts go; resumed triggers' kept events
  // left by the resume request are decided; plaintext webhook secrets left from before encryption are sealed.
  scheduled: async (_controller, env) => {
    const days = retentionDays(env.RETENTION_DAYS);
    const began = Date.now();
    const purged = await purgeHistory(env, days, began, { auditDays: auditRetentionDays(env.AUDIT_RETENTION_DAYS, days) });
    if (purged.instances || purged.triggerEvents || purged.auditEvents) {
      // One line a run, the same words each time: operators grep it and the soak benchmark reads its rate from it.
      const rest = purged.complete ? "" : "; more left for the next run";
      console.log(`sluice retention: purged ${purged.instances} instances, ${purged.triggerEvents} trigger events, ${purged.auditEvents} audit rows in ${Date.now() - began} ms, ${purged.spent.queries} D1 queries and ${purged.spent.r2Calls} R2 calls${rest}`);
    }
    const archived = await archiveFinishedLogs(env.DB, env.LOGS, Date.now() - ARCHIVE_MIN_AGE_MS);
    if (archived.attempts > 0) console.log("sluice logs: archived to R2", archived);
    await purgeExpiredReceipts(env.DB, Date.now());
    // Resumed triggers' kept events the resume request left (DESIGN §2.10), within their own budget.
    const resumed = await continueResumes(env);
    if (resumed.resumed > 0) console.log(`sluice resume: decided ${resumed.resumed} kept events of ${resumed.triggers} triggers; ${resumed.remaining} left`);
    const sealed = await sealPlaintextSecrets(env.DB, SecretBox.fromEnv(env)).catch((err: unknown) => {
      console.error(`sluice: webhook secrets stored in plaintext could not be sealed: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    });
    if (sealed > 0) console.log(`sluice: sealed ${sealed} webhook secret row(s) that were stored in plaintext`);
  },
} satisfies ExportedHandler<Env>;
