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
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("workflows_name").on(t.workspaceId, t.name)],
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
  },
  (t) => [
    index("instances_ws_created").on(t.workspaceId, t.createdAt),
    index("instances_wf_created").on(t.workflowId, t.createdAt),
  ],
);

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
    createdAt: createdAt(),
  },
  (t) => [index("node_logs_run").on(t.nodeRunId, t.id)],
);
