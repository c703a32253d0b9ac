// Tenant boundaries as pure decisions: where a workspace's resource group lives, and which sources a workspace holds.
import type { ErrorDetail } from "./errors.ts";

/** The workspace every installation starts with; the bootstrap admin acts in it. */
export const DEFAULT_WORKSPACE = "default";

/**
 * The name of the ResourcePool object of a workspace's resource group (DESIGN §1: a group belongs to
 * one workspace). The default workspace keeps the bare group name its pools had before groups were
 * per workspace, so an installation's queued work and runners carry over; every other workspace's
 * group is `<workspaceId>/<group>`. Group names never hold `/`, so the two forms cannot collide.
 */
export function poolName(workspaceId: string, group: string): string {
  return workspaceId === DEFAULT_WORKSPACE ? group : `${workspaceId}/${group}`;
}

/** A bucket or a queue: the installation's event sources that workspaces are granted (DESIGN §2.7). */
export type SourceKind = "bucket" | "queue";

export interface SourceGrants {
  buckets: string[];
  queues: string[];
}

const LABEL: Record<SourceKind, string> = { bucket: "bucket", queue: "queue" };
const FIELD: Record<SourceKind, keyof SourceGrants> = { bucket: "buckets", queue: "queues" };

/**
 * Problems with a grant request: names this installation does not have (each named, with the ones it
 * has). An empty list means the request can be stored as it is.
 */
export function unknownSources(requested: SourceGrants, installed: SourceGrants): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const kind of ["bucket", "queue"] as const) {
    const field = FIELD[kind];
    requested[field].forEach((name, i) => {
      if (installed[field].includes(name)) return;
      const have = installed[field].length > 0 ? installed[field].join(", ") : "none";
      details.push({ path: `${field}[${i}]`, message: `${field}[${i}]: this installation has no ${LABEL[kind]} '${name}' (its ${field}: ${have})` });
    });
  }
  return details;
}

/** The grants as stored: each name once, sorted, so a PUT of the same set changes nothing. */
export function normalizeGrants(grants: SourceGrants): SourceGrants {
  const tidy = (names: string[]) => [...new Set(names)].sort();
  return { buckets: tidy(grants.buckets), queues: tidy(grants.queues) };
}

export function holds(grants: SourceGrants, kind: SourceKind, name: string): boolean {
  return grants[FIELD[kind]].includes(name);
}

/** Why a workspace may not use a source, or null when it holds it. The message names the source. */
export function notGrantedReason(grants: SourceGrants, kind: SourceKind, name: string): string | null {
  if (holds(grants, kind, name)) return null;
  return `this workspace was not granted ${LABEL[kind]} '${name}'; the installation's bootstrap admin grants sources with PUT /api/v1/workspaces/{id}/sources`;
}

/** The event log's detail for an event of a source its trigger's workspace no longer holds (its message is not kept). */
export function revokedSourceDetail(kind: SourceKind, name: string): string {
  return `the workspace no longer holds ${LABEL[kind]} '${name}': the event was not delivered to this trigger and its message is not kept`;
}
