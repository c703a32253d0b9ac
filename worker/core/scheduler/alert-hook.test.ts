// The finish hook of alerts (core/alerts.ts): one `alert` effect when a production instance whose definition has alerts ends.
import { describe, expect, it } from "vitest";
import { shell, World } from "./fake-host.ts";

const alerts = [{ on: ["failed", "terminated", "skipped", "recovered"] as ("failed" | "terminated" | "skipped" | "recovered")[], url: "https://hooks.example/a" }];
const alertEffects = (w: World) => w.take().flatMap((e) => (e.kind === "alert" ? [{ instance: e.instance.id, status: e.status, env: e.instance.env }] : []));
const attempt = (w: World, id: string) => w.host.currentRuns(id)[0]!.id;

describe("the alert hook in finish", () => {
  it("tells of a failed production instance once, with its final status", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a")], policy: { alerts } }, { env: "prod" });
    w.run(attempt(w, id), 1);
    expect(alertEffects(w)).toEqual([{ instance: id, status: "failed", env: "prod" }]);
  });

  it("tells of successes too (recovered is decided from them) and of terminations", () => {
    const w = new World();
    const ok = w.start({ name: "w", nodes: [shell("a")], policy: { alerts } }, { env: "prod" }).id;
    w.run(attempt(w, ok), 0);
    expect(alertEffects(w)).toEqual([{ instance: ok, status: "succeeded", env: "prod" }]);
    const stopped = w.start({ name: "w", nodes: [shell("a")], policy: { alerts } }, { env: "prod" }).id;
    w.tx((s) => s.terminate(stopped));
    expect(alertEffects(w)).toEqual([{ instance: stopped, status: "terminated", env: "prod" }]);
  });

  it("tells of a skipped instance", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a")], policy: { alerts } }, { env: "prod" });
    w.take();
    // Nothing on this branch skips an instance yet (admission's waiting timeout and overlap do): the hook is called as they will call it.
    w.tx((s) => (s as unknown as { finish(id: string, status: string, now: number): void }).finish(id, "skipped", w.host.clock));
    expect(alertEffects(w)).toEqual([{ instance: id, status: "skipped", env: "prod" }]);
  });

  it("stays silent for dev runs and for definitions without alerts", () => {
    const w = new World();
    const dev = w.start({ name: "w", nodes: [shell("a")], policy: { alerts } }, { env: "dev" }).id;
    w.run(attempt(w, dev), 1);
    const plain = w.start({ name: "w", nodes: [shell("a")] }, { env: "prod" }).id;
    w.run(attempt(w, plain), 1);
    expect(w.status(dev)).toBe("failed");
    expect(w.status(plain)).toBe("failed");
    expect(alertEffects(w)).toEqual([]);
  });
});
