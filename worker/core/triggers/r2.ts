// R2 event notifications: their shape, which trigger event types they are, key globs, the CloudEvents envelope.
import picomatch from "picomatch";
import { z } from "zod";
import { sha256Hex } from "./hash.ts";

/** R2's notification actions today; an action R2 adds later still parses and can be selected by name. */
export const R2_CREATE_ACTIONS = ["PutObject", "CopyObject", "CompleteMultipartUpload"] as const;
export const R2_DELETE_ACTIONS = ["DeleteObject", "LifecycleDeletion"] as const;
export const R2_ACTIONS = [...R2_CREATE_ACTIONS, ...R2_DELETE_ACTIONS] as const;
export const R2_EVENT_GROUPS = { "object-create": R2_CREATE_ACTIONS, "object-delete": R2_DELETE_ACTIONS } as const;
export type R2EventSelector = keyof typeof R2_EVENT_GROUPS | (typeof R2_ACTIONS)[number];
export const R2_EVENT_SELECTORS = [...(Object.keys(R2_EVENT_GROUPS) as (keyof typeof R2_EVENT_GROUPS)[]), ...R2_ACTIONS] as const;

/** The message body R2 sends to a queue (and the upload endpoint emulates). Unknown fields are kept. */
export const R2NotificationSchema = z
  .object({
    account: z.string(),
    action: z.string().min(1),
    bucket: z.string().min(1),
    object: z.looseObject({ key: z.string(), size: z.number().optional(), eTag: z.string().optional() }),
    eventTime: z.string(),
    copySource: z.looseObject({ bucket: z.string(), object: z.string() }).optional(),
  })
  .loose();
export type R2Notification = z.output<typeof R2NotificationSchema>;

export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: R2Notification;
}

const isCreate = (action: string) => (R2_CREATE_ACTIONS as readonly string[]).includes(action);
const isDelete = (action: string) => (R2_DELETE_ACTIONS as readonly string[]).includes(action);

/** `r2:ObjectCreated:PutObject`, `r2:ObjectDeleted:DeleteObject`; an unknown action keeps its own name. */
export function r2EventType(action: string): string {
  return `r2:${isCreate(action) ? "ObjectCreated" : isDelete(action) ? "ObjectDeleted" : "Object"}:${action}`;
}

export function matchesEventSelectors(selectors: readonly string[], action: string): boolean {
  return selectors.some((s) => s === action || (s in R2_EVENT_GROUPS && (R2_EVENT_GROUPS[s as keyof typeof R2_EVENT_GROUPS] as readonly string[]).includes(action)));
}

const matchers = new Map<string, (key: string) => boolean>();

/**
 * Object-key globs: `*` stays within one path segment, `**` crosses them, `{a,b}` and `[...]` work.
 * An object key is not a file path: dot-files match, a newline is an ordinary character (regex
 * flag `s`), and separators are POSIX only.
 */
export function keyMatches(pattern: string, key: string): boolean {
  let match = matchers.get(pattern);
  if (!match) {
    match = picomatch(pattern, { dot: true, windows: false, flags: "s" });
    if (matchers.size > 1000) matchers.clear();
    matchers.set(pattern, match);
  }
  return match(key);
}

/** The envelope nodes read as `${workflow.triggerMessage...}`: the notification itself is `data`. */
export function cloudEvent(notification: R2Notification, id: string): CloudEvent {
  return {
    specversion: "1.0",
    id,
    source: `r2://${notification.bucket}`,
    type: r2EventType(notification.action),
    subject: notification.object.key,
    time: notification.eventTime,
    datacontenttype: "application/json",
    data: notification,
  };
}

/** A content hash: the same notification delivered twice has the same CloudEvents id. */
export async function cloudEventId(notification: R2Notification): Promise<string> {
  return (await sha256Hex(JSON.stringify(notification))).slice(0, 32);
}
