import { describe, expect, it } from "vitest";
import { fixture } from "./testing.ts";
import { cloudEvent, keyMatches, matchesEventSelectors, R2NotificationSchema, r2EventType } from "./r2.ts";


describe("R2 notifications", () => {
  it("parses every fixture and keeps fields it does not know", () => {
    for (const name of ["r2-put-object.json", "r2-copy-object.json", "r2-delete-object.json"]) {
      expect(R2NotificationSchema.safeParse(fixture(name)).success).toBe(true);
    }
    expect(R2NotificationSchema.parse({ ...fixture("r2-put-object.json"), region: "weur" })).toMatchObject({ region: "weur" });
  });

  it("refuses a body that is not an R2 notification", () => {
    expect(R2NotificationSchema.safeParse({ key: "x", value: "y" }).success).toBe(false);
  });

  it("names event types as r2:ObjectCreated:<action> and r2:ObjectDeleted:<action>", () => {
    expect(r2EventType("PutObject")).toBe("r2:ObjectCreated:PutObject");
    expect(r2EventType("CompleteMultipartUpload")).toBe("r2:ObjectCreated:CompleteMultipartUpload");
    expect(r2EventType("LifecycleDeletion")).toBe("r2:ObjectDeleted:LifecycleDeletion");
  });

  it("object-create covers Put, Copy and CompleteMultipartUpload; object-delete covers Delete and LifecycleDeletion", () => {
    for (const a of ["PutObject", "CopyObject", "CompleteMultipartUpload"]) expect(matchesEventSelectors(["object-create"], a)).toBe(true);
    for (const a of ["DeleteObject", "LifecycleDeletion"]) {
      expect(matchesEventSelectors(["object-create"], a)).toBe(false);
      expect(matchesEventSelectors(["object-delete"], a)).toBe(true);
    }
    expect(matchesEventSelectors(["CopyObject"], "PutObject")).toBe(false);
    expect(matchesEventSelectors(["CopyObject"], "CopyObject")).toBe(true);
  });

  it("matches keys with globs: * within a segment, ** across, braces, dot-files, newlines", () => {
    expect(keyMatches("input/*.csv", "input/test_file_20260310.csv")).toBe(true);
    expect(keyMatches("input/*.csv", "input/readme.txt")).toBe(false);
    expect(keyMatches("input/*.csv", "input/sub/a.csv")).toBe(false);
    expect(keyMatches("input/**/*.csv", "input/sub/a.csv")).toBe(true);
    expect(keyMatches("input/*.{csv,tsv}", "input/a.tsv")).toBe(true);
    expect(keyMatches("input/*.csv", "input/.hidden.csv")).toBe(true);
    expect(keyMatches("**", "any/key with spaces/$(x).csv")).toBe(true);
    expect(keyMatches("input/*.csv", "other/input/a.csv")).toBe(false);
    expect(keyMatches("hostile/**", "hostile/a\nb.csv")).toBe(true);
    expect(keyMatches("input/*.csv", "input/a\nb.csv")).toBe(true);
  });

  it("wraps the notification in a CloudEvents 1.0 envelope whose data.object.key is the key", () => {
    const n = R2NotificationSchema.parse(fixture("r2-put-object.json"));
    expect(cloudEvent(n, "evt-1")).toEqual({
      specversion: "1.0",
      id: "evt-1",
      source: "r2://uploads",
      type: "r2:ObjectCreated:PutObject",
      subject: "input/test_file_20260310.csv",
      time: "2026-03-11T05:40:45.379Z",
      datacontenttype: "application/json",
      data: n,
    });
  });
});
