// The Worker's bindings, as declared in wrangler.toml (plus the admin secret).
import type { ResourcePool } from "./pool/resource-pool.ts";
import type { WorkflowCoordinator } from "./coordinator/workflow-coordinator.ts";
import type { TriggerGate } from "./gate/trigger-gate.ts";

declare global {
  interface Env {
    DB: D1Database;
    UPLOADS: R2Bucket;
    /** Finished node logs, one object per attempt (core/logs.ts logObjectKey). */
    LOGS: R2Bucket;
    R2_EVENTS: Queue;
    USER_BEHAVIOR: Queue;
    COORDINATOR: DurableObjectNamespace<WorkflowCoordinator>;
    POOL: DurableObjectNamespace<ResourcePool>;
    /** One per batching or debouncing trigger (gate/trigger-gate.ts). */
    GATE: DurableObjectNamespace<TriggerGate>;
    ASSETS: Fetcher;
    EMULATE_R2_NOTIFICATIONS: string;
    LEASE_SECONDS: string;
    /** Days finished instances, logs and trigger events are kept (at least 14). */
    RETENTION_DAYS?: string;
    /** Minutes a coordinator keeps a finished instance's live state (default 60; core/live-window.ts). */
    LIVE_WINDOW_MINUTES?: string;
    /** Days audit rows are kept (default 365, never fewer than RETENTION_DAYS). */
    AUDIT_RETENTION_DAYS?: string;
    /** Bootstrap admin API key (a secret in production; `npm start` passes one). */
    SLUICE_ADMIN_TOKEN?: string;
    /** 32 random bytes, base64: seals webhook secrets at rest (a secret in production; `npm start` keeps a local one). */
    SLUICE_SECRET_KEY?: string;
    /** The console's public origin (e.g. https://sluice.example.com): alerts link to instances there (`npm start` sets the local one). */
    PUBLIC_URL?: string;
    /** Set only by the fault-injection suite's test config: arms the hooks of worker/faults.ts. Never in production. */
    SLUICE_FAULTS?: string;
  }
  namespace Cloudflare {
    interface Env extends globalThis.Env {}
  }
}
export {};
