// Trigger templates (dedup and ordering keys): `${workflow.triggerMessage...}` paths and dates, resolved per event.
import { referencesIn, resolveText, runClock } from "../params/index.ts";
import type { ErrorDetail } from "../errors.ts";

export const MAX_TEMPLATE_LENGTH = 1024;
const TRIGGER_MESSAGE = /^workflow\.triggerMessage(?:$|[.[])/;
const BUILTINS = new Set(["bizdate", "cyctime"]);

/**
 * A trigger template sees only the event: the trigger message and the time it was received. A
 * workflow or node parameter means nothing here (one trigger starts many workflows), so it is refused.
 */
export function checkTemplate(template: string, path: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const visit = (text: string) => {
    for (const ref of referencesIn(text)) {
      if (ref.kind === "param" && !TRIGGER_MESSAGE.test(ref.name) && !BUILTINS.has(ref.name)) {
        details.push({
          path,
          message: `${path}: ${ref.raw} is not available to a trigger; use \${workflow.triggerMessage...} paths, \${bizdate}, \${cyctime} or $[...] dates`,
        });
      }
      if (ref.default !== undefined) visit(ref.default);
    }
  };
  visit(template);
  return details;
}

export type TemplateResult = { ok: true; value: string } | { ok: false; error: string };

/** Resolves a template against one event; dates use the time it was received, in UTC. */
export function resolveTemplate(template: string, message: unknown, receivedAt: number): TemplateResult {
  const result = resolveText(template, {
    workflowParams: {},
    nodeParams: {},
    nodeOutputs: {},
    triggerMessage: message,
    clock: runClock({ receivedAt: new Date(receivedAt), timezone: "UTC" }),
  });
  return result.ok ? { ok: true, value: result.text } : { ok: false, error: result.message };
}
