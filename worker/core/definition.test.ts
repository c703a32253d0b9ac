// Tests for the editor's layout in a definition (`ui.positions`): kept as sent, bounded, only for its own nodes.
import { describe, expect, it } from "vitest";
import { LIMITS, MAX_NODES } from "./definition.ts";
import { SluiceError, type ErrorDetail } from "./errors.ts";
import { parseDefinition } from "./validate.ts";

const withPositions = (positions: unknown, nodes = [{ name: "a", type: "noop" }, { name: "b", type: "noop" }]) => ({ name: "laid_out", nodes, ui: { positions } });

const problems = (input: unknown): ErrorDetail[] => {
  try {
    parseDefinition(input);
  } catch (error) {
    if (error instanceof SluiceError) return error.details;
    throw error;
  }
  throw new Error("expected the definition to be rejected");
};

describe("ui.positions", () => {
  it("keeps the positions of the definition's nodes, and is optional", () => {
    expect(parseDefinition(withPositions({ a: { x: 10, y: -20.5 } })).ui).toEqual({ positions: { a: { x: 10, y: -20.5 } } });
    expect(parseDefinition({ name: "plain", nodes: [{ name: "a", type: "noop" }] }).ui).toBeUndefined();
  });

  it("names a position whose node is not in the workflow", () => {
    expect(problems(withPositions({ a: { x: 0, y: 0 }, ghost: { x: 0, y: 0 } }))).toEqual([
      { path: "ui.positions.ghost", message: "ui.positions.ghost: is the position of 'ghost', which is not a node of this workflow" },
    ]);
  });

  it("refuses coordinates that are out of bounds or not numbers", () => {
    const details = problems(withPositions({ a: { x: LIMITS.maxCanvasCoordinate + 1, y: 0 }, b: { x: 0, y: "12" } }));
    expect(details.map((d) => d.path)).toEqual(["ui.positions.a.x", "ui.positions.b.y"]);
    expect(details[0]!.message).toMatch(/within ±1000000/);
    expect(problems(withPositions({ a: { x: 0 } }))[0]).toMatchObject({ path: "ui.positions.a.y" });
  });

  it("refuses other ui fields, naming the allowed one", () => {
    expect(problems({ name: "w", nodes: [{ name: "a", type: "noop" }], ui: { zoom: 2 } })).toEqual([{ path: "ui.zoom", message: "ui has no field 'zoom'" }]);
  });

  it("bounds the number of positions and of the stray names it lists", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_NODES + 1 }, (_, i) => [`n${i}`, { x: i, y: 0 }]));
    const details = problems(withPositions(many));
    expect(details[0]).toEqual({ path: "ui.positions", message: `ui.positions: at most ${MAX_NODES} positions, one per node` });
    expect(details.length).toBeLessThanOrEqual(12);
  });
});
