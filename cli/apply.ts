// `sluice apply`: plans from the files and the workspace (matched by name), shows the diff, then changes (DESIGN §8).
import { ApiError, data, type Api } from "./api.ts";
import { detailProblems, FileError, fileTriggerPath, located, type DefinitionFile, type TriggerFile, type WorkflowFile } from "./files.ts";
import { definitionOf, formDiff, sameForm, triggerForm, triggerInputOf, workflowForm, type FileForm } from "./forms.ts";
import type { WorkflowDefinition } from "../worker/core/definition.ts";

export interface RemoteTrigger {
  id: string;
  name: string;
  record: Record<string, unknown>;
}
export interface RemoteWorkflow {
  id: string;
  name: string;
  publishedVersion: number | null;
  draft: WorkflowDefinition;
  /** Read only when a publish is asked for. */
  published?: WorkflowDefinition | null;
}
export interface Workspace {
  triggers: RemoteTrigger[];
  workflows: RemoteWorkflow[];
}

export type Step =
  | { kind: "Trigger"; name: string; action: "create" | "update" | "unchanged"; file: TriggerFile; remote?: RemoteTrigger; diff: string }
  | { kind: "Workflow"; name: string; action: "create" | "update" | "unchanged"; publish: boolean; file: WorkflowFile; remote?: RemoteWorkflow; diff: string };

/** The workspace's triggers and the named workflows (with drafts, and published versions when `published`). */
export async function readWorkspace(api: Api, workflowNames: ReadonlySet<string> | "all", published: boolean): Promise<Workspace> {
  const [triggers, summaries] = await Promise.all([api.all("/api/v1/triggers"), api.all("/api/v1/workflows")]);
  const wanted = summaries.filter((w) => workflowNames === "all" || workflowNames.has(w.name));
  const workflows = await Promise.all(
    wanted.map(async (w): Promise<RemoteWorkflow> => {
      const full = await data(api.client.GET("/api/v1/workflows/{id}", { params: { path: { id: w.id } } }));
      const remote: RemoteWorkflow = { id: w.id, name: w.name, publishedVersion: full.publishedVersion, draft: definitionOf(full.definition) };
      if (published) remote.published = full.publishedVersion === null ? null : await versionDefinition(api, w.id, full.publishedVersion);
      return remote;
    }),
  );
  return { triggers: triggers.map((t) => ({ id: t.id, name: t.name, record: t })), workflows };
}

const versionDefinition = async (api: Api, id: string, n: number) =>
  definitionOf((await data(api.client.GET("/api/v1/workflows/{id}/versions/{n}", { params: { path: { id, n } } }))).definition);

/** A name must be unique in the workspace to be applied by name. */
function byName<T extends { name: string; id: string }>(items: readonly T[], kind: string): Map<string, T> {
  const map = new Map<string, T>();
  const twice = new Set<string>();
  for (const item of items) {
    if (map.has(item.name)) twice.add(item.name);
    else map.set(item.name, item);
  }
  if (twice.size > 0) throw new FileError([...twice].map((n) => `the workspace has several ${kind}s named '${n}': rename all but one to apply by name`));
  return map;
}

/** What would change, in order: triggers first, so workflows can refer to new ones. */
export function plan(files: readonly DefinitionFile[], ws: Workspace, publish: boolean): Step[] {
  const triggers = byName(ws.triggers, "trigger");
  const workflows = byName(ws.workflows, "workflow");
  const triggerNameById = new Map(ws.triggers.map((t) => [t.id, t.name]));
  const steps: Step[] = [];
  const problems: string[] = [];

  for (const file of files.filter((f): f is TriggerFile => f.kind === "Trigger")) {
    const remote = triggers.get(file.name);
    const after = triggerForm(file.input);
    const before = remote ? triggerForm(triggerInputOf(remote.record)) : null;
    if (remote && before!.type !== after.type) {
      problems.push(located(file.source, "type", `type: trigger '${file.name}' is a ${String(before!.type)} trigger in the workspace; a trigger's type cannot change (delete it first)`));
      continue;
    }
    const action = !before ? "create" : sameForm(before, after) ? "unchanged" : "update";
    steps.push({ kind: "Trigger", name: file.name, action, file, remote, diff: action === "unchanged" ? "" : formDiff(`trigger/${file.name}`, before, after) });
  }

  const knownTriggers = new Set([...triggers.keys(), ...files.filter((f) => f.kind === "Trigger").map((f) => f.name)]);
  for (const file of files.filter((f): f is WorkflowFile => f.kind === "Workflow")) {
    if (file.trigger !== null && !knownTriggers.has(file.trigger)) {
      problems.push(located(file.source, "policy.trigger", `policy.trigger: no trigger named '${file.trigger}' in the workspace or in the files`));
      continue;
    }
    const remote = workflows.get(file.name);
    // A file without `ui` leaves the editor's layout as it is.
    const withUi = file.definition.ui !== undefined;
    const after = workflowForm(file.definition, file.trigger, withUi);
    const before = remote ? workflowForm(remote.draft, nameOf(remote.draft, triggerNameById), withUi) : null;
    const action = !before ? "create" : sameForm(before, after) ? "unchanged" : "update";
    const published = remote?.published ? workflowForm(remote.published, nameOf(remote.published, triggerNameById), false) : null;
    const needsPublish = publish && (published === null || !sameForm(published, workflowForm(file.definition, file.trigger, false)));
    steps.push({ kind: "Workflow", name: file.name, action, publish: needsPublish, file, remote, diff: action === "unchanged" ? "" : formDiff(`workflow/${file.name}`, before, after) });
  }
  if (problems.length > 0) throw new FileError(problems);
  return steps;
}

