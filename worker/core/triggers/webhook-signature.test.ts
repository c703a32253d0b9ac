import { describe, expect, it } from "vitest";
import { newWebhookSecret, signWebhook, verifyWebhook } from "./webhook-signature.ts";

const body = JSON.stringify({ order: 42 });

describe("Standard Webhooks verification", () => {
  it("generates whsec_ secrets of 32 random bytes", () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it("accepts a correctly signed request and returns its webhook-id", () => {
    const secret = newWebhookSecret();
    expect(verifyWebhook([secret], body, signWebhook(secret, "msg_1", body))).toEqual({ ok: true, webhookId: "msg_1" });
  });

  it("refuses a tampered body, another secret, a stale or future timestamp and missing headers", () => {
    const secret = newWebhookSecret();
    const headers = signWebhook(secret, "msg_1", body);
    expect(verifyWebhook([secret], body.replace("42", "43"), headers)).toMatchObject({ ok: false, reason: expect.stringMatching(/no v1 signature/) });
    expect(verifyWebhook([newWebhookSecret()], body, headers).ok).toBe(false);
    const stale = signWebhook(secret, "msg_1", body, new Date(Date.now() - 6 * 60_000));
    expect(verifyWebhook([secret], body, stale)).toMatchObject({ ok: false, reason: expect.stringMatching(/more than 5 minutes old/) });
    const future = signWebhook(secret, "msg_1", body, new Date(Date.now() + 6 * 60_000));
    expect(verifyWebhook([secret], body, future)).toMatchObject({ ok: false, reason: expect.stringMatching(/future/) });
    expect(verifyWebhook([secret], body, { "webhook-id": "msg_1" })).toMatchObject({ ok: false, reason: expect.stringMatching(/required/) });
  });

  it("refuses a signature over another webhook-id (the id is signed too)", () => {
    const secret = newWebhookSecret();
    const headers = { ...signWebhook(secret, "msg_1", body), "webhook-id": "msg_2" };
    expect(verifyWebhook([secret], body, headers).ok).toBe(false);
  });

  it("accepts the previous secret during a rotation", () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    expect(verifyWebhook([current, previous], body, signWebhook(previous, "msg_1", body)).ok).toBe(true);
  });
});
