// The TriggerGate's SQLite tables: the trigger it gathers for, its groups, and which events joined which group.
import type { GatherEvent, GatherRule, GatherStore, Group, GroupState } from "../core/triggers/gather.ts";
import { applySchema } from "../db/durable-schema.ts";

const SCHEMA = [
  `CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), trigger_id TEXT NOT NULL, workspace_id TEXT NOT NULL, trigger_type TEXT NOT NULL)`,
  `CREATE TABLE groups (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     key TEXT,
     rule TEXT NOT NULL,
     state TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     deadline_at INTEGER,
     count INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     first_received_at INTEGER NOT NULL,
     last_received_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_message TEXT,
     closed_at INTEGER)`,
  `CREATE INDEX groups_open ON groups (state, kind, key)`,
  `CREATE INDEX groups_due ON groups (state, due_at)`,
  // A batch keeps each member's message until it started; a debounce keeps only its group's last message.
  `CREATE TABLE members (event_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, seq INTEGER NOT NULL, message TEXT)`,
  `CREATE INDEX members_group ON members (group_id, seq)`,
  // The trigger's dedup keys of gathered events, each until its window ends (kept apart from members: a window may
  // outlast the memory of a started group).
  `CREATE TABLE dedup (key TEXT PRIMARY KEY, group_id TEXT NOT NULL, event_id TEXT NOT NULL, until INTEGER NOT NULL)`,
  `CREATE INDEX dedup_until ON dedup (until)`,
  `CREATE INDEX dedup_group ON dedup (group_id)`,
];

const PURGE_SLACK_MS = 10 * 60 * 1000;

/** A started group no dedup key still names: it is forgotten once CLOSED_MEMORY_MS passed. */
const UNHELD = `NOT EXISTS (SELECT 1 FROM dedup d WHERE d.group_id = groups.id)`;

/** The trigger a gate gathers for, told with every add (a gate is named after its trigger id). */
export interface GateTrigger {
  id: string;
  workspaceId: string;
  type: "r2" | "queue" | "webhook";
}

interface GroupRow extends Record<string, SqlStorageValue> {
  id: string;
  key: string | null;
  rule: string;
  state: string;
  opened_at: number;
  due_at: number;
  deadline_at: number | null;
  count: number;
  bytes: number;
  first_received_at: number;
  last_received_at: number;
  attempts: number;
}

const toGroup = (r: GroupRow): Group => ({
  id: r.id,
  key: r.key,
  rule: JSON.parse(r.rule) as GatherRule,
  state: r.state as GroupState,
  openedAt: r.opened_at,
  dueAt: r.due_at,
  deadlineAt: r.deadline_at,
  count: r.count,
  bytes: r.bytes,
  firstReceivedAt: r.first_received_at,
  lastReceivedAt: r.last_received_at,
  attempts: r.attempts,
});

const GROUP_COLUMNS = `id, key, rule, state, opened_at, due_at, deadline_at, count, bytes, first_received_at, last_received_at, attempts`;

