// `apply` and `export`: definitions as code (DESIGN §8).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pc from "picocolors";
import { execute, hasChanges, plan, readWorkspace, type Step } from "./apply.ts";
import { fileSafe } from "./args.ts";
import { loadDefinitions } from "./files.ts";
import { definitionOf, toYaml, triggerForm, triggerInputOf, workflowForm } from "./forms.ts";
import { colourDiff, type Out } from "./output.ts";
import type { Api } from "./api.ts";

export interface ApplyOptions {
  files: string[];
  publish: boolean;
  message: string;
  dryRun: boolean;
}

const verb = (step: Step) => {
  const change = step.action === "unchanged" ? "" : step.action === "create" ? "create" : "update";
  const publish = step.kind === "Workflow" && step.publish ? "publish" : "";
  return [change, publish].filter(Boolean).join(" + ") || "unchanged";
};

/** Plans, prints the diff, then (unless a dry run) changes; returns the steps for --json. */
export async function apply(api: Api, out: Out, opts: ApplyOptions): Promise<void> {
  const files = loadDefinitions(opts.files);
  const names = new Set(files.filter((f) => f.kind === "Workflow").map((f) => f.name));
  const steps = plan(files, await readWorkspace(api, names, opts.publish), opts.publish);
  const summary = steps.map((s) => ({ kind: s.kind, name: s.name, action: s.action, publish: s.kind === "Workflow" ? s.publish : false }));

  if (!out.json) {
    for (const step of steps) if (step.diff) out.line(colourDiff(step.diff));
    for (const step of steps) out.line(`${step.kind.toLowerCase()} ${step.name}: ${step.action === "unchanged" && verb(step) === "unchanged" ? pc.dim("unchanged") : pc.bold(verb(step))}`);
  }
  if (!hasChanges(steps)) {
    if (out.json) out.line(JSON.stringify({ changed: false, steps: summary }));
    else out.line("no changes");
    return;
  }
  if (opts.dryRun) {
    if (out.json) out.line(JSON.stringify({ changed: false, dryRun: true, steps: summary }));
    else out.line("dry run: nothing was changed");
    return;
  }
  const results: unknown[] = [];
  await execute(api, steps, opts.message, (o) => {
    results.push({ kind: o.step.kind, name: o.step.name, id: o.id, action: o.step.action, version: o.version, secret: o.secret });
    if (out.json) return;
    const done = o.step.action === "unchanged" ? "" : `${o.step.action}d`;
    const published = o.version !== undefined ? `published as version ${o.version}` : "";
    out.line(`${o.step.kind.toLowerCase()} ${o.step.name} (${o.id}): ${[done, published].filter(Boolean).join(", ")}`);
    if (o.secret) out.line(`  webhook signing secret (shown only now): ${o.secret}`);
  });
  if (out.json) out.line(JSON.stringify({ changed: true, steps: results }));
}

/** The schema comment editors read (yaml-language-server), pointing at this API's JSON Schema. */
const schemaComment = (api: Api, kind: "workflow" | "trigger") => `# yaml-language-server: $schema=${api.connection.url.replace(/\/+$/, "")}/api/v1/schemas/${kind}.json\n`;

/** Every trigger and workflow (its draft) in the file form apply reads; into DIR, or to stdout as one stream. */
export async function exportAll(api: Api, out: Out, dir: string | undefined): Promise<void> {
  const ws = await readWorkspace(api, "all", false);
  const names = new Map(ws.triggers.map((t) => [t.id, t.name]));
  const docs = [
    ...ws.triggers.map((t) => ({ kind: "trigger" as const, name: t.name, form: triggerForm(triggerInputOf(t.record)) })),
    ...ws.workflows.map((w) => {
      const def = definitionOf(w.draft);
      const trigger = def.policy.triggerId === null ? null : (names.get(def.policy.triggerId) ?? null);
      return { kind: "workflow" as const, name: w.name, form: workflowForm(def, trigger) };
    }),
  ];
  if (out.json) {
    out.line(JSON.stringify(docs.map((d) => d.form)));
    return;
  }
  if (dir === undefined) {
    out.line(docs.map((d) => toYaml(d.form).trimEnd()).join("\n---\n"));
    return;
  }
  mkdirSync(dir, { recursive: true });
  const used = new Set<string>();
  for (const doc of docs) {
    let file = `${fileSafe(doc.name)}.${doc.kind}.yaml`;
    for (let n = 2; used.has(file); n++) file = `${fileSafe(doc.name)}-${n}.${doc.kind}.yaml`;
    used.add(file);
    writeFileSync(join(dir, file), schemaComment(api, doc.kind) + toYaml(doc.form));
    out.error(`wrote ${join(dir, file)}`);
  }
  out.error(`${docs.length} files in ${dir}`);
}
