// The editor's state: the draft being edited, where its nodes sit (saved with it), what is selected, and saving it.
import type { Api } from "./api.ts";
import { ApiError, type NodeDefinition, type Workflow, type WorkflowDefinition } from "./api.ts";
import { completeLayout, layoutGraph, type Point } from "./layout.ts";
import { LocalStore } from "./local-store.ts";
import { newNode } from "./node-types.ts";
import { mapErrors, type MappedErrors } from "./validation-map.ts";
import * as doc from "./workflow-doc.ts";

const HISTORY_LIMIT = 100;
export const NEW_WORKFLOW = "new";

export class EditorState {
  workflow = $state.raw<Workflow | null>(null);
  def = $state.raw<WorkflowDefinition>(doc.emptyDefinition());
  positions = $state.raw<Map<string, Point>>(new Map());
  /** The selected node's name; null shows the workflow's settings. */
  selected = $state<string | null>(null);
  errors = $state.raw<MappedErrors | null>(null);
  saving = $state(false);
  saveError = $state<unknown>(null);
  /** A short message about the last canvas action that was refused (e.g. an edge that makes a cycle). */
  notice = $state<string | null>(null);
  /** Unsaved edits found in this browser from an earlier visit, offered for restoring. */
  recovered = $state.raw<{ definition: WorkflowDefinition; savedAt: string } | null>(null);

  #baseline = $state("");
  #undo: WorkflowDefinition[] = [];
  #redo: WorkflowDefinition[] = [];
  readonly #api: Api;
  readonly #store: LocalStore;

  /** The draft as it would be saved: the definition with its nodes' positions. */
  readonly draft = $derived(doc.withLayout(this.def, this.positions));
  readonly dirty = $derived(doc.definitionText(this.draft) !== this.#baseline);

  constructor(api: Api, workflow: Workflow | null, store = new LocalStore()) {
    this.#api = api;
    this.#store = store;
    this.#load(workflow);
  }

  get id(): string {
    return this.workflow?.id ?? NEW_WORKFLOW;
  }

  get isNew(): boolean {
    return this.workflow === null;
  }

  get canUndo(): boolean {
    return this.#undo.length > 0;
  }

  #load(workflow: Workflow | null): void {
    this.workflow = workflow;
    const { definition: def, positions: placed } = doc.splitLayout(workflow?.definition ?? doc.emptyDefinition());
    this.def = def;
    // Nodes the draft has no position for (a workflow made through the API) are laid out; that
    // layout is not an edit, so it is part of the baseline and saved with the next change.
    this.positions = completeLayout(
      def.nodes.map((n) => n.name),
      def.edges,
      placed,
    );
    this.#baseline = doc.definitionText(doc.withLayout(def, this.positions));
    const backup = this.#store.backup(this.id);
    this.recovered =
      backup && doc.definitionText(backup.definition) !== this.#baseline ? { definition: backup.definition, savedAt: backup.savedAt } : null;
  }

  /** Every edit goes through here: history, a local backup, and the errors of the old shape cleared where fixed. */
  #apply(next: WorkflowDefinition): void {
    if (next === this.def) return;
    this.#undo.push(this.def);
    if (this.#undo.length > HISTORY_LIMIT) this.#undo.shift();
    this.#redo = [];
    this.def = next;
    this.notice = null;
    this.#backup();
  }

