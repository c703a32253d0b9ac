// Operating a trigger (DESIGN §2.10) in words: what a resume did, how many events a pause keeps, what a replay decided.
import type { Page, ReplayResult, ResumeResult, TriggerEvent } from "./api/types.ts";
import { formatTime } from "./format.ts";
import { eventSubject, outcomeText } from "./trigger-form.ts";

const events = (n: number) => `${n} event${n === 1 ? "" : "s"}`;

/** "Resumed 12 kept events in arrival order; 3 more continue in the background." */
export function resumeSummary({ resumed, remaining }: Pick<ResumeResult, "resumed" | "remaining">): string {
  const done = resumed === 0 ? "Resumed: no event was kept." : `Resumed ${events(resumed)} in arrival order.`;
  if (remaining === 0) return done;
  return `${done} ${remaining} more event${remaining === 1 ? " continues" : "s continue"} in the background.`;
}

/** The first page of kept events as a count: "100+" when there are more pages. */
export function keptCount(page: Page<TriggerEvent>): string {
  return page.nextCursor ? `${page.items.length}+` : String(page.items.length);
}

/** What a replay decided, for the row it was asked from. */
export function replaySummary(result: Pick<ReplayResult, "outcome" | "instanceIds">): string {
  const started = result.instanceIds.length;
  if (result.outcome === "started") return `Replayed: started ${started === 1 ? "a run" : `${started} runs`}.`;
  return `Replayed: ${result.outcome} (${outcomeText(result.outcome)}).`;
}

/** An event as the debug-run dialog lists it: when, what it was about, what it did. */
export function eventChoiceLabel(event: TriggerEvent, timeZone?: string): string {
  const subject = eventSubject(event);
  return [formatTime(event.receivedAt, timeZone), subject, event.outcome].filter(Boolean).join(" · ");
}

/** The stored message as the dialog's JSON text. */
export function messageText(message: unknown): string {
  return typeof message === "string" ? message : JSON.stringify(message, null, 2);
}
