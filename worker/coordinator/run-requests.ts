// Run requests in the coordinator: definitions cached per version or draft revision (loaded from D1 on a miss), ids and inputs made into starts.
import { downwardWeights } from "../core/dag.ts";
import type { WorkflowDefinition } from "../core/definition.ts";
import { notFound, SluiceError } from "../core/errors.ts";
import { resolveRuns, type RunSpec } from "../core/run-starts.ts";
import type { AuditRecord } from "../db/audit.ts";
import { definitionForRun } from "../db/workflows.ts";
import type { StartInstance } from "../core/scheduler/records.ts";

/** What the Worker sends to start runs: ids and run inputs, never the definition. */
export interface StartRequest {
  workspaceId: string;
  workflowId: string;
  /** The version prod runs start; null when none is published (then no run may be prod). */
  publishedVersion: number | null;
  /** The draft revision the caller read, for dev runs: the coordinator runs it, or a newer one when loading. */
  draftRevision: number | null;
  runs: RunSpec[];
  /** A `{runs: [...]}` request: problems are named by the run's place (`runs[2].params.x`). */
  batch?: boolean;
  /** The API request's audit row, written with the runs' D1 mirror; `status` is filled in from the answer. */
  audit?: Omit<AuditRecord, "status"> | null;
}

export interface LoadedDefinition {
  definition: WorkflowDefinition;
  weights: Record<string, number>;
  /** Content hash of definition and weights: the key instances keep (their own copy in the coordinator's SQLite). */
  hash: string;
}

/** Drafts change with every save; only the last few revisions are kept. */
const DRAFTS_KEPT = 8;
/** Versions never change; the most recently loaded few are kept (a rerun of an older one loads it again). */
const VERSIONS_KEPT = 16;

export class DefinitionCache {
  private readonly d1: D1Database;
  private readonly versions = new Map<number, Promise<LoadedDefinition>>();
  private readonly drafts = new Map<number, Promise<LoadedDefinition>>();

  constructor(d1: D1Database) {
    this.d1 = d1;
  }

  version(workspaceId: string, workflowId: string, version: number): Promise<LoadedDefinition> {
    const loaded = remember(this.versions, version, () => this.load(workspaceId, workflowId, version));
    while (this.versions.size > VERSIONS_KEPT) this.versions.delete(this.versions.keys().next().value!);
    return loaded;
  }

  draft(workspaceId: string, workflowId: string, revision: number): Promise<LoadedDefinition> {
    const loaded = remember(this.drafts, revision, () => this.load(workspaceId, workflowId, null));
    while (this.drafts.size > DRAFTS_KEPT) this.drafts.delete(this.drafts.keys().next().value!);
    return loaded;
  }

  private async load(workspaceId: string, workflowId: string, version: number | null): Promise<LoadedDefinition> {
    const stored = await definitionForRun(this.d1, workspaceId, workflowId, version);
    if (!stored) throw notFound(version === null ? `workflow ${workflowId}` : `version ${version} of workflow ${workflowId}`);
    const definition = JSON.parse(stored.definition) as WorkflowDefinition;
    const weightsJson = stored.weights ?? JSON.stringify(downwardWeights(definition));
    return { definition, weights: JSON.parse(weightsJson) as Record<string, number>, hash: await sha256(stored.definition + weightsJson) };
  }
}

/** One load per key at a time; a failed load is forgotten so the next request tries again. */
function remember<K>(cache: Map<K, Promise<LoadedDefinition>>, key: K, load: () => Promise<LoadedDefinition>): Promise<LoadedDefinition> {
  let found = cache.get(key);
  if (!found) {
    found = load();
    found.catch(() => cache.delete(key));
    cache.set(key, found);
  }
  return found;
}

/** The engine's starts for a request, every run checked first: a 400 names the bad run and starts nothing. */
export async function startInputs(request: StartRequest, cache: DefinitionCache): Promise<{ inputs: StartInstance[]; hashes: string[] }> {
  const { workspaceId, workflowId, publishedVersion, draftRevision, runs } = request;
  const needs = (env: "dev" | "prod") => runs.some((r) => r.env === env);
  if (needs("prod") && publishedVersion === null) {
    throw new SluiceError(409, "not_published", "this workflow has no published version yet: publish it before a prod run, or run it in dev");
  }
  const [draft, published] = await Promise.all([
    needs("dev") ? cache.draft(workspaceId, workflowId, draftRevision ?? 0) : null,
    needs("prod") ? cache.version(workspaceId, workflowId, publishedVersion!) : null,
  ]);
  const loadedFor = (run: RunSpec) => (run.env === "dev" ? draft! : published!);
  const resolved = resolveRuns(runs, (run) => loadedFor(run).definition, request.batch === true);
  const inputs = runs.map((run, i): StartInstance => {
    const { definition, weights } = loadedFor(run);
    return {
      instanceId: run.instanceId,
      workspaceId,
      workflowId,
      workflowName: definition.name,
      version: run.env === "dev" ? null : publishedVersion,
      env: run.env,
      definition,
      weights,
      priorityOverride: run.priorityOverride,
      runDate: run.runDate,
      receivedAt: run.receivedAt,
      cyctime: resolved[i]!.cyctime,
      triggerType: run.triggerType,
      triggerMessage: run.triggerMessage,
      params: resolved[i]!.params,
      dedup: run.dedup ?? null,
      orderingKey: run.orderingKey ?? null,
      concurrencyKey: resolved[i]!.concurrencyKey,
    };
  });
  return { inputs, hashes: runs.map((run) => loadedFor(run).hash) };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