  #backup(): void {
    if (this.dirty) this.#store.saveBackup(this.id, this.draft, this.workflow?.updatedAt ?? null);
    else this.#store.clearBackup(this.id);
  }

  undo(): void {
    const previous = this.#undo.pop();
    if (!previous) return;
    this.#redo.push(this.def);
    this.def = previous;
    this.#backup();
  }

  redo(): void {
    const next = this.#redo.pop();
    if (!next) return;
    this.#undo.push(this.def);
    this.def = next;
    this.#backup();
  }

  /** Selects a node of the draft, or nothing (the workflow's settings); a name the draft lacks is ignored. */
  select(name: string | null): void {
    if (name === null || this.def.nodes.some((n) => n.name === name)) this.selected = name;
  }

  addNode(type: string, at?: Point): string {
    const node = newNode(type, new Set(this.def.nodes.map((n) => n.name)));
    const position = at ?? this.#freeSpot();
    this.positions = new Map(this.positions).set(node.name, position);
    this.#apply(doc.addNode(this.def, node));
    this.selected = node.name;
    return node.name;
  }

  /** Below the lowest node, so a node added with the keyboard never hides another. */
  #freeSpot(): Point {
    const points = [...this.positions.values()];
    if (points.length === 0) return { x: 0, y: 0 };
    return { x: Math.min(...points.map((p) => p.x)), y: Math.max(...points.map((p) => p.y)) + 110 };
  }

  updateNode(name: string, patch: Partial<NodeDefinition>): void {
    this.#apply(doc.updateNode(this.def, name, patch));
  }

  renameNode(from: string, to: string): string | null {
    const result = doc.renameNode(this.def, from, to);
    if (!result.ok) return result.reason;
    const positions = new Map(this.positions);
    const at = positions.get(from);
    positions.delete(from);
    if (at) positions.set(to, at);
    this.positions = positions;
    this.#apply(result.def);
    if (this.selected === from) this.selected = to;
    return null;
  }

  removeNodes(names: readonly string[]): void {
    if (names.length === 0) return;
    this.#apply(doc.removeNodes(this.def, names));
    if (this.selected && names.includes(this.selected)) this.selected = null;
  }

  removeEdges(keys: readonly string[]): void {
    if (keys.length) this.#apply(doc.removeEdges(this.def, keys));
  }

  connect(from: string, to: string): boolean {
    const result = doc.connect(this.def, { from, to });
    if (!result.ok) {
      this.notice = `Not connected: ${result.reason}.`;
      return false;
    }
    this.#apply(result.def);
    return true;
  }

  updateWorkflow(patch: Partial<Pick<WorkflowDefinition, "name" | "description" | "params" | "policy">>): void {
    this.#apply({ ...this.def, ...patch });
  }

  /** Moves are not in the undo history: they change where a node sits, not what the workflow does. */
  move(name: string, to: Point): void {
    this.positions = new Map(this.positions).set(name, { x: Math.round(to.x), y: Math.round(to.y) });
    this.#backup();
  }

  autoLayout(direction: "TB" | "LR" = "TB"): void {
    this.positions = layoutGraph(
      this.def.nodes.map((n) => n.name),
      this.def.edges,
      { direction },
    );
    this.#backup();
  }

  restoreRecovered(): void {
    if (!this.recovered) return;
    const { definition, positions } = doc.splitLayout(this.recovered.definition);
    this.recovered = null;
    this.positions = completeLayout(definition.nodes.map((n) => n.name), definition.edges, new Map([...this.positions, ...positions]));
    this.#apply(definition);
  }

  discardRecovered(): void {
    this.recovered = null;
    this.#store.clearBackup(this.id);
  }

  /** Saves the draft (creating the workflow the first time). Validation errors land on the nodes they name. */
  async save(): Promise<boolean> {
    const sent = doc.definitionToSave(this.draft);
    this.saving = true;
    this.saveError = null;
    try {
      const saved = this.workflow ? await this.#api.saveDraft(this.workflow.id, sent) : await this.#api.createWorkflow(sent);
      this.#store.clearBackup(this.id);
      this.workflow = saved;
      // The server's form (defaults filled) becomes both the baseline and the draft, unless edits came in meanwhile.
      if (doc.definitionText(this.draft) === doc.definitionText(sent)) this.def = doc.splitLayout(saved.definition).definition;
      this.#baseline = doc.definitionText(saved.definition);
      this.errors = null;
      this.#backup();
      return true;
    } catch (error) {
      this.saveError = error;
      this.errors = error instanceof ApiError && error.details.length ? mapErrors(error.details, sent) : null;
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** After a revert or a publish: the server's draft replaces this one. */
  reload(workflow: Workflow): void {
    this.#undo = [];
    this.#redo = [];
    this.errors = null;
    this.#store.clearBackup(workflow.id);
    this.#load(workflow);
  }
}
