// Workflow drafts and versions in D1. Every write is one statement or one D1 batch (all or nothing).
import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { WorkflowDefinition } from "../core/definition.ts";
import { conflict, invalidDefinition, notFound } from "../core/errors.ts";
import { triggers, workflows, workflowVersions } from "../db/schema.ts";

export interface WorkflowRecord {
  id: string;
  name: string;
  description: string;
  publishedVersion: number | null;
  createdAt: string;
  updatedAt: string;
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
  definition: JSON.parse(row.draft) as WorkflowDefinition,
});

/** drizzle wraps the D1 error, so look down the cause chain. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (/UNIQUE constraint failed/i.test(String(e.message))) return true;
  }
  return false;
}

const nameTaken = (name: string) => conflict(`a workflow named '${name}' already exists in this workspace`);

export class WorkflowRepo {
  private readonly db;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
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

  /** Newest first; the cursor is the last item's `updatedAt|id`. */
  async list(limit: number, cursor: string | null): Promise<{ items: Omit<WorkflowRecord, "definition">[]; nextCursor: string | null }> {
    const [at, id] = cursor ? cursor.split("|") : [];
    const where = at && id
      ? and(eq(workflows.workspaceId, this.workspaceId), or(lt(workflows.updatedAt, Number(at)), and(eq(workflows.updatedAt, Number(at)), lt(workflows.id, id))))
      : eq(workflows.workspaceId, this.workspaceId);
    const rows = await this.db.select().from(workflows).where(where).orderBy(desc(workflows.updatedAt), desc(workflows.id)).limit(limit + 1).all();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => {
        const { definition: _, ...rest } = toRecord(r);
        return rest;
      }),
      nextCursor: rows.length > limit && last ? `${last.updatedAt}|${last.id}` : null,
    };
  }

  async replaceDraft(id: string, def: WorkflowDefinition): Promise<WorkflowRecord> {
    await this.get(id);
    await this.checkTrigger(def);
    try {
      const row = await this.db
        .update(workflows)
        .set({ name: def.name, description: def.description, draft: JSON.stringify(def), triggerId: def.policy.triggerId, updatedAt: Date.now() })
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

  /** Freezes the draft as the next version and makes it the published one, in one D1 transaction. */
  async publish(id: string, weights: Record<string, number>, message: string): Promise<number> {
    const wf = await this.get(id);
    const next = sql`(SELECT COALESCE(MAX(version), 0) + 1 FROM workflow_versions WHERE workflow_id = ${id})`;
    await this.db.batch([
      this.db.insert(workflowVersions).values({
        workflowId: id,
        version: next as unknown as number,
        definition: JSON.stringify(wf.definition),
        weights: JSON.stringify(weights),
        message,
      }),
      this.db
        .update(workflows)
        .set({
          publishedVersion: sql`(SELECT MAX(version) FROM workflow_versions WHERE workflow_id = ${id})`,
          // From now on the trigger's events start this version (and a trigger dropped from it stops).
          publishedTriggerId: wf.definition.policy.triggerId,
          updatedAt: Date.now(),
        })
        .where(eq(workflows.id, id)),
    ]);
    return (await this.get(id)).publishedVersion!;
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
