// Alerts (DESIGN §2.10): which fire when an instance finishes, runs long or recovers, what they carry, and when a failed delivery is tried again.
import type { AlertEvent, AlertPolicy } from "./definition.ts";

/** Waits after each failed attempt: 10 s, 30 s, 2 min, 10 min, 30 min; the sixth failure gives the delivery up. */
export const ALERT_RETRY_DELAYS_MS = [10_000, 30_000, 120_000, 600_000, 1_800_000] as const;
export const MAX_ALERT_ATTEMPTS = ALERT_RETRY_DELAYS_MS.length + 1;
/** How long one attempt waits for an answer. */
export const ALERT_TIMEOUT_MS = 10_000;
/** The first characters of an answer (or of why none came) kept in the alert log. */
export const ALERT_RESPONSE_CHARS = 1_024;
/** An alert names at most this many failed nodes, each error cut to ERROR_CHARS: a page, not a log. */
export const MAX_FAILED_NODES = 20;
const ERROR_CHARS = 500;

export type AlertFormat = AlertPolicy["format"];
/** What a delivery reports: an event of the policy, or `test` (the test button's sample). */
export type DeliveryEvent = AlertEvent | "test";
export type FinishedStatus = "succeeded" | "failed" | "terminated" | "skipped";
/** What `recovered` compares with: the environment's last instance that succeeded or failed. */
export type LastOutcome = "succeeded" | "failed";

export interface AlertToSend {
  event: AlertEvent;
  url: string;
  format: AlertFormat;
}

/**
 * Alerts fire for production instances only: a dev run is someone trying a draft, and a page for every
 * failed try would train people to ignore alerts. The test button sends a sample to try an alert's url.
 */
export const alertsApply = (env: string): boolean => env === "prod";

/** Whether the finish hook has anything to tell: the definition has alerts and the instance is production's. */
export const watchesFinish = (alerts: readonly AlertPolicy[], env: string): boolean => alerts.length > 0 && alertsApply(env);

const matching = (alerts: readonly AlertPolicy[], event: AlertEvent): AlertToSend[] =>
  alerts.filter((a) => a.on.includes(event)).map((a) => ({ event, url: a.url, format: a.format }));

/**
 * The alerts an instance's finish fires, and the outcome the environment remembers next. `recovered` is
 * the first success after a failure: a terminated or skipped instance neither failed nor succeeded, so it
 * leaves the remembered outcome as it was.
 */
export function alertsOnFinish(
  alerts: readonly AlertPolicy[],
  status: FinishedStatus,
  last: LastOutcome | null,
): { send: AlertToSend[]; remember: LastOutcome | null } {
  if (status === "succeeded") return { send: last === "failed" ? matching(alerts, "recovered") : [], remember: "succeeded" };
  return { send: matching(alerts, status), remember: status === "failed" ? "failed" : last };
}

/** The `slow` watches of an instance that started running at `startedAt`: one per alert on slow, by its index in the policy. */
export function slowWatches(alerts: readonly AlertPolicy[], startedAt: number): { index: number; dueAt: number }[] {
  return alerts.flatMap((a, index) => (a.on.includes("slow") && a.slowAfterSeconds !== undefined ? [{ index, dueAt: startedAt + a.slowAfterSeconds * 1000 }] : []));
}

/** A due slow watch fires only for the run it was set for: the instance still running since the same start. */
export const slowStillApplies = (instance: { status: string; started_at: number | null } | undefined, watchedStart: number): boolean =>
  instance?.status === "running" && instance.started_at === watchedStart;

/** The instance as an alert describes it. Times are ISO strings; `reason` is why a skipped instance never ran. */
export interface AlertInstance {
  id: string;
  status: string;
  env: string;
  version: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
  failedNodes: { name: string; error: string | null }[];
}

export interface AlertFacts {
  workflow: { id: string; name: string };
  instance: AlertInstance;
  /** The console page of the instance. */
  url: string;
}

/**
 * Where the console shows an instance (web/src/routes/instances/[id]) on the Worker's public origin
 * (PUBLIC_URL). Without one the link is the path alone: right for anyone who knows where the console is.
 */
