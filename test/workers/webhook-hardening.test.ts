// Webhook replay protection independent of the trigger's dedup settings, and no plaintext webhook secret left at rest.
import { createScheduledController, env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SecretBox } from "../../worker/core/secret-box.ts";
import { signWebhook, WEBHOOK_REPLAY_MEMORY_MS } from "../../worker/core/triggers/index.ts";
import { sealPlaintextSecrets } from "../../worker/db/secret-migration.ts";
import worker from "../../worker/index.ts";
import { isolatedGroup } from "./helpers.ts";
import { createTrigger, eventsOf, instancesOf, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();

/** A webhook trigger whose dedup key is a field of the body, so dedup alone would let a replay with another body start again. */
async function setup() {
  const trigger = (await createTrigger({ name: unique("hook"), type: "webhook", dedup: { key: "${workflow.triggerMessage.n}", windowSeconds: 60 } })) as { id: string; secret: string };
  const wf = await group.createWorkflow({ name: unique("on_hook"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
  await publish(wf.id);
  return { trigger, wf };
}

async function post(trigger: { id: string; secret: string }, webhookId: string, payload: unknown) {
  const body = JSON.stringify(payload);
  const res = await SELF.fetch(`http://sluice.test/hooks/${trigger.id}`, { method: "POST", headers: { "content-type": "application/json", ...signWebhook(trigger.secret, webhookId, body) }, body });
  return { status: res.status, json: (await res.json()) as { outcome: string; instanceIds: string[]; detail: string } };
}

const receipt = (triggerId: string, webhookId: string) =>
  env.DB.prepare("SELECT event_id, received_at, instance_ids, expires_at FROM webhook_receipts WHERE trigger_id = ? AND webhook_id = ?")
    .bind(triggerId, webhookId)
    .first<{ event_id: string; received_at: number; instance_ids: string | null; expires_at: number }>();

describe("webhook replay protection", () => {
  it("answers a webhook-id seen before as a duplicate even when the trigger's dedup key differs", async () => {
    const { trigger, wf } = await setup();
    const first = await post(trigger, "wh-1", { n: 1 });
    expect(first.status).toBe(202);
    const replay = await post(trigger, "wh-1", { n: 2 });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ outcome: "duplicate", instanceIds: first.json.instanceIds, detail: expect.stringContaining("webhook-id wh-1 was already received") });
    expect(await instancesOf(wf.id)).toHaveLength(1);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome)).toEqual(["duplicate", "started"]);
    // Another webhook-id with a new dedup value starts as usual.
    expect((await post(trigger, "wh-2", { n: 3 })).status).toBe(202);
  });

  it("keeps the webhook-id in D1 for longer than the signature tolerance", async () => {
    const { trigger } = await setup();
    await post(trigger, "wh-kept", { n: 1 });
    const row = await receipt(trigger.id, "wh-kept");
    expect(row!.expires_at - row!.received_at).toBe(WEBHOOK_REPLAY_MEMORY_MS);
    expect(JSON.parse(row!.instance_ids!)).toHaveLength(1);
  });

  it("finishes a first delivery that failed half-way with the same instance ids, and answers it as a duplicate", async () => {
    const { trigger, wf } = await setup();
    const now = Date.now();
    await env.DB.prepare("INSERT INTO webhook_receipts (trigger_id, webhook_id, event_id, received_at, instance_ids, expires_at) VALUES (?, ?, ?, ?, NULL, ?)")
      .bind(trigger.id, "wh-half", "evt_half", now, now + WEBHOOK_REPLAY_MEMORY_MS)
      .run();
    const retried = await post(trigger, "wh-half", { n: 1 });
    expect(retried.json.outcome).toBe("duplicate");
    expect(retried.json.instanceIds).toHaveLength(1);
    const again = await post(trigger, "wh-half", { n: 2 });
    expect(again.json).toMatchObject({ outcome: "duplicate", instanceIds: retried.json.instanceIds });
    expect((await instancesOf(wf.id)).map((i) => i.id)).toEqual(retried.json.instanceIds);
  });

  it("treats a webhook-id whose receipt expired as new", async () => {
    const { trigger, wf } = await setup();
    await env.DB.prepare("INSERT INTO webhook_receipts (trigger_id, webhook_id, event_id, received_at, instance_ids, expires_at) VALUES (?, ?, ?, ?, '[]', ?)")
      .bind(trigger.id, "wh-old", "evt_old", 1, 2)
      .run();
    expect((await post(trigger, "wh-old", { n: 1 })).status).toBe(202);
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });
});

describe("webhook secrets at rest", () => {
  const plaintextRows = () => env.DB.prepare("SELECT COUNT(*) AS n FROM triggers WHERE secret NOT LIKE 'v1:%' OR previous_secret NOT LIKE 'v1:%'").first<{ n: number }>();
  const stored = (id: string) => env.DB.prepare("SELECT secret, previous_secret AS previous FROM triggers WHERE id = ?").bind(id).first<{ secret: string; previous: string | null }>();

  it("seals rows left in plaintext from before encryption; the webhook still verifies", async () => {
    const { trigger, wf } = await setup();
    await env.DB.prepare("UPDATE triggers SET secret = ?, previous_secret = ?, previous_secret_until = ? WHERE id = ?")
      .bind(trigger.secret, "whsec_" + btoa("an older secret of 32 bytes....."), Date.now() + 3_600_000, trigger.id)
      .run();
    expect((await plaintextRows())!.n).toBeGreaterThan(0);
    expect(await sealPlaintextSecrets(env.DB, SecretBox.fromEnv(env))).toBeGreaterThanOrEqual(1);
    expect((await plaintextRows())!.n).toBe(0);
    const row = await stored(trigger.id);
    expect(row!.secret).toMatch(/^v1:/);
    expect(row!.previous).toMatch(/^v1:/);
    expect((await post(trigger, "sealed-1", { n: 1 })).status).toBe(202);
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });

  it("the cron seals them too", async () => {
    const { trigger } = await setup();
    await env.DB.prepare("UPDATE triggers SET secret = ? WHERE id = ?").bind(trigger.secret, trigger.id).run();
    await worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: "*/30 * * * *" }), env);
    expect((await stored(trigger.id))!.secret).toMatch(/^v1:/);
    expect((await plaintextRows())!.n).toBe(0);
  });

  it("without SLUICE_SECRET_KEY leaves the row as it is and says why", async () => {
    const { trigger } = await setup();
    await env.DB.prepare("UPDATE triggers SET secret = ? WHERE id = ?").bind(trigger.secret, trigger.id).run();
    await expect(sealPlaintextSecrets(env.DB, new SecretBox(undefined))).rejects.toThrow(/SLUICE_SECRET_KEY is not set/);
    expect((await stored(trigger.id))!.secret).toBe(trigger.secret);
    await sealPlaintextSecrets(env.DB, SecretBox.fromEnv(env));
  });
});
