// The workflow's flow-control policy (DESIGN §2.9, §2.10) as the editor shows it: choices in words and edits to its alert rows.
import type { AlertEvent, AlertRule, OverlapPolicy, SchedulingPolicy } from "./api/types.ts";

/** What a new instance does when a limit is full; the words are the help text under the choice. */
export const OVERLAP_CHOICES: readonly { value: OverlapPolicy; label: string; help: string }[] = [
  { value: "queue", label: "queue", help: "The new instance waits for a free place (the default)." },
  { value: "skip", label: "skip", help: "The new instance never starts: it ends as skipped, with the reason." },
  { value: "replace", label: "replace", help: "The oldest running instance of that key is terminated and the new one starts." },
  { value: "latest", label: "latest", help: "At most one waits per key: a newer arrival takes its place and the older one is skipped." },
];

export const ALERT_EVENT_CHOICES: readonly { value: AlertEvent; help: string }[] = [
  { value: "failed", help: "an instance failed" },
  { value: "terminated", help: "an instance was terminated" },
  { value: "skipped", help: "an instance never ran (overlap policy or waiting timeout)" },
  { value: "slow", help: "an instance has run longer than the time below" },
  { value: "recovered", help: "the first success after a failure" },
];

/** Where a new `slow` alert starts: ten minutes. */
export const DEFAULT_SLOW_AFTER_SECONDS = 600;

export function overlapHelp(value: OverlapPolicy | undefined): string {
  return OVERLAP_CHOICES.find((c) => c.value === (value ?? "queue"))!.help;
}

/** A whole number typed in a field, or null for blank; anything else is passed on for the server to name. */
export function numberOrNull(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

/**
 * The concurrency block after its key or limit was edited: a blank key means no key limit at all,
 * and a limit left blank is 1 (one at a time per key value).
 */
export function concurrencyFrom(key: string, limit: string): SchedulingPolicy["concurrency"] {
  if (key.trim() === "") return null;
  return { key: key.trim(), limit: numberOrNull(limit) ?? 1 };
}

export function newAlert(): AlertRule {
  return { on: ["failed"], url: "", format: "standard" };
}

/**
 * An alert with one event turned on or off, in the order the choices list them; `slow` brings its
 * threshold with it and takes it away again, so a saved rule never has one without the other.
 */
export function withAlertEvent(alert: AlertRule, event: AlertEvent, on: boolean): AlertRule {
  const chosen = new Set(alert.on);
  if (on) chosen.add(event);
  else chosen.delete(event);
  const next: AlertRule = { ...alert, on: ALERT_EVENT_CHOICES.map((c) => c.value).filter((v) => chosen.has(v)) };
  if (chosen.has("slow")) next.slowAfterSeconds = alert.slowAfterSeconds ?? DEFAULT_SLOW_AFTER_SECONDS;
  else delete next.slowAfterSeconds;
  return next;
}

export function replaceAlert(alerts: readonly AlertRule[], index: number, next: AlertRule): AlertRule[] {
  return alerts.map((a, i) => (i === index ? next : a));
}

export function removeAlert(alerts: readonly AlertRule[], index: number): AlertRule[] {
  return alerts.filter((_, i) => i !== index);
}

/** Seconds in words for a help line: 90 → "1 min 30 s", 7200 → "2 h". */
export function secondsInWords(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return "";
  const parts: string[] = [];
  const units: [number, string][] = [[86_400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  let rest = Math.round(seconds);
  for (const [size, unit] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}
