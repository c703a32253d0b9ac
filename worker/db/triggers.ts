// Triggers in D1: management within a workspace, and the cross-workspace lookups ingest needs.
import { and, asc, eq, gt, isNotNull, isNull, ne, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { WorkflowDefinition } from "../core/definition.ts";
import { badRequest, conflict, notFound } from "../core/errors.ts";
import type { SecretBox } from "../core/secret-box.ts";
import { triggerSource, type TriggerInput, type TriggerKind, type TriggerSpec } from "../core/triggers/index.ts";
import { triggerEvents, triggers, workflows, workflowVersions, workspaceSources } from "./schema.ts";
import { isUniqueViolation } from "./workflows.ts";

type Row = typeof triggers.$inferSelect;

export interface TriggerRecord {
  id: string;
  name: string;
  description: string;
  type: TriggerKind;
  config: Record<string, unknown>;
  filter: string | null;
  dedup: { key: string | null; windowSeconds: number };
  ordering: { key: string } | null;
  batch: TriggerSpec["batch"];
  debounce: TriggerSpec["debounce"];
  enabled: boolean;
  paused: boolean;
  pausedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export const toRecord = (row: Row): TriggerRecord => ({
  id: row.id,
  name: row.name,
  description: row.description,
  type: row.type as TriggerKind,
  config: JSON.parse(row.config) as Record<string, unknown>,
  filter: row.filter,
  dedup: { key: row.dedupKey, windowSeconds: row.dedupWindowSeconds },
  ordering: row.orderingKey === null ? null : { key: row.orderingKey },
  batch: row.batch === null ? null : (JSON.parse(row.batch) as TriggerSpec["batch"]),
  debounce: row.debounce === null ? null : (JSON.parse(row.debounce) as TriggerSpec["debounce"]),
  enabled: row.enabled,
  paused: row.paused,
  pausedAt: row.pausedAt === null ? null : new Date(row.pausedAt).toISOString(),
  createdAt: new Date(row.createdAt).toISOString(),
  updatedAt: new Date(row.updatedAt).toISOString(),
});

export const toSpec = (row: Row): TriggerSpec => {
  const r = toRecord(row);
  const { id, type, config, filter, dedup, ordering, batch, debounce, enabled } = r;
  // Kept events of a resume still being decided (paused_at stays set until none is left) go first: a new event waits behind them.
  const paused = row.paused || row.pausedAt !== null;
  return { id, type, config, filter, dedup, ordering, batch, debounce, enabled, paused } as TriggerSpec;
};

const columns = (input: TriggerInput) => ({
  name: input.name,
  description: input.description,
  type: input.type,
  source: triggerSource(input),
  config: JSON.stringify(input.config),
  filter: input.filter,
  dedupKey: input.dedup.key,
  dedupWindowSeconds: input.dedup.windowSeconds,
  orderingKey: input.ordering?.key ?? null,
  batch: input.batch === null ? null : JSON.stringify(input.batch),
  debounce: input.debounce === null ? null : JSON.stringify(input.debounce),
  enabled: input.enabled,
});

const nameTaken = (name: string) => conflict(`a trigger named '${name}' already exists in this workspace`);

export class TriggerRepo {
  private readonly db;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.workspaceId = workspaceId;
  }

  /** A webhook secret is sealed by `secrets` before it reaches D1; without a usable key nothing is stored. */
  async create(id: string, input: TriggerInput, secret: string | null, secrets: SecretBox): Promise<TriggerRecord> {
    const now = Date.now();
    const sealed = secret === null ? null : await secrets.seal(id, secret);
    try {
      const row = await this.db
        .insert(triggers)
        .values({ id, workspaceId: this.workspaceId, ...columns(input), secret: sealed, createdAt: now, updatedAt: now })
        .returning()
        .get();
      return toRecord(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(input.name);
      throw err;
    }
  }

  async row(id: string): Promise<Row> {
    const row = await this.db.select().from(triggers).where(and(eq(triggers.id, id), eq(triggers.workspaceId, this.workspaceId))).get();
    if (!row) throw notFound(`trigger ${id}`);
    return row;
  }

  async get(id: string): Promise<TriggerRecord> {
    return toRecord(await this.row(id));
  }

  /** By name; the cursor is the last item's name. */
  async list(limit: number, cursor: string | null, type?: TriggerKind): Promise<{ items: TriggerRecord[]; nextCursor: string | null }> {
    const conditions: SQL[] = [eq(triggers.workspaceId, this.workspaceId)];
    if (type) conditions.push(eq(triggers.type, type));
    if (cursor) conditions.push(gt(triggers.name, cursor));
    const rows = await this.db.select().from(triggers).where(and(...conditions)).orderBy(asc(triggers.name)).limit(limit + 1).all();
    const page = rows.slice(0, limit);
    return { items: page.map(toRecord), nextCursor: rows.length > limit ? page.at(-1)!.name : null };
  }

  async replace(id: string, input: TriggerInput): Promise<TriggerRecord> {
    const existing = await this.row(id);
    if (existing.type !== input.type) {
      throw badRequest(`a trigger's type cannot change (this one is ${existing.type}); create a new ${input.type} trigger instead`, [
        { path: "type", message: `type: must stay ${existing.type}` },
      ]);
    }
    try {
      const row = await this.db
        .update(triggers)
        .set({ ...columns(input), updatedAt: Date.now() })
        .where(and(eq(triggers.id, id), eq(triggers.workspaceId, this.workspaceId)))
        .returning()
        .get();
      return toRecord(row!);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(input.name);
      throw err;
    }
  }

  async setEnabled(id: string, enabled: boolean): Promise<TriggerRecord> {
    await this.row(id);
    const row = await this.db.update(triggers).set({ enabled, updatedAt: Date.now() }).where(eq(triggers.id, id)).returning().get();
    return toRecord(row!);
  }

  /**
   * The old secret keeps verifying until `previousUntil`, so senders can switch without lost webhooks.
   * Both are stored sealed: a plaintext secret from before encryption is sealed as it becomes the previous one,
   * and one sealed under a key since replaced is dropped (SecretBox.reseal).
   */
  async rotateSecret(id: string, secret: string, previousUntil: number, secrets: SecretBox): Promise<void> {
    const row = await this.row(id);
    if (row.type !== "webhook") throw badRequest(`trigger ${id} is a ${row.type} trigger; only webhook triggers have a secret`);
    const [sealed, previous] = await Promise.all([secrets.seal(id, secret), row.secret === null ? null : secrets.reseal(id, row.secret)]);
    await this.db
      .update(triggers)
      .set({ secret: sealed, previousSecret: previous, previousSecretUntil: previousUntil, updatedAt: Date.now() })
      .where(eq(triggers.id, id));
  }

  /** Workflows whose draft or published version selects the trigger. */
  async workflowsUsing(id: string) {
    const rows = await this.db
      .select({ id: workflows.id, name: workflows.name, publishedVersion: workflows.publishedVersion, triggerId: workflows.triggerId, publishedTriggerId: workflows.publishedTriggerId })
      .from(workflows)
      .where(and(eq(workflows.workspaceId, this.workspaceId), or(eq(workflows.triggerId, id), eq(workflows.publishedTriggerId, id))))
      .orderBy(asc(workflows.name))
      .all();
    return rows.map((r) => ({ id: r.id, name: r.name, publishedVersion: r.publishedVersion, draft: r.triggerId === id, published: r.publishedTriggerId === id }));
  }

  /** Refused while a workflow selects it, so no workflow is left pointing at nothing; its event log goes with it. */
  async delete(id: string): Promise<void> {
    await this.row(id);
    const users = await this.workflowsUsing(id);
    if (users.length > 0) {
      throw conflict(
        `trigger ${id} is selected by ${users.map((u) => `'${u.name}'${u.published && !u.draft ? " (published version)" : ""}`).join(", ")}; ` +
          "choose another trigger in those workflows (and publish) first",
      );
    }
    await this.db.batch([this.db.delete(triggerEvents).where(eq(triggerEvents.triggerId, id)), this.db.delete(triggers).where(eq(triggers.id, id))]);
  }
}

// ---- ingest: events are matched across workspaces, and reach only those that hold the source (DESIGN §2.7) ----

/**
 * Every trigger on the bucket or queue, with whether its workspace holds that source now. A trigger whose
 * workspace's grant was revoked is still returned, so its event log can say why it received nothing.
 */
export async function triggersListeningTo(
  d1: D1Database,
  type: "r2" | "queue",
  source: string,
): Promise<{ spec: TriggerSpec; workspaceId: string; granted: boolean }[]> {
  const kind = type === "r2" ? "bucket" : "queue";
  const rows = await drizzle(d1)
    .select({ trigger: triggers, grant: workspaceSources.name })
    .from(triggers)
    .leftJoin(
      workspaceSources,
      and(eq(workspaceSources.workspaceId, triggers.workspaceId), eq(workspaceSources.kind, kind), eq(workspaceSources.name, source)),
    )
    .where(and(eq(triggers.type, type), eq(triggers.source, source)))
    .all();
  return rows.map(({ trigger, grant }) => ({ spec: toSpec(trigger), workspaceId: trigger.workspaceId, granted: grant !== null }));
}

/** Any workspace's trigger by id: a webhook URL carries only the id. */
export async function triggerRow(d1: D1Database, id: string): Promise<Row | undefined> {
  return drizzle(d1).select().from(triggers).where(eq(triggers.id, id)).get();
}

/** The webhook secrets that verify a request now, opened: the current one, and the previous one within its grace period. */
export async function verifyingSecrets(secrets: SecretBox, row: Row, now: number): Promise<string[]> {
  const stored = [row.secret, row.previousSecret && (row.previousSecretUntil ?? 0) > now ? row.previousSecret : null];
  return Promise.all(stored.filter((s): s is string => s !== null).map((s) => secrets.open(row.id, s)));
}

export interface PublishedWorkflow {
  id: string;
  name: string;
  workspaceId: string;
  version: number;
}

/** The workflows whose published version selects the trigger: ids and versions only (their coordinators hold the definitions). */
export async function publishedWorkflowsOf(d1: D1Database, triggerId: string): Promise<PublishedWorkflow[]> {
  const rows = await drizzle(d1)
    .select({ id: workflows.id, name: workflows.name, workspaceId: workflows.workspaceId, version: workflows.publishedVersion })
    .from(workflows)
    .where(and(eq(workflows.publishedTriggerId, triggerId), isNotNull(workflows.publishedVersion)))
    .orderBy(asc(workflows.id))
    .all();
  return rows.map((r) => ({ ...r, version: r.version! }));
}

/** The same workflows with their published definitions, for explaining a sample event (trigger test). */
export async function publishedDefinitionsOf(d1: D1Database, triggerId: string): Promise<(PublishedWorkflow & { definition: WorkflowDefinition })[]> {
  const rows = await drizzle(d1)
    .select({ id: workflows.id, name: workflows.name, workspaceId: workflows.workspaceId, version: workflowVersions.version, definition: workflowVersions.definition })
    .from(workflows)
    .innerJoin(workflowVersions, and(eq(workflowVersions.workflowId, workflows.id), eq(workflowVersions.version, workflows.publishedVersion)))
    .where(eq(workflows.publishedTriggerId, triggerId))
    .orderBy(asc(workflows.id))
    .all();
  return rows.map((r) => ({ ...r, definition: JSON.parse(r.definition) as WorkflowDefinition }));
}

/** Drafts that select the trigger without a published version that does: named in an `unpublished` verdict. */
export async function unpublishedWorkflowsOf(d1: D1Database, triggerId: string): Promise<{ id: string; name: string }[]> {
  return drizzle(d1)
    .select({ id: workflows.id, name: workflows.name })
    .from(workflows)
    .where(and(eq(workflows.triggerId, triggerId), or(isNull(workflows.publishedTriggerId), ne(workflows.publishedTriggerId, triggerId))))
    .orderBy(asc(workflows.name))
    .all();
}
