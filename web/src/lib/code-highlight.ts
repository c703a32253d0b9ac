// Code colours that follow the console's light or dark theme: CodeMirror's default highlight style, recoloured with CSS variables.
import { defaultHighlightStyle, HighlightStyle } from "@codemirror/language";

/**
 * Each colour of CodeMirror's default style (one per group of syntax tags) and the variable that
 * replaces it; base.css gives every variable a light and a dark value, so switching the theme
 * recolours the code without reconfiguring an editor.
 */
export const TOKEN_VARIABLES: Readonly<Record<string, string>> = {
  "#404740": "--code-meta",
  "#708": "--code-keyword",
  "#219": "--code-atom",
  "#164": "--code-literal",
  "#a11": "--code-string",
  "#e40": "--code-escape",
  "#00f": "--code-definition",
  "#30a": "--code-local",
  "#085": "--code-type",
  "#167": "--code-class",
  "#256": "--code-special",
  "#00c": "--code-property",
  "#940": "--code-comment",
  "#f00": "--code-invalid",
};

/** The default style's tags and font styles, with its fixed colours swapped for the theme's variables. */
export const themedHighlightStyle = HighlightStyle.define(
  defaultHighlightStyle.specs.map((spec) => {
    const variable = typeof spec.color === "string" ? TOKEN_VARIABLES[spec.color] : undefined;
    return variable ? { ...spec, color: `var(${variable})` } : spec;
  }),
);