export class GateStore implements GatherStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    applySchema(sql, SCHEMA);
  }

  rememberTrigger(trigger: GateTrigger): void {
    this.sql.exec(
      `INSERT INTO meta (id, trigger_id, workspace_id, trigger_type) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, trigger_type = excluded.trigger_type`,
      trigger.id,
      trigger.workspaceId,
      trigger.type,
    );
  }

  trigger(): GateTrigger | null {
    const row = this.sql.exec<{ trigger_id: string; workspace_id: string; trigger_type: string }>(`SELECT * FROM meta WHERE id = 1`).toArray()[0];
    return row ? { id: row.trigger_id, workspaceId: row.workspace_id, type: row.trigger_type as GateTrigger["type"] } : null;
  }

  groupOfEvent(eventId: string): Group | null {
    const row = this.sql
      .exec<GroupRow>(`SELECT ${GROUP_COLUMNS.split(", ").map((c) => `g.${c}`).join(", ")} FROM members m JOIN groups g ON g.id = m.group_id WHERE m.event_id = ?`, eventId)
      .toArray()[0];
    return row ? toGroup(row) : null;
  }

  openGroupFor(kind: GatherRule["kind"], key: string | null): Group | null {
    const row = this.sql.exec<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups WHERE state = 'open' AND kind = ? AND key IS ? LIMIT 1`, kind, key).toArray()[0];
    return row ? toGroup(row) : null;
  }

  saveGroup(g: Group): void {
    this.sql.exec(
      `INSERT INTO groups (${GROUP_COLUMNS}, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, due_at = excluded.due_at, count = excluded.count, bytes = excluded.bytes,
         first_received_at = excluded.first_received_at, last_received_at = excluded.last_received_at, attempts = excluded.attempts`,
      g.id,
      g.key,
      JSON.stringify(g.rule),
      g.state,
      g.openedAt,
      g.dueAt,
      g.deadlineAt,
      g.count,
      g.bytes,
      g.firstReceivedAt,
      g.lastReceivedAt,
      g.attempts,
      g.rule.kind,
    );
  }

  addMember(group: Group, event: GatherEvent): void {
    const text = JSON.stringify(event.message ?? null);
    const batch = group.rule.kind === "batch";
    this.sql.exec(`INSERT INTO members (event_id, group_id, seq, message) VALUES (?, ?, ?, ?)`, event.eventId, group.id, group.count, batch ? text : null);
    if (!batch) this.sql.exec(`UPDATE groups SET last_message = ? WHERE id = ?`, text, group.id);
  }

  dedupHolder(key: string, now: number): { group: Group; eventId: string } | null {
    const row = this.sql
      .exec<GroupRow & { event_id: string }>(
        `SELECT ${GROUP_COLUMNS.split(", ").map((c) => `g.${c}`).join(", ")}, d.event_id FROM dedup d JOIN groups g ON g.id = d.group_id WHERE d.key = ? AND d.until > ?`,
        key,
        now,
      )
      .toArray()[0];
    return row ? { group: toGroup(row), eventId: row.event_id } : null;
  }

  holdDedup(key: string, groupId: string, eventId: string, until: number): void {
    this.sql.exec(
      `INSERT INTO dedup (key, group_id, event_id, until) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET group_id = excluded.group_id, event_id = excluded.event_id, until = excluded.until`,
      key,
      groupId,
      eventId,
      until,
    );
  }

  /** Groups not started yet whose time has come (open and due, or closing and due for another try), oldest first. */
  dueGroups(now: number, limit: number): Group[] {
    return this.sql
      .exec<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups WHERE state IN ('open', 'closing') AND due_at <= ? ORDER BY due_at, id LIMIT ?`, now, limit)
      .toArray()
      .map(toGroup);
  }

  /** The run's trigger message material: a batch's member messages in arrival order, or a debounce's last message. */
  messagesOf(group: Group): unknown[] {
    if (group.rule.kind === "debounce") {
      const row = this.sql.exec<{ last_message: string | null }>(`SELECT last_message FROM groups WHERE id = ?`, group.id).one();
      return [JSON.parse(row.last_message ?? "null")];
    }
    return this.sql
      .exec<{ message: string | null }>(`SELECT message FROM members WHERE group_id = ? ORDER BY seq`, group.id)
      .toArray()
      .map((r) => JSON.parse(r.message ?? "null") as unknown);
  }

  /** Started: its members stay (a late redelivery finds them) without their messages. */
  markStarted(groupId: string, now: number): void {
    this.sql.exec(`UPDATE groups SET state = 'closed', closed_at = ?, last_message = NULL WHERE id = ?`, now, groupId);
    this.sql.exec(`UPDATE members SET message = NULL WHERE group_id = ?`, groupId);
  }

  /**
   * Forgets dedup keys whose window ended, and groups started before `before` with their members. A group a dedup
   * key still names stays (without its members) until that window ends, so the duplicate can name its run.
   */
  purgeStarted(before: number, now: number): void {
    this.sql.exec(`DELETE FROM dedup WHERE until <= ?`, now);
    this.sql.exec(`DELETE FROM members WHERE group_id IN (SELECT id FROM groups WHERE state = 'closed' AND closed_at < ?)`, before);
    this.sql.exec(`DELETE FROM groups WHERE state = 'closed' AND closed_at < ? AND ${UNHELD}`, before);
  }

  /** When the alarm must next wake: the earliest group due, started group to forget, or dedup window to end. */
  nextWake(memoryMs: number): number | null {
    const at = (query: string) => this.sql.exec<{ at: number | null }>(query).one().at;
    const due = at(`SELECT MIN(due_at) AS at FROM groups WHERE state IN ('open', 'closing')`);
    const oldest = at(`SELECT MIN(closed_at) AS at FROM groups WHERE state = 'closed' AND ${UNHELD}`);
    const dedupEnds = at(`SELECT MIN(until) AS at FROM dedup`);
    // Forgetting is not urgent: late wakes let one alarm forget many rows instead of one alarm per event.
    const forget = [oldest === null ? null : oldest + memoryMs, dedupEnds].filter((t): t is number => t !== null).map((t) => t + PURGE_SLACK_MS);
    const times = [...(due === null ? [] : [due]), ...forget];
    return times.length === 0 ? null : Math.min(...times);
  }
}
