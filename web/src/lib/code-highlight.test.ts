import { readFileSync } from "node:fs";
import { defaultHighlightStyle } from "@codemirror/language";
import { describe, expect, it } from "vitest";
import { themedHighlightStyle, TOKEN_VARIABLES } from "./code-highlight.ts";

const baseCss = readFileSync(new URL("../styles/base.css", import.meta.url), "utf8");

describe("themedHighlightStyle", () => {
  it("colours every token with a theme variable, none with a fixed colour", () => {
    const colours = themedHighlightStyle.specs.map((s) => s.color).filter((c) => c !== undefined);
    expect(colours.length).toBe(defaultHighlightStyle.specs.filter((s) => s.color !== undefined).length);
    for (const colour of colours) expect(colour).toMatch(/^var\(--code-[a-z]+\)$/);
  });

  it("keeps the default style's tags and font styles", () => {
    expect(themedHighlightStyle.specs.map((s) => s.tag)).toEqual(defaultHighlightStyle.specs.map((s) => s.tag));
    const bold = themedHighlightStyle.specs.filter((s) => s.fontWeight === "bold");
    expect(bold.length).toBe(defaultHighlightStyle.specs.filter((s) => s.fontWeight === "bold").length);
  });

  it("has a light and a dark value in base.css for every variable", () => {
    for (const variable of Object.values(TOKEN_VARIABLES)) {
      expect(baseCss, variable).toMatch(new RegExp(`${variable}: light-dark\\(#[0-9a-f]{6}, #[0-9a-f]{6}\\);`));
    }
  });
});
