// The file form of workflows and triggers: what `export` writes, what `apply` compares and diffs.
// One form for both, so that applying an export changes nothing.
import { createTwoFilesPatch } from "diff";
import { stringify } from "yaml";
import { DefinitionSchema, type WorkflowDefinition } from "../worker/core/definition.ts";
import { TriggerInputSchema, type TriggerInput } from "../worker/core/triggers/config.ts";

export type FileForm = Record<string, unknown>;

/** A workflow as a file: `kind` first, the trigger by name, fields in the order of DESIGN §5. */
export function workflowForm(def: WorkflowDefinition, triggerName: string | null, withUi = true): FileForm {
  const { triggerId: _id, ...policy } = def.policy;
  const form: FileForm = {
    kind: "Workflow",
    name: def.name,
    description: def.description,
    params: def.params,
    policy: { trigger: triggerName, ...policy },
    nodes: def.nodes,
    edges: def.edges,
  };
  if (withUi && def.ui && Object.keys(def.ui.positions).length > 0) form.ui = def.ui;
  return form;
}

/** A trigger as a file: the fields of its input (DESIGN §2.7), defaults filled, none of the server's own. */
export function triggerForm(input: TriggerInput): FileForm {
  return {
    kind: "Trigger",
    name: input.name,
    description: input.description,
    type: input.type,
    config: input.config,
    filter: input.filter,
    dedup: input.dedup,
    ordering: input.ordering,
    batch: input.batch,
    debounce: input.debounce,
    enabled: input.enabled,
  };
}

/** What the API answers for a trigger, read back as its input (defaults filled the same way). */
export const triggerInputOf = (record: Record<string, unknown>): TriggerInput =>
  TriggerInputSchema.parse(Object.fromEntries(["name", "description", "type", "config", "filter", "dedup", "ordering", "batch", "debounce", "enabled"].map((k) => [k, record[k]])));

/** A stored definition read back through the schema, so fields added since it was saved have their defaults. */
export const definitionOf = (stored: unknown): WorkflowDefinition => DefinitionSchema.parse(stored);

/** Equal as data: key order does not matter. */
export function sameForm(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

export const toYaml = (form: FileForm) => stringify(form, { lineWidth: 0, aliasDuplicateObjects: false });

/** A unified diff of two forms as YAML (null: nothing before, a creation). */
export function formDiff(label: string, before: FileForm | null, after: FileForm): string {
  const patch = createTwoFilesPatch(before ? label : "/dev/null", label, before ? toYaml(before) : "", toYaml(after), "", "", { context: 3 });
  // The two header lines and the separator say nothing the label does not.
  return patch.split("\n").filter((l) => !l.startsWith("Index:") && !/^={5,}$/.test(l)).join("\n").trimEnd();
}
