// A Standard Webhooks sender for the fault suite: signed deliveries, concurrent duplicates, replays and retries of 5xx answers.
import { SELF } from "cloudflare:test";
import { signWebhook } from "../../worker/core/triggers/index.ts";
import { armFault } from "../../worker/faults.ts";
import { messageBody, type RunRequest, type World } from "./world.ts";

/** What one delivery finally got: a 2xx answer names the instances; null after the sender gave up on 5xx. */
export interface WebhookAnswer {
  status: number;
  outcome: string | null;
  instanceIds: string[];
}

/** Senders retry a 5xx with backoff; after this many tries the delivery is given up (the event may or may not have run). */
const MAX_TRIES = 6;

export class WebhookSender {
  readonly answers = new Map<string, WebhookAnswer[]>();
  stats = { deliveries: 0, duplicates: 0, replays: 0, retried: 0, refused: 0 };
  private readonly world: World;

  constructor(world: World) {
    this.world = world;
  }

  /** The webhook-id of a request: the tag in it ties log rows to their request. */
  webhookId(request: RunRequest): string {
    return `wh-${this.world.tag}-${request.tag}`;
  }

  /** Sends the request's copies at once: duplicates race each other with one webhook-id. */
  async send(request: RunRequest): Promise<void> {
    this.stats.duplicates += request.copies - 1;
    if (request.failsAfterStart) armFault(`hooks:${this.webhookId(request)}`);
    await Promise.all(Array.from({ length: request.copies }, () => this.deliver(request)));
  }

  /** The sender delivers the same event again later, freshly signed (a replay after a lost answer). */
  async replay(request: RunRequest): Promise<void> {
    this.stats.replays++;
    await this.deliver(request);
  }

  private async deliver(request: RunRequest): Promise<void> {
    const body = JSON.stringify(messageBody(this.world, request));
    const trigger = this.world.sources.webhook.triggerId!;
    let answer: WebhookAnswer = { status: 0, outcome: null, instanceIds: [] };
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      this.stats.deliveries++;
      if (attempt > 0) this.stats.retried++;
      const headers = { "content-type": "application/json", ...signWebhook(this.world.webhookSecret, this.webhookId(request), body) };
      const res = await SELF.fetch(`http://sluice.test/hooks/${trigger}`, { method: "POST", headers, body });
      const text = await res.text();
      if (res.status < 500) {
        if (res.status >= 300) this.stats.refused++;
        const json = res.status < 300 ? (JSON.parse(text) as { outcome: string; instanceIds: string[] }) : null;
        answer = { status: res.status, outcome: json?.outcome ?? null, instanceIds: json?.instanceIds ?? [] };
        break;
      }
      answer = { status: res.status, outcome: null, instanceIds: [] };
      await new Promise((r) => setTimeout(r, 40 * (attempt + 1)));
    }
    this.answers.set(request.tag, [...(this.answers.get(request.tag) ?? []), answer]);
  }
}
