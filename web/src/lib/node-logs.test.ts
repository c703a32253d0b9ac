import { describe, expect, it } from "vitest";
import type { NodeRun } from "./api.ts";
import { isOpenByDefault, logsDue, logVersion } from "./node-logs.ts";

const node = (name: string, status: NodeRun["status"], attempt = 1): NodeRun => ({
  name,
  type: "shell",
  status,
  attempt,
  startedAt: status === "pending" || status === "queued" ? null : "2026-03-10T00:00:00Z",
  finishedAt: null,
  exitCode: null,
  error: null,
});

describe("isOpenByDefault", () => {
  it("opens every started node of a small instance", () => {
    expect(isOpenByDefault(node("a", "succeeded"), 3)).toBe(true);
    expect(isOpenByDefault(node("b", "pending"), 3)).toBe(false);
  });

  it("opens only running and failed nodes of a large instance", () => {
    expect(isOpenByDefault(node("a", "succeeded"), 50)).toBe(false);
    expect(isOpenByDefault(node("b", "running"), 50)).toBe(true);
    expect(isOpenByDefault(node("c", "failed"), 50)).toBe(true);
  });
});

describe("logsDue", () => {
  const all = () => true;

  it("fetches a log the first time its open node has started", () => {
    const nodes = [node("a", "succeeded"), node("b", "queued")];
    expect(logsDue(nodes, all, () => undefined)).toEqual(["a"]);
  });

  it("refetches a running node's log on every refresh", () => {
    const running = node("a", "running");
    expect(logsDue([running], all, () => logVersion(running))).toEqual(["a"]);
  });

  it("does not refetch a finished log that has not changed", () => {
    const done = node("a", "succeeded");
    expect(logsDue([done], all, () => logVersion(done))).toEqual([]);
  });

  it("refetches once more when a node finishes or starts another attempt", () => {
    expect(logsDue([node("a", "failed")], all, () => logVersion(node("a", "running")))).toEqual(["a"]);
    expect(logsDue([node("a", "running", 2)], all, () => logVersion(node("a", "failed", 1)))).toEqual(["a"]);
  });

  it("leaves closed logs alone", () => {
    expect(logsDue([node("a", "running")], () => false, () => undefined)).toEqual([]);
  });
});
