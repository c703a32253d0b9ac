// The run form's fields → a run request (POST /workflows/{id}/runs), or what to fix first.
import type { Env, RunRequest } from "./api.ts";
import { bizdateOf } from "./dates.ts";

export interface RunForm {
  env: Env;
  /** `yyyymmdd`, or blank to let the server use the time of the run. */
  runDate: string;
  /** JSON typed by a person, or blank for no trigger message. */
  triggerMessage: string;
  /** A logged event of the workflow's trigger: its stored (whole) message is the trigger message instead. */
  fromEventId?: string | null;
}

export type RunFormErrors = Partial<Record<"runDate" | "triggerMessage", string>>;

export type RunFormResult = { ok: true; request: RunRequest } | { ok: false; errors: RunFormErrors };

export function runRequestFrom(form: RunForm): RunFormResult {
  const errors: RunFormErrors = {};
  const request: RunRequest = { env: form.env };

  const runDate = form.runDate.trim();
  if (runDate) {
    if (bizdateOf(runDate) === null) errors.runDate = "Enter a real date as yyyymmdd, e.g. 20260310.";
    else request.runDate = runDate;
  }

  // The server reads the event's whole stored message; the text shown is only its preview.
  if (form.fromEventId) {
    request.fromEventId = form.fromEventId;
    return Object.keys(errors).length ? { ok: false, errors } : { ok: true, request };
  }

  const message = parseTriggerMessage(form.triggerMessage);
  if (message.ok) {
    if (message.value !== undefined) request.triggerMessage = message.value;
  } else {
    errors.triggerMessage = message.error;
  }

  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, request };
}

/** Blank means no message; anything else must be JSON. */
export function parseTriggerMessage(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (!text.trim()) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: `The trigger message is not valid JSON: ${(error as Error).message}` };
  }
}
