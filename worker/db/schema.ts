// D1 tables (drizzle): definitions and history. Live scheduling state is in the Durable Objects.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at").notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull().references(() => workspaces.id),
    name: text("name").notNull(),
    /** admin | developer | operator | viewer | runner */
    role: text("role").notNull(),
    /** SHA-256 of the key, hex; the key itself is shown once and never stored. */
    keyHash: text("key_hash").notNull(),
    keyPrefix: text("key_prefix").notNull(),
    /** Runner tokens are bound to one resource group. */
    resourceGroup: text("resource_group"),
    createdAt: createdAt(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash)],
);

export const workflows = sqliteTable(
  "workflows",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull().references(() => workspaces.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** The editable draft, a WorkflowDefinition as JSON. */
    draft: text("draft").notNull(),
    publishedVersion: integer("published_version"),
    /** The draft's policy.triggerId: a matching event names drafts not yet published with it. */
    triggerId: text("trigger_id"),
    /** The published version's policy.triggerId, set at publish: what a trigger's events start. */
    publishedTriggerId: text("published_trigger_id"),
    /** Bumped by every save of the draft: publish freezes the revision it validated (compare-and-set); dev runs cache by it. */
    draftRevision: integer("draft_revision").notNull().default(1),
    /** Signs the workflow's alerts like a Standard Webhook (whsec_…), sealed with SLUICE_SECRET_KEY; made at the first alert. */
    alertSecret: text("alert_secret"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("workflows_name").on(t.workspaceId, t.name),
    index("workflows_trigger").on(t.triggerId),
    index("workflows_published_trigger").on(t.publishedTriggerId),
    // The workflow list pages newest first within a workspace.
    index("workflows_recent").on(t.workspaceId, t.updatedAt, t.id),
  ],
);

export const workflowVersions = sqliteTable(
  "workflow_versions",
  {
    workflowId: text("workflow_id").notNull().references(() => workflows.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    definition: text("definition").notNull(),
    /** Node weights computed at publish (DESIGN §2.4), JSON { node: weight }. */
    weights: text("weights").notNull(),
    message: text("message").notNull().default(""),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.workflowId, t.version] })],
);

export const instances = sqliteTable(
  "instances",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    workflowId: text("workflow_id").notNull(),
    workflowName: text("workflow_name").notNull(),
    /** null: a dev run of the draft. */
    version: integer("version"),
    env: text("env").notNull(),
    status: text("status").notNull(),
    priority: integer("priority").notNull(),
    runDate: text("run_date"),
    triggerType: text("trigger_type").notNull(),
    triggerMessage: text("trigger_message").notNull(),
    params: text("params").notNull(),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    /** The run_definitions row of what it ran; null for instances mirrored before it was kept. */
    defHash: text("def_hash"),
    orderingKey: text("ordering_key"),
    priorityOverride: integer("priority_override"),
    /** The time its run is for (DESIGN §2.3); null for instances mirrored before it was kept. */
    cyctime: integer("cyctime"),
    /** Why it ended as it did when no node says so: a skipped instance's overlap policy or waiting timeout (DESIGN §2.9). */
    reason: text("reason"),
    /** The value of policy.concurrency.key it resolved to (DESIGN §2.9). */
    concurrencyKey: text("concurrency_key"),
  },
  (t) => [
    index("instances_ws_created").on(t.workspaceId, t.createdAt),
    index("instances_wf_created").on(t.workflowId, t.createdAt),
    // Retention takes the oldest finished instances first (db/retention.ts).
    index("instances_finished").on(t.finishedAt),
    // Retention keeps the run definitions instances still name.
    index("instances_def_hash").on(t.defHash),
  ],
);

/**
 * The definitions instances ran, by content hash: a rerun after the live window runs what the instance
 * ran (a dev run's draft revision, which workflows does not keep). Written once; retention drops the ones
 * no instance names.
 */
