// Signed webhooks in the Workers runtime: Standard Webhooks verification, replays, rotation, secrets sealed at rest.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { signWebhook } from "../../worker/core/triggers/index.ts";
import worker from "../../worker/index.ts";
import { api, isolatedGroup } from "./helpers.ts";
import { createTrigger, eventsOf, instancesOf, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();

async function webhookSetup(extra: Record<string, unknown> = {}) {
  const trigger = await createTrigger({ name: unique("hook"), type: "webhook", ...extra });
  const wf = await group.createWorkflow({ name: unique("on_webhook"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
  await publish(wf.id);
  return { trigger: trigger as { id: string; secret: string; hookUrl: string }, wf };
}

async function post(triggerId: string, body: string, headers: Record<string, string>) {
  const res = await SELF.fetch(`http://sluice.test/hooks/${triggerId}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}

const body = JSON.stringify({ order: 42, customer: "c-1" });

describe("webhook triggers", () => {
  it("starts a run for a correctly signed request, with the JSON body as the trigger message", async () => {
    const { trigger, wf } = await webhookSetup();
    expect(trigger.secret).toMatch(/^whsec_/);
    expect(trigger.hookUrl).toBe(`http://sluice.test/hooks/${trigger.id}`);
    const res = await post(trigger.id, body, signWebhook(trigger.secret, "msg_1", body));
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ outcome: "started", instanceIds: [expect.stringMatching(/^ins_/)] });
    const [run] = await instancesOf(wf.id);
    expect(run).toMatchObject({ id: res.json.instanceIds[0], triggerType: "webhook" });
    expect((await api("GET", `/api/v1/instances/${run!.id}`)).json.triggerMessage).toEqual({ order: 42, customer: "c-1" });
  });

  it("answers 401 and starts nothing for a bad, stale, tampered or unsigned request", async () => {
    const { trigger, wf } = await webhookSetup();
    const good = signWebhook(trigger.secret, "msg_2", body);
    const cases = {
      bad: { ...good, "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
      wrongSecret: signWebhook("whsec_" + btoa("another secret of 32 bytes......"), "msg_2", body),
      stale: signWebhook(trigger.secret, "msg_2", body, new Date(Date.now() - 10 * 60_000)),
      unsigned: {},
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await post(trigger.id, body, headers);
      expect(res.status, name).toBe(401);
      expect(res.json.error.code, name).toBe("unauthorized");
    }
    const tampered = await post(trigger.id, body.replace("42", "43"), good);
    expect(tampered.status).toBe(401);
    expect(tampered.json.error.message).toMatch(/no v1 signature/);
    expect((await post(trigger.id, body, cases.stale)).json.error.message).toMatch(/5 minutes/);
    expect(await instancesOf(wf.id)).toEqual([]);
    expect(await eventsOf(trigger.id)).toEqual([]);
  });

  it("answers 2xx to a replayed webhook-id and starts nothing new", async () => {
    const { trigger, wf } = await webhookSetup();
    const headers = signWebhook(trigger.secret, "msg_replay", body);
    const first = await post(trigger.id, body, headers);
    const replay = await post(trigger.id, body, headers);
    const resigned = await post(trigger.id, body, signWebhook(trigger.secret, "msg_replay", body, new Date(Date.now() - 1000)));
    expect(first.status).toBe(202);
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ outcome: "duplicate", instanceIds: first.json.instanceIds });
    expect(resigned.json.outcome).toBe("duplicate");
    expect(await instancesOf(wf.id)).toHaveLength(1);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome).sort()).toEqual(["duplicate", "duplicate", "started"]);
  });

  it("verifies with a rotated secret, and the previous one during the grace period", async () => {
    const { trigger, wf } = await webhookSetup();
    const rotated = await api("POST", `/api/v1/triggers/${trigger.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const secret = rotated.json.secret as string;
    expect(secret).not.toBe(trigger.secret);
    expect((await post(trigger.id, body, signWebhook(secret, "r-1", body))).status).toBe(202);
    expect((await post(trigger.id, body, signWebhook(trigger.secret, "r-2", body))).status).toBe(202);
    expect(await instancesOf(wf.id)).toHaveLength(2);
  });

  it("answers 404 for an unknown trigger and 400 for a verified body that is not JSON", async () => {
    expect((await post("trg_nope", body, {})).status).toBe(404);
    const { trigger } = await webhookSetup();
    const res = await post(trigger.id, "not json", signWebhook(trigger.secret, "nj", "not json"));
    expect(res.status).toBe(400);
  });

  it("refuses a body over 128 KB with 413 before anything starts", async () => {
    const { trigger, wf } = await webhookSetup();
    const big = JSON.stringify({ blob: "x".repeat(130 * 1024) });
    const res = await post(trigger.id, big, signWebhook(trigger.secret, "big", big));
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("payload_too_large");
    expect(await instancesOf(wf.id)).toEqual([]);
  });

  it("logs a disabled or filtered webhook and starts nothing", async () => {
    const { trigger, wf } = await webhookSetup({ filter: "order > 100" });
    const filtered = await post(trigger.id, body, signWebhook(trigger.secret, "f-1", body));
    expect(filtered).toMatchObject({ status: 200, json: { outcome: "filtered" } });
    await api("POST", `/api/v1/triggers/${trigger.id}/disable`);
    const disabled = await post(trigger.id, body, signWebhook(trigger.secret, "f-2", body));
    expect(disabled).toMatchObject({ status: 200, json: { outcome: "disabled" } });
    expect(await instancesOf(wf.id)).toEqual([]);
  });
});

/** The trigger's row as D1 holds it. */
const storedSecrets = (id: string) =>
  env.DB.prepare("SELECT secret, previous_secret AS previous FROM triggers WHERE id = ?").bind(id).first<{ secret: string | null; previous: string | null }>();

/** The Worker with another SLUICE_SECRET_KEY, or none (a deployment that forgot `wrangler secret put`). */
async function withKey(key: string | undefined, path: string, init: RequestInit) {
  const ctx = createExecutionContext();
  const res = await worker.fetch!(new Request(`http://sluice.test${path}`, init) as any, { ...env, SLUICE_SECRET_KEY: key }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, json: (await res.json()) as any };
}
const withoutKey = (path: string, init: RequestInit) => withKey(undefined, path, init);
const ADMIN_JSON = { authorization: "Bearer test-admin-key", "content-type": "application/json" };

describe("webhook secrets at rest", () => {
  it("stores the secret sealed (v1:…), never as the whsec_ value, and still verifies with it", async () => {
    const { trigger } = await webhookSetup();
    const row = await storedSecrets(trigger.id);
    expect(row?.secret).toMatch(/^v1:/);
    expect(row?.secret).not.toContain(trigger.secret.slice("whsec_".length));
    expect((await post(trigger.id, body, signWebhook(trigger.secret, "sealed-1", body))).status).toBe(202);
  });

  it("seals both the new and the previous secret on rotation", async () => {
    const { trigger } = await webhookSetup();
    const before = await storedSecrets(trigger.id);
    const rotated = await api("POST", `/api/v1/triggers/${trigger.id}/rotate-secret`);
    const after = await storedSecrets(trigger.id);
    expect(after?.secret).toMatch(/^v1:/);
    expect(after?.previous).toBe(before?.secret);
    expect(JSON.stringify(after)).not.toContain(rotated.json.secret.slice("whsec_".length));
  });

  it("keeps verifying a legacy plaintext secret, and seals it when the secret is rotated", async () => {
    const { trigger, wf } = await webhookSetup();
    await env.DB.prepare("UPDATE triggers SET secret = ? WHERE id = ?").bind(trigger.secret, trigger.id).run();
    expect((await post(trigger.id, body, signWebhook(trigger.secret, "legacy-1", body))).status).toBe(202);
    const rotated = await api("POST", `/api/v1/triggers/${trigger.id}/rotate-secret`);
    const row = await storedSecrets(trigger.id);
    expect(row?.secret).toMatch(/^v1:/);
    expect(row?.previous).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain(trigger.secret.slice("whsec_".length));
    // The legacy secret, now sealed as the previous one, still verifies during the grace period; so does the new one.
    expect((await post(trigger.id, body, signWebhook(trigger.secret, "legacy-2", body))).status).toBe(202);
    expect((await post(trigger.id, body, signWebhook(rotated.json.secret, "legacy-3", body))).status).toBe(202);
    expect(await instancesOf(wf.id)).toHaveLength(3);
  });

  it("without SLUICE_SECRET_KEY refuses to create a webhook trigger or rotate, says why, and stores nothing", async () => {
    const name = unique("nokey");
    const headers = ADMIN_JSON;
    const created = await withoutKey("/api/v1/triggers", { method: "POST", headers, body: JSON.stringify({ name, type: "webhook" }) });
    expect(created.status).toBe(500);
    expect(created.json.error.message).toMatch(/SLUICE_SECRET_KEY is not set.*wrangler secret put SLUICE_SECRET_KEY/);
    expect((await api("GET", "/api/v1/triggers?type=webhook&limit=200")).json.items.map((t: { name: string }) => t.name)).not.toContain(name);

    const { trigger } = await webhookSetup();
    const before = await storedSecrets(trigger.id);
    const rotated = await withoutKey(`/api/v1/triggers/${trigger.id}/rotate-secret`, { method: "POST", headers });
    expect(rotated.status).toBe(500);
    expect(rotated.json.error.message).toMatch(/SLUICE_SECRET_KEY is not set/);
    expect(await storedSecrets(trigger.id)).toEqual(before);
    // Triggers without a secret need no key.
    const r2 = await withoutKey("/api/v1/triggers", { method: "POST", headers, body: JSON.stringify({ name: unique("r2"), type: "r2", config: { bucket: "uploads" } }) });
    expect(r2.status).toBe(201);
  });

  it("after SLUICE_SECRET_KEY is replaced, a webhook fails until its secret is rotated under the new key", async () => {
    const { trigger, wf } = await webhookSetup();
    const newKey = btoa("another-32-byte-key-for-the-test");
    const signed = (id: string, secret: string) => ({ method: "POST", headers: { "content-type": "application/json", ...signWebhook(secret, id, body) }, body });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect((await withKey(newKey, `/hooks/${trigger.id}`, signed("replaced-1", trigger.secret))).status).toBe(500);
      expect(errors.mock.calls.flat().join(" ")).toMatch(/does not decrypt.*rotating the secret/);
    } finally {
      errors.mockRestore();
    }
    const rotated = await withKey(newKey, `/api/v1/triggers/${trigger.id}/rotate-secret`, { method: "POST", headers: ADMIN_JSON });
    expect(rotated.status).toBe(200);
    // The old secret, sealed under the old key, verifies nothing now and is dropped rather than kept for its grace period.
    expect((await storedSecrets(trigger.id))?.previous).toBeNull();
    expect((await withKey(newKey, `/hooks/${trigger.id}`, signed("replaced-2", rotated.json.secret))).status).toBe(202);
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });

  it("answers a webhook whose secret cannot be opened with a bare 500, logs why for the operator, and starts nothing", async () => {
    const { trigger, wf } = await webhookSetup();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const res = await withoutKey(`/hooks/${trigger.id}`, { method: "POST", headers: { "content-type": "application/json", ...signWebhook(trigger.secret, "nokey-1", body) }, body });
      expect(res.status).toBe(500);
      expect(res.json.error.message).not.toMatch(/SLUICE_SECRET_KEY|v1:|whsec_/);
      const logged = errors.mock.calls.flat().join(" ");
      expect(logged).toMatch(/SLUICE_SECRET_KEY is not set/);
      expect(logged).not.toContain(trigger.secret);
    } finally {
      errors.mockRestore();
    }
    expect(await instancesOf(wf.id)).toEqual([]);
  });
});
