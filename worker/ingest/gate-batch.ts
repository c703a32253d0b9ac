// Gathered events of one consumer batch go to each trigger's gate as one call (addMany), in arrival order.
import type { GatherEvent, GatherRule, Joined } from "../core/triggers/index.ts";
import type { GateTrigger } from "../gate/gate-store.ts";

export function gateFor(env: Env, triggerId: string) {
  return env.GATE.get(env.GATE.idFromName(triggerId));
}

interface Waiting {
  event: GatherEvent;
  resolve(joined: Joined): void;
  reject(err: unknown): void;
}

/** Collects events per trigger, then asks each trigger's gate once; each `add` settles with its event's group. */
export class GateBatch {
  private readonly env: Env;
  private readonly groups = new Map<string, { trigger: GateTrigger; rule: GatherRule; waiting: Waiting[] }>();

  constructor(env: Env) {
    this.env = env;
  }

  add(trigger: GateTrigger, rule: GatherRule, event: GatherEvent): Promise<Joined> {
    return new Promise<Joined>((resolve, reject) => {
      const entry = this.groups.get(trigger.id) ?? { trigger, rule, waiting: [] };
      entry.waiting.push({ event, resolve, reject });
      this.groups.set(trigger.id, entry);
    });
  }

  /** Sends every collected event; a gate that fails rejects its events only (their messages are retried). */
  async flush(): Promise<void> {
    const entries = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(
      entries.map(async ({ trigger, rule, waiting }) => {
        try {
          const joined = await gateFor(this.env, trigger.id).addMany(trigger, rule, waiting.map((w) => w.event));
          waiting.forEach((w, i) => w.resolve(joined[i]!));
        } catch (err) {
          for (const w of waiting) w.reject(err);
        }
      }),
    );
  }
}