export function consoleLink(publicUrl: string | null | undefined, instanceId: string): string {
  const path = `/instances/${encodeURIComponent(instanceId)}`;
  const origin = publicUrl?.trim().replace(/\/+$/, "");
  return origin ? `${origin}${path}` : path;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const WORDS: Record<DeliveryEvent, string> = {
  failed: "failed",
  terminated: "was terminated",
  skipped: "was skipped",
  slow: "is still running",
  recovered: "succeeded again after a failure",
  test: "sent a test alert",
};

/** One line a person reads: in the Slack text, and as the standard body's summary. */
export function alertSummary(event: DeliveryEvent, facts: AlertFacts): string {
  const { workflow, instance } = facts;
  const version = instance.version === null ? "draft" : `v${instance.version}`;
  let line = `Workflow ${workflow.name}: instance ${instance.id} (${instance.env}, ${version}) ${WORDS[event]}`;
  if (instance.reason) line += `: ${instance.reason}`;
  const failed = instance.failedNodes.slice(0, 5).map((n) => `${n.name}${n.error ? ` (${n.error.slice(0, 200)})` : ""}`);
  if (failed.length > 0) line += `; failed nodes: ${failed.join(", ")}${instance.failedNodes.length > 5 ? ", …" : ""}`;
  return line;
}

/** The body of an alert: the standard JSON event, or Slack's `{text}` (signed all the same). */
export function alertBody(event: DeliveryEvent, format: AlertFormat, facts: AlertFacts, at: number): string {
  if (format === "slack") return JSON.stringify({ text: `${alertSummary(event, facts)} <${facts.url}|open in Sluice>` });
  const { instance } = facts;
  return JSON.stringify({
    type: event === "test" ? "alert.test" : `instance.${event}`,
    timestamp: iso(at),
    data: {
      workflow: facts.workflow,
      instance: {
        id: instance.id,
        status: instance.status,
        env: instance.env,
        version: instance.version,
        createdAt: iso(instance.createdAt),
        startedAt: iso(instance.startedAt),
        finishedAt: iso(instance.finishedAt),
        ...(instance.reason ? { reason: instance.reason } : {}),
        failedNodes: instance.failedNodes.slice(0, MAX_FAILED_NODES).map((n) => ({ name: n.name, error: n.error?.slice(0, ERROR_CHARS) ?? null })),
      },
      url: facts.url,
      summary: alertSummary(event, facts),
    },
  });
}

/** The instance the test button describes: a made-up failed production run. */
export function sampleFacts(workflow: { id: string; name: string }, publicUrl: string | null | undefined, now: number): AlertFacts {
  const id = "ins_sample";
  return {
    workflow,
    instance: { id, status: "failed", env: "prod", version: 1, createdAt: now - 60_000, startedAt: now - 55_000, finishedAt: now, reason: null, failedNodes: [{ name: "example", error: "exit code 1" }] },
    url: consoleLink(publicUrl, id),
  };
}

/** What one attempt got: an HTTP answer, or why none came. */
export type AttemptAnswer = { status: number; body: string } | { error: string };

export type DeliveryState =
  | { status: "delivered"; attempts: number }
  | { status: "pending"; attempts: number; nextAt: number }
  | { status: "failed"; attempts: number };

/** A 2xx answer delivers; anything else waits for the next try, until the tries are used up. */
export function afterAttempt(attemptsBefore: number, answer: AttemptAnswer, now: number): DeliveryState {
  const attempts = attemptsBefore + 1;
  if ("status" in answer && answer.status >= 200 && answer.status < 300) return { status: "delivered", attempts };
  if (attempts >= MAX_ALERT_ATTEMPTS) return { status: "failed", attempts };
  return { status: "pending", attempts, nextAt: now + ALERT_RETRY_DELAYS_MS[attempts - 1]! };
}

/** The alert log's record of an answer: its status (null when none came) and first characters. */
export function answerRecord(answer: AttemptAnswer): { responseStatus: number | null; response: string } {
  if ("error" in answer) return { responseStatus: null, response: answer.error.slice(0, ALERT_RESPONSE_CHARS) };
  return { responseStatus: answer.status, response: answer.body.slice(0, ALERT_RESPONSE_CHARS) };
}

export type Signer = (webhookId: string, body: string, at: Date) => Record<string, string>;

/**
 * One attempt: POSTs the signed body and reads the first characters of the answer. `webhook-id` is the
 * delivery's id, the same on every attempt, so a receiver drops the repeats at-least-once delivery makes.
 * Redirects are not followed (a signed alert goes where it was configured to go, nowhere else).
 */
export async function postAlert(
  fetcher: typeof fetch,
  delivery: { id: string; url: string; body: string },
  sign: Signer,
  now: number,
): Promise<AttemptAnswer> {
  try {
    const res = await fetcher(delivery.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "Sluice-Alerts/1", ...sign(delivery.id, delivery.body, new Date(now)) },
      body: delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(ALERT_TIMEOUT_MS),
    });
    return { status: res.status, body: (await res.text()).slice(0, ALERT_RESPONSE_CHARS) };
  } catch (err) {
    const e = err as Error;
    return { error: e.name === "TimeoutError" ? `no answer within ${ALERT_TIMEOUT_MS / 1000}s` : `request failed: ${e.message}` };
  }
}
