// Workflow drafts and versions in D1. Every write is one statement or one D1 batch (all or nothing).
import { and, desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { WorkflowDefinition } from "../core/definition.ts";
import type { InstanceStatus } from "../core/progress.ts";
import { conflict, invalidDefinition, notFound } from "../core/errors.ts";
import { triggers, workflows, workflowVersions } from "../db/schema.ts";

export interface WorkflowRecord {
  id: string;
  name: string;
  description: string;
  publishedVersion: number | null;
  createdAt: string;
  updatedAt: string;
  /** Bumped by every save of the draft (publish compares and sets it). */
  draftRevision: number;
  definition: WorkflowDefinition;
}

type Row = typeof workflows.$inferSelect;

const toRecord = (row: Row): WorkflowRecord => ({
  id: row.id,
  name: row.name,
  description: row.description,
  publishedVersion: row.publishedVersion,
  createdAt: new Date(row.createdAt).toISOString(),
  updatedAt: new Date(row.updatedAt).toISOString(),
  draftRevision: row.draftRevision,
  definition: JSON.parse(row.draft) as WorkflowDefinition,
});

/** drizzle wraps the D1 error, so look down the cause chain. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (/UNIQUE constraint failed/i.test(String(e.message))) return true;
  }
  return false;
}

/** A row of the list: the workflow without its draft, with its trigger and last run. */
export interface WorkflowListItem extends Omit<WorkflowRecord, "definition" | "draftRevision"> {
  /** The published version's policy.triggerId; the draft's while the workflow was never published. */
  triggerId: string | null;
  lastRun: { id: string; status: InstanceStatus; env: "dev" | "prod"; createdAt: string } | null;
}

interface ListRow {
  id: string;
  name: string;
  description: string;
  published_version: number | null;
  trigger_id: string | null;
  published_trigger_id: string | null;
  created_at: number;
  updated_at: number;
  last_id: string | null;
  last_status: InstanceStatus | null;
  last_env: "dev" | "prod" | null;
  last_created_at: number | null;
}

const toListItem = (row: ListRow): WorkflowListItem => ({
  id: row.id,
  name: row.name,
  description: row.description,
  publishedVersion: row.published_version,
  createdAt: new Date(row.created_at).toISOString(),
  updatedAt: new Date(row.updated_at).toISOString(),
  triggerId: row.published_version === null ? row.trigger_id : row.published_trigger_id,
  lastRun:
    row.last_id === null
      ? null
      : { id: row.last_id, status: row.last_status!, env: row.last_env!, createdAt: new Date(row.last_created_at!).toISOString() },
});

const nameTaken = (name: string) => conflict(`a workflow named '${name}' already exists in this workspace`);

export class WorkflowRepo {
  private readonly db;
  private readonly d1: D1Database;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.d1 = d1;
    this.workspaceId = workspaceId;
  }

  /** policy.triggerId must name a trigger of this workspace; deleting a trigger in use is refused in turn. */
  private async checkTrigger(def: WorkflowDefinition): Promise<void> {
    const id = def.policy.triggerId;
    if (id === null) return;
    const found = await this.db
      .select({ id: triggers.id })
      .from(triggers)
      .where(and(eq(triggers.id, id), eq(triggers.workspaceId, this.workspaceId)))
      .get();
    if (!found) {
      throw invalidDefinition([{ path: "policy.triggerId", message: `policy.triggerId: there is no trigger ${id} in this workspace (GET /api/v1/triggers lists them)` }]);
    }
  }

  async create(id: string, def: WorkflowDefinition): Promise<WorkflowRecord> {
    const now = Date.now();
    await this.checkTrigger(def);
    try {
      const row = await this.db
        .insert(workflows)
        .values({
          id,
          workspaceId: this.workspaceId,
          name: def.name,
          description: def.description,
          draft: JSON.stringify(def),
          triggerId: def.policy.triggerId,
          createdAt: now,
          updatedAt: now,
        })
        .returning()
        .get();
      return toRecord(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(def.name);
      throw err;
    }
  }

  async get(id: string): Promise<WorkflowRecord> {
    const row = await this.db
      .select()
      .from(workflows)
      .where(and(eq(workflows.id, id), eq(workflows.workspaceId, this.workspaceId)))
      .get();
    if (!row) throw notFound(`workflow ${id}`);
    return toRecord(row);
  }

  /**
   * Newest first; the cursor is the last item's `updatedAt|id`. One query for the page: each
   * workflow's trigger (the published version's, else the draft's) and its newest instance, found
   * through `instances_wf_created` for the page's rows only (the page is cut before the join).
   */
  async list(limit: number, cursor: string | null): Promise<{ items: WorkflowListItem[]; nextCursor: string | null }> {
    const [at, id] = cursor ? cursor.split("|") : [];
    const after = at && id ? "AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3))" : "";
    const { results: rows } = await this.d1
      .prepare(
        `SELECT p.*, i.id AS last_id, i.status AS last_status, i.env AS last_env, i.created_at AS last_created_at
         FROM (SELECT id, name, description, published_version, trigger_id, published_trigger_id, created_at, updated_at
               FROM workflows WHERE workspace_id = ?1 ${after} ORDER BY updated_at DESC, id DESC LIMIT ?4) p
         LEFT JOIN instances i ON i.id = (
           SELECT id FROM instances WHERE workflow_id = p.id AND workspace_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1)
         ORDER BY p.updated_at DESC, p.id DESC`,
      )
      .bind(this.workspaceId, at && id ? Number(at) : null, id ?? null, limit + 1)
      .all<ListRow>();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toListItem), nextCursor: rows.length > limit && last ? `${last.updated_at}|${last.id}` : null };
  }

  async replaceDraft(id: string, def: WorkflowDefinition): Promise<WorkflowRecord> {
    await this.get(id);
    await this.checkTrigger(def);
    try {
      const row = await this.db
        .update(workflows)
        .set({
          name: def.name,
          description: def.description,
          draft: JSON.stringify(def),
          triggerId: def.policy.triggerId,
          draftRevision: sql`${workflows.draftRevision} + 1`,
          updatedAt: Date.now(),
        })
        .where(and(eq(workflows.id, id), eq(workflows.workspaceId, this.workspaceId)))
        .returning()
        .get();
      return toRecord(row!);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(def.name);
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.db.batch([
      this.db.delete(workflowVersions).where(eq(workflowVersions.workflowId, id)),
      this.db.delete(workflows).where(eq(workflows.id, id)),
    ]);
  }

  /**
   * Freezes `def` (the draft as read at `draftRevision` and validated) as the next version and makes it
   * the published one, in one D1 transaction that happens only while the draft is still that revision:
   * a save in between answers 409 and publishes nothing.
   */
  async publish(id: string, def: WorkflowDefinition, draftRevision: number, weights: Record<string, number>, message: string): Promise<number> {
    // Both statements hold only while the draft is still `draftRevision`; a D1 batch is one transaction.
    const [frozen] = await this.d1.batch([
      this.d1
        .prepare(
          `INSERT INTO workflow_versions (workflow_id, version, definition, weights, message)
           SELECT id, (SELECT COALESCE(MAX(version), 0) + 1 FROM workflow_versions WHERE workflow_id = ?1), ?2, ?3, ?4
           FROM workflows WHERE id = ?1 AND workspace_id = ?5 AND draft_revision = ?6`,
        )
        .bind(id, JSON.stringify(def), JSON.stringify(weights), message, this.workspaceId, draftRevision),
      // From now on the trigger's events start this version (and a trigger dropped from it stops).
      this.d1
        .prepare(
          `UPDATE workflows SET published_version = (SELECT MAX(version) FROM workflow_versions WHERE workflow_id = ?1),
             published_trigger_id = ?2, updated_at = ?3
           WHERE id = ?1 AND workspace_id = ?4 AND draft_revision = ?5`,
        )
        .bind(id, def.policy.triggerId, Date.now(), this.workspaceId, draftRevision),
    ]);
    const published = frozen!.meta.changes === 1 ? await this.get(id) : null;
    if (!published) {
      await this.get(id); // 404 when it was deleted meanwhile
      throw conflict(`the draft of workflow ${id} was saved again while it was being published; nothing was published: publish again`);
    }
    return published.publishedVersion!;
  }

  /** What a run request needs of its workflow, without the definition (the coordinator holds that). One D1 read. */
  async runTarget(id: string): Promise<{ id: string; publishedVersion: number | null; draftRevision: number }> {
    const row = await this.db
      .select({ id: workflows.id, publishedVersion: workflows.publishedVersion, draftRevision: workflows.draftRevision })
      .from(workflows)
      .where(and(eq(workflows.id, id), eq(workflows.workspaceId, this.workspaceId)))
      .get();
    if (!row) throw notFound(`workflow ${id}`);
    return row;
  }

  async versions(id: string) {
    await this.get(id);
    const rows = await this.db
      .select({ version: workflowVersions.version, message: workflowVersions.message, createdAt: workflowVersions.createdAt })
      .from(workflowVersions)
      .where(eq(workflowVersions.workflowId, id))
      .orderBy(desc(workflowVersions.version))
      .all();
    return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() }));
  }

  async version(id: string, version: number) {
    await this.get(id);
    const row = await this.db
      .select()
      .from(workflowVersions)
      .where(and(eq(workflowVersions.workflowId, id), eq(workflowVersions.version, version)))
      .get();
    if (!row) throw notFound(`version ${version} of workflow ${id}`);
    return {
      version: row.version,
      message: row.message,
      createdAt: new Date(row.createdAt).toISOString(),
      definition: JSON.parse(row.definition) as WorkflowDefinition,
      weights: JSON.parse(row.weights) as Record<string, number>,
    };
  }
}

/** A definition as a coordinator loads it to start runs: a published version, or the draft at its current revision. */
export interface StoredDefinition {
  definition: string;
  /** JSON weights frozen at publish; null for the draft (computed by the loader). */
  weights: string | null;
  /** The draft's revision when the draft was read; null for a version. */
  draftRevision: number | null;
}

export async function definitionForRun(d1: D1Database, workspaceId: string, workflowId: string, version: number | null): Promise<StoredDefinition | null> {
  const db = drizzle(d1);
  if (version === null) {
    const row = await db
      .select({ definition: workflows.draft, draftRevision: workflows.draftRevision })
      .from(workflows)
      .where(and(eq(workflows.id, workflowId), eq(workflows.workspaceId, workspaceId)))
      .get();
    return row ? { ...row, weights: null } : null;
  }
  const row = await db
    .select({ definition: workflowVersions.definition, weights: workflowVersions.weights })
    .from(workflowVersions)
    .innerJoin(workflows, eq(workflows.id, workflowVersions.workflowId))
    .where(and(eq(workflowVersions.workflowId, workflowId), eq(workflowVersions.version, version), eq(workflows.workspaceId, workspaceId)))
    .get();
  return row ? { ...row, draftRevision: null } : null;
}
