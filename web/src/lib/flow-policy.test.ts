import { describe, expect, it } from "vitest";
import { ALERT_EVENTS, OVERLAP_POLICIES } from "../../../worker/core/definition.ts";
import {
  ALERT_EVENT_CHOICES,
  concurrencyFrom,
  DEFAULT_SLOW_AFTER_SECONDS,
  newAlert,
  numberOrNull,
  OVERLAP_CHOICES,
  overlapHelp,
  removeAlert,
  replaceAlert,
  secondsInWords,
  withAlertEvent,
} from "./flow-policy.ts";

describe("the editor's choices", () => {
  it("offers exactly the overlap policies and alert events the server accepts", () => {
    expect(OVERLAP_CHOICES.map((c) => c.value)).toEqual([...OVERLAP_POLICIES]);
    expect(ALERT_EVENT_CHOICES.map((c) => c.value)).toEqual([...ALERT_EVENTS]);
  });

  it("explains the default overlap policy when none is set", () => {
    expect(overlapHelp(undefined)).toMatch(/waits/);
    expect(overlapHelp("skip")).toMatch(/skipped/);
  });
});

describe("concurrencyFrom", () => {
  it("drops the key limit when the key is blank", () => {
    expect(concurrencyFrom("  ", "3")).toBeNull();
  });

  it("keeps the key and limit, one at a time when the limit is blank", () => {
    expect(concurrencyFrom("${workflow.triggerMessage.key}", "2")).toEqual({ key: "${workflow.triggerMessage.key}", limit: 2 });
    expect(concurrencyFrom("k", "")).toEqual({ key: "k", limit: 1 });
  });

  it("passes a number it cannot read on, so the server names the field", () => {
    expect(numberOrNull("")).toBeNull();
    expect(numberOrNull("abc")).toBeNaN();
  });
});

describe("alert rows", () => {
  it("adds slowAfterSeconds with slow and removes it without", () => {
    const slow = withAlertEvent(newAlert(), "slow", true);
    expect(slow.on).toEqual(["failed", "slow"]);
    expect(slow.slowAfterSeconds).toBe(DEFAULT_SLOW_AFTER_SECONDS);
    const back = withAlertEvent({ ...slow, slowAfterSeconds: 30 }, "slow", false);
    expect(back).toEqual({ on: ["failed"], url: "", format: "standard" });
  });

  it("keeps a threshold already typed when slow stays on", () => {
    const alert = withAlertEvent({ on: ["slow"], slowAfterSeconds: 42, url: "https://x", format: "slack" }, "recovered", true);
    expect(alert).toEqual({ on: ["slow", "recovered"], slowAfterSeconds: 42, url: "https://x", format: "slack" });
  });

  it("lists events in the order of the choices whatever the order of clicks", () => {
    const alert = withAlertEvent(withAlertEvent({ ...newAlert(), on: ["recovered"] }, "terminated", true), "failed", true);
    expect(alert.on).toEqual(["failed", "terminated", "recovered"]);
  });

  it("replaces and removes one row by its place", () => {
    const rows = [newAlert(), { ...newAlert(), url: "https://b" }, { ...newAlert(), url: "https://c" }];
    expect(removeAlert(rows, 1).map((a) => a.url)).toEqual(["", "https://c"]);
    expect(replaceAlert(rows, 0, { ...newAlert(), url: "https://a" }).map((a) => a.url)).toEqual(["https://a", "https://b", "https://c"]);
  });
});

describe("secondsInWords", () => {
  it("says a duration with its two largest units", () => {
    expect(secondsInWords(90)).toBe("1 min 30 s");
    expect(secondsInWords(7200)).toBe("2 h");
    expect(secondsInWords(90_061)).toBe("1 d 1 h");
    expect(secondsInWords(null)).toBe("");
  });
});
