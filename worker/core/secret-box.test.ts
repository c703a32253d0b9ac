// Sealing secrets at rest: round trips, legacy plaintext, binding to the owner, and clear errors about the key.
import { describe, expect, it } from "vitest";
import { SluiceError } from "./errors.ts";
import { SecretBox } from "./secret-box.ts";

const KEY = btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i * 7)));
const OTHER_KEY = btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => 255 - i)));
const SECRET = "whsec_c2VjcmV0LXZhbHVlLW9mLTMyLWJ5dGVzLi4uLi4uLi4=";

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe("secret box", () => {
  it("seals to a v1: value that holds nothing of the secret, and opens it again", async () => {
    const box = new SecretBox(KEY);
    const sealed = await box.seal("trg_1", SECRET);
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/]+=*$/);
    expect(sealed).not.toContain(SECRET.slice("whsec_".length, 20));
    expect(await box.open("trg_1", sealed)).toBe(SECRET);
  });

  it("uses a fresh IV for every seal", async () => {
    const box = new SecretBox(KEY);
    expect(await box.seal("trg_1", SECRET)).not.toBe(await box.seal("trg_1", SECRET));
  });

  it("reads a legacy plaintext value as is, even without a key, and reseals it on request", async () => {
    expect(await new SecretBox(undefined).open("trg_1", SECRET)).toBe(SECRET);
    const box = new SecretBox(KEY);
    const resealed = (await box.reseal("trg_1", SECRET)) ?? "";
    expect(resealed).toMatch(/^v1:/);
    expect(await box.open("trg_1", resealed)).toBe(SECRET);
    expect(await box.reseal("trg_1", resealed)).toBe(resealed);
  });

  it("drops, on reseal, a value sealed under another key (it can verify nothing), but not for want of a key", async () => {
    const sealed = await new SecretBox(OTHER_KEY).seal("trg_1", SECRET);
    expect(await new SecretBox(KEY).reseal("trg_1", sealed)).toBeNull();
    expect((await failure(new SecretBox(undefined).reseal("trg_1", sealed))).message).toMatch(/SLUICE_SECRET_KEY is not set/);
  });

  it("does not open a value sealed for another owner, or one that was altered", async () => {
    const box = new SecretBox(KEY);
    const sealed = await box.seal("trg_1", SECRET);
    const moved = await failure(box.open("trg_2", sealed));
    expect(moved.message).toMatch(/does not decrypt/);
    const flipped = sealed.slice(0, -6) + (sealed.at(-6) === "A" ? "B" : "A") + sealed.slice(-5);
    expect((await failure(box.open("trg_1", flipped))).message).toMatch(/does not decrypt/);
    expect((await failure(box.open("trg_1", "v1:AAAA"))).message).toMatch(/damaged/);
  });

  it("says the key is wrong when SLUICE_SECRET_KEY changed, without echoing any secret", async () => {
    const sealed = await new SecretBox(KEY).seal("trg_1", SECRET);
    const error = await failure(new SecretBox(OTHER_KEY).open("trg_1", sealed));
    expect(error.status).toBe(500);
    expect(error.message).toMatch(/SLUICE_SECRET_KEY is not the key it was sealed with/);
    for (const leak of [SECRET, KEY, OTHER_KEY, sealed]) expect(error.message).not.toContain(leak);
  });

  it("refuses to seal without a key, or with one that is not 32 bytes of base64, saying how to set it", async () => {
    for (const key of [undefined, "", "   "]) {
      const error = await failure(new SecretBox(key).seal("trg_1", SECRET));
      expect(error.message).toMatch(/SLUICE_SECRET_KEY is not set.*wrangler secret put SLUICE_SECRET_KEY/);
    }
    for (const key of [btoa("too short"), "not base64 at all!"]) {
      const error = await failure(new SecretBox(key).seal("trg_1", SECRET));
      expect(error.message).toMatch(/not 32 bytes in base64/);
      expect(error.message).not.toContain(key);
    }
  });

  it("opens with a key written in URL-safe base64 too", async () => {
    const sealed = await new SecretBox(KEY).seal("trg_1", SECRET);
    const urlSafe = KEY.replaceAll("+", "-").replaceAll("/", "_");
    expect(await new SecretBox(urlSafe).open("trg_1", sealed)).toBe(SECRET);
  });
});
