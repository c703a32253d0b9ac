import { describe, expect, it } from "vitest";
import { safeNext, signInHref } from "./signin.ts";

describe("signInHref", () => {
  it("remembers the page with its query string", () => {
    const href = signInHref(new URL("https://sluice.test/instances?status=failed&env=prod"));
    expect(href).toBe("/signin?next=%2Finstances%3Fstatus%3Dfailed%26env%3Dprod");
    expect(safeNext(new URL(href, "https://sluice.test").searchParams.get("next"))).toBe("/instances?status=failed&env=prod");
  });

  it("does not send sign-in back to itself or remember the home page", () => {
    expect(signInHref(new URL("https://sluice.test/signin?next=%2Fworkflows"))).toBe("/signin");
    expect(signInHref(new URL("https://sluice.test/"))).toBe("/signin");
  });
});

describe("safeNext", () => {
  it("keeps paths on this site", () => {
    expect(safeNext("/workflows/wf_1")).toBe("/workflows/wf_1");
  });

  it("refuses other sites and odd values", () => {
    for (const next of [null, "", "https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)", "/signin"]) {
      expect(safeNext(next), String(next)).toBe("/workflows");
    }
  });
});