const nameOf = (def: WorkflowDefinition, names: Map<string, string>) =>
  def.policy.triggerId === null ? null : (names.get(def.policy.triggerId) ?? `(unknown trigger ${def.policy.triggerId})`);

export const hasChanges = (steps: readonly Step[]) => steps.some((s) => s.action !== "unchanged" || (s.kind === "Workflow" && s.publish));

/** A 400 from the API, pointed at the file it came from. */
function inFile(err: unknown, file: DefinitionFile): never {
  if (err instanceof ApiError && err.status === 400 && err.details.length > 0) {
    throw new FileError(detailProblems(file.source, err.details, file.source.docs, file.kind === "Workflow" ? fileTriggerPath : undefined));
  }
  // Any other refusal (403, 409 …) is the API's, not the file's: exit 1 with its message, naming what was being applied.
  if (err instanceof ApiError) throw new ApiError(err.status, err.code, `${file.source.file}: ${file.kind.toLowerCase()} '${file.name}': ${err.message}`, err.details);
  throw err;
}

export interface Outcome {
  step: Step;
  id: string;
  version?: number;
  /** A new webhook trigger's signing secret: the only time it is shown. */
  secret?: string;
}

/** Makes the changes the plan lists, in its order; stops at the first refusal. */
export async function execute(api: Api, steps: readonly Step[], message: string, report: (o: Outcome) => void): Promise<void> {
  const { POST, PUT } = api.client;
  const triggerIds = new Map<string, string>();
  for (const step of steps) if (step.kind === "Trigger" && step.remote) triggerIds.set(step.name, step.remote.id);
  for (const step of steps) {
    if (step.kind !== "Trigger") continue;
    const input = step.file.input;
    try {
      if (step.action === "create") {
        const created = await data(POST("/api/v1/triggers", { body: input }));
        triggerIds.set(step.name, created.id);
        report({ step, id: created.id, secret: created.secret });
      } else if (step.action === "update") {
        report({ step, id: (await data(PUT("/api/v1/triggers/{id}", { params: { path: { id: step.remote!.id } }, body: input }))).id });
      }
    } catch (err) {
      inFile(err, step.file);
    }
  }
  const remaining = steps.some((s) => s.kind === "Workflow" && s.file.trigger !== null && !triggerIds.has(s.file.trigger));
  const allTriggers = remaining ? new Map((await api.all("/api/v1/triggers")).map((t) => [t.name, t.id])) : new Map<string, string>();
  for (const step of steps) {
    if (step.kind !== "Workflow" || (step.action === "unchanged" && !step.publish)) continue;
    const trigger = step.file.trigger;
    const triggerId = trigger === null ? null : (triggerIds.get(trigger) ?? allTriggers.get(trigger) ?? null);
    const def = { ...step.file.definition, policy: { ...step.file.definition.policy, triggerId } };
    // Without `ui` in the file the draft keeps the editor's layout.
    if (def.ui === undefined && step.remote?.draft.ui) def.ui = step.remote.draft.ui;
    try {
      let id = step.remote?.id;
      if (step.action === "create") id = (await data(POST("/api/v1/workflows", { body: def }))).id;
      else if (step.action === "update") await data(PUT("/api/v1/workflows/{id}", { params: { path: { id: id! } }, body: def }));
      const version = step.publish ? (await data(POST("/api/v1/workflows/{id}/publish", { params: { path: { id: id! } }, body: { message } }))).version : undefined;
      report({ step, id: id!, version });
    } catch (err) {
      inFile(err, step.file);
    }
  }
}

export type { FileForm };
