// The canvas component of each node type (one per type, as in windmill's graph renderers).
import type { NodeTypes } from "@xyflow/svelte";
import BranchNode from "./BranchNode.svelte";
import HttpNode from "./HttpNode.svelte";
import MergeNode from "./MergeNode.svelte";
import NoopNode from "./NoopNode.svelte";
import PythonNode from "./PythonNode.svelte";
import ShellNode from "./ShellNode.svelte";

export const nodeTypes: NodeTypes = {
  shell: ShellNode,
  python: PythonNode,
  http: HttpNode,
  branch: BranchNode,
  merge: MergeNode,
  noop: NoopNode,
  // An unknown type still renders, as a plain node; validation names it on save.
  default: NoopNode,
};