export const runDefinitions = sqliteTable("run_definitions", {
  hash: text("hash").primaryKey(),
  workspaceId: text("workspace_id").notNull(),
  workflowId: text("workflow_id").notNull(),
  definition: text("definition").notNull(),
  /** Node weights, JSON { node: weight }. */
  weights: text("weights").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const nodeRuns = sqliteTable(
  "node_runs",
  {
    /** The attempt id: fences runner reports. */
    id: text("id").primaryKey(),
    instanceId: text("instance_id").notNull(),
    nodeName: text("node_name").notNull(),
    nodeType: text("node_type").notNull(),
    attempt: integer("attempt").notNull(),
    status: text("status").notNull(),
    runnerId: text("runner_id"),
    queuedAt: integer("queued_at"),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    exitCode: integer("exit_code"),
    error: text("error"),
    outputs: text("outputs"),
  },
  (t) => [uniqueIndex("node_runs_attempt").on(t.instanceId, t.nodeName, t.attempt)],
);

export const nodeLogs = sqliteTable(
  "node_logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    nodeRunId: text("node_run_id").notNull(),
    text: text("text").notNull(),
    /**
     * The runner's number for this chunk within its attempt: a chunk posted again (its first answer was lost)
     * is stored once. Null for lines the Worker writes itself (http nodes, coordinator notes): NULLs never collide.
     */
    seq: integer("seq"),
    createdAt: createdAt(),
  },
  (t) => [index("node_logs_run").on(t.nodeRunId, t.id), uniqueIndex("node_logs_run_seq").on(t.nodeRunId, t.seq)],
);

export const triggers = sqliteTable(
  "triggers",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull().references(() => workspaces.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** r2 | queue | webhook */
    type: text("type").notNull(),
    /** The bucket (r2) or queue (queue) listened to; null for webhooks. Ingest finds triggers by it. */
    source: text("source"),
    /** The type's config as JSON (bucket, events, keyPattern / queue, key). */
    config: text("config").notNull(),
    /** A CEL condition on the trigger message. */
    filter: text("filter"),
    /** Dedup key template; null: the type's default. */
    dedupKey: text("dedup_key"),
    dedupWindowSeconds: integer("dedup_window_seconds").notNull(),
    orderingKey: text("ordering_key"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** `{maxEvents, windowSeconds, key}` as JSON: events gathered into one run (DESIGN §2.9). */
    batch: text("batch"),
    /** `{windowSeconds, maxWaitSeconds, key}` as JSON: a run once a key is quiet (DESIGN §2.9). */
    debounce: text("debounce"),
    /** A paused trigger keeps arriving events (outcome `paused`) until resumed or discarded (DESIGN §2.10). */
    paused: integer("paused", { mode: "boolean" }).notNull().default(false),
    pausedAt: integer("paused_at"),
    /**
     * Webhook signing secret, sealed with SLUICE_SECRET_KEY (`v1:…`, core/secret-box.ts). Rows from before
     * encryption held the plaintext whsec_…; the Worker seals them (db/secret-migration.ts). Verification needs
     * the secret itself, so it cannot be hashed.
     */
    secret: text("secret"),
    /** The secret before the last rotation (sealed likewise), still accepted until previous_secret_until. */
    previousSecret: text("previous_secret"),
    previousSecretUntil: integer("previous_secret_until"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("triggers_name").on(t.workspaceId, t.name), index("triggers_source").on(t.type, t.source)],
);

/** Every event a trigger received, with what it started or why nothing (DESIGN §2.7). */
export const triggerEvents = sqliteTable(
  "trigger_events",
  {
    /** Derived from the queue message id for queue deliveries, so a redelivery updates its row. */
    id: text("id").primaryKey(),
    triggerId: text("trigger_id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    receivedAt: integer("received_at").notNull(),
    lastReceivedAt: integer("last_received_at").notNull(),
    /** How many times this same message was delivered (at-least-once delivery may repeat it). */
    deliveries: integer("deliveries").notNull().default(1),
    /** Where it came from, e.g. `queue user-behavior`, `r2 uploads`, `webhook`. */
    source: text("source").notNull(),
    /** The queue message id or webhook-id. */
    sourceId: text("source_id"),
    dedupKey: text("dedup_key"),
    /** started | duplicate | filtered | key_mismatch | unpublished | disabled | no_workflow | error */
    outcome: text("outcome").notNull(),
    detail: text("detail").notNull(),
    /** JSON array of the instances started (or, for a duplicate, the ones it duplicates). */
    instanceIds: text("instance_ids").notNull().default("[]"),
    /** The trigger message as JSON, cut to a few KB. */
    message: text("message").notNull(),
    messageTruncated: integer("message_truncated", { mode: "boolean" }).notNull().default(false),
    /** The whole message when `message` was cut and the event may be decided again (kept while paused; replay). */
    messageFull: text("message_full"),
    /** A replay names the event it decides again (DESIGN §2.10). */
    replayOf: text("replay_of"),
  },
  (t) => [
    index("trigger_events_by_trigger").on(t.triggerId, t.receivedAt, t.id),
    index("trigger_events_received").on(t.receivedAt),
    // Resume and discard read a trigger's kept (paused) events in arrival order.
    index("trigger_events_by_outcome").on(t.triggerId, t.outcome, t.receivedAt, t.id),
  ],
);

/** Every alert a workflow sent (or tried to), with the answer it got (DESIGN §2.10). */
export const alertDeliveries = sqliteTable(
  "alert_deliveries",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    workflowId: text("workflow_id").notNull(),
    /** null for a test alert. */
    instanceId: text("instance_id"),
    /** failed | terminated | skipped | slow | recovered | test */
    event: text("event").notNull(),
    url: text("url").notNull(),
    /** standard | slack */
    format: text("format").notNull(),
    /** pending | delivered | failed (retries used up) */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** The last answer's HTTP status, or null when none came. */
    responseStatus: integer("response_status"),
    /** The last answer's first bytes, or why no answer came. */
    response: text("response"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("alert_deliveries_by_workflow").on(t.workflowId, t.createdAt, t.id), index("alert_deliveries_created").on(t.createdAt)],
);

/** Who created, changed, published, ran, reran, terminated or deleted what (issue 6). */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workspaceId: text("workspace_id").notNull(),
    at: integer("at").notNull(),
    actorKeyId: text("actor_key_id").notNull(),
    actorRole: text("actor_role").notNull(),
    /** e.g. `POST /api/v1/workflows/:id/publish` */
    action: text("action").notNull(),
    /** The route's parameters as JSON, e.g. {"id":"wf_…"}. */
    target: text("target").notNull(),
    status: integer("status").notNull(),
  },
  (t) => [index("audit_ws_at").on(t.workspaceId, t.at), index("audit_at").on(t.at)],
);

/**
 * Buckets and queues a workspace may use (DESIGN §2.7): trigger on, upload to, send to, and receive events of.
 * Granted by the installation's bootstrap admin; the default workspace holds the local ones (migration 0006).
 */
export const workspaceSources = sqliteTable(
  "workspace_sources",
  {
    workspaceId: text("workspace_id").notNull().references(() => workspaces.id),
    /** bucket | queue */
    kind: text("kind").notNull(),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.kind, t.name] }), index("workspace_sources_by_source").on(t.kind, t.name)],
);

/**
 * Webhook ids seen per trigger, kept past the signature tolerance (DESIGN §2.7): a replay within it is answered
 * as a duplicate whatever the trigger's dedup settings. Expired rows are purged by the cron.
 */
export const webhookReceipts = sqliteTable(
  "webhook_receipts",
  {
    triggerId: text("trigger_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    /** The event that first received it: its id and time, from which its instance ids derive. */
    eventId: text("event_id").notNull(),
    receivedAt: integer("received_at").notNull(),
    /** What that event started (JSON array); null while its delivery has not finished. */
    instanceIds: text("instance_ids"),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.triggerId, t.webhookId] }), index("webhook_receipts_expiry").on(t.expiresAt)],
);
