import { describe, expect, it } from "vitest";
import { DefinitionSchema } from "../definition.ts";
import { explainReferences, gatherPreview } from "./bench.ts";
import type { TriggerEvent } from "./decide.ts";

const at = Date.UTC(2026, 2, 11, 5, 40, 45);

describe("trigger test bench", () => {
  it("shows how each Sluice reference of each node resolves, leaving language variables alone", () => {
    const def = DefinitionSchema.parse({
      name: "w",
      params: { target: "ods" },
      nodes: [
        { name: "print_key", type: "shell", code: 'FILE_PATH="${workflow.triggerMessage.data.object.key}"\necho "${FILE_PATH} ${workflow.target} ${bizdate}"' },
        { name: "after", type: "python", code: "x = '${nodes.print_key.outputs.rows}'\ny = '${workflow.triggerMessage.data.nope}'" },
      ],
    });
    const refs = explainReferences(def, { data: { object: { key: "input/a.csv" } } }, at);
    expect(refs).toEqual([
      { node: "print_key", ref: "${workflow.triggerMessage.data.object.key}", value: "input/a.csv" },
      { node: "print_key", ref: "${workflow.target}", value: "ods" },
      { node: "print_key", ref: "${bizdate}", value: "20260310" },
      { node: "after", ref: "${nodes.print_key.outputs.rows}", note: expect.stringMatching(/upstream/) },
      { node: "after", ref: "${workflow.triggerMessage.data.nope}", error: expect.stringMatching(/has no data\.nope/) },
    ]);
  });
});

describe("the test bench on a gathering trigger", () => {
  const event: TriggerEvent = { type: "webhook", message: { user: "u1", n: 1 }, webhookId: "w1", receivedAt: at };

  it("shows a batch of the sample alone as the run's message, and the key it is gathered under", () => {
    const preview = gatherPreview({ batch: { maxEvents: 10, windowSeconds: 30, key: "${workflow.triggerMessage.user}" }, debounce: null }, event);
    expect(preview).toEqual({
      outcome: "batched",
      gatherKey: "u1",
      detail: expect.stringMatching(/group of key 'u1'.*10 events.*30 s/),
      runMessage: { batch: { key: "u1", count: 1, firstReceivedAt: new Date(at).toISOString(), lastReceivedAt: new Date(at).toISOString() }, events: [{ user: "u1", n: 1 }] },
    });
  });

  it("shows the sample itself for a debounce, and an error for a key the message cannot fill", () => {
    expect(gatherPreview({ batch: null, debounce: { windowSeconds: 5, maxWaitSeconds: 60, key: null } }, event)).toMatchObject({
      outcome: "debounced",
      gatherKey: null,
      runMessage: { user: "u1", n: 1 },
      detail: expect.stringMatching(/none arrived for 5 s, at most 60 s/),
    });
    expect(gatherPreview({ batch: { maxEvents: 2, windowSeconds: 1, key: "${workflow.triggerMessage.team}" }, debounce: null }, event)).toMatchObject({
      outcome: "error",
      detail: expect.stringMatching(/^batch key: /),
    });
    expect(gatherPreview({ batch: null, debounce: null }, event)).toBeNull();
  });
});
