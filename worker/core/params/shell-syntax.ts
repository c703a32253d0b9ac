// Pieces of bash syntax the quoting lexer needs: frames, sites, heredoc delimiters, word classes.

export type ShellSite =
  /** Where bash expands a variable without evaluating its value: the reference becomes one. */
  | { context: "unquoted" | "double" | "single" | "ansi" }
  /** `\${…}` (the language's own text) and comments: the reference is left as written. */
  | { context: "escaped" | "comment" }
  /** No safe form: bash would evaluate the value as code or as a name, or expand nothing there. */
  | { context: "refused"; reason: string };

export interface Heredoc {
  kind: "heredoc";
  delimiter: string;
  quoted: boolean;
  stripTabs: boolean;
  /** The command that reads the body on its standard input (e.g. `read`), when known. */
  reader?: string;
}

/** A command list: the script itself, a `$(…)` or a `…` substitution. */
export interface Command {
  kind: "command";
  closer: "eof" | ")" | "`";
  parens: number;
  cases: number;
  /** Where an open `[[` began (-1: none); `#` and `<<` mean nothing special inside it. */
  testFrom: number;
  letCommand: boolean;
  /** Heredocs opened on the current line, read after its newline. */
  pending: Heredoc[];
  /** The next character begins a word (so `#` starts a comment and `((` arithmetic). */
  wordStart: boolean;
  /** The next word is in command position (so `case`, `let`, `[[` and `a[…]=` mean something). */
  commandStart: boolean;
  /** Where the current word began, and whether it began in command position or as a redirection's target. */
  wordFrom: number;
  wordAtCommand: boolean;
  wordIsRedirect: boolean;
  /** The last operator was a redirection, so the next word is its target. */
  redirectNext: boolean;
  /** The simple command's name (after assignments, `builtin` and `command`) and its arguments so far. */
  name?: string;
  args: string[];
  /** Inside `name=( … )`: the array's name and how deep the parentheses are. */
  compound?: { name: string };
}

export type Frame =
  | Command
  | Heredoc
  | { kind: "double" | "single" | "ansi" | "comment" }
  | { kind: "param"; outer: "double" | "unquoted"; from: number; braces: number }
  | { kind: "arith"; closer: "))" | "]"; depth: number }
  /** `name[…]` in assignment position and extglob `@(…)`: one word up to the matching bracket. */
  | { kind: "subscript" | "group"; depth: number };

export const command = (closer: Command["closer"]): Command => ({
  kind: "command",
  closer,
  parens: 0,
  cases: 0,
  testFrom: -1,
  letCommand: false,
  pending: [],
  wordStart: true,
  commandStart: true,
  wordFrom: 0,
  wordAtCommand: false,
  wordIsRedirect: false,
  redirectNext: false,
  args: [],
});

export const BLANK = /[ \t]/;
export const OPERATOR = /[;&|()<>]/;
export const WORD_END = /[\s;&|()<>]/;
export const PLAIN_WORD_CHAR = /[^\s;&|()<>'"`$\\#]/;
/** After these words a new command begins, so `case`, `let` or `[[` there mean something. */
export const COMMAND_PREFIX = new Set(["then", "do", "else", "elif", "if", "while", "until", "!", "{", "time"]);
export const ARITHMETIC_TEST = /(^|\s)-(eq|ne|lt|le|gt|ge)(\s|$)/;
/** `[[ -v name ]]` and `-R`: the operand is a variable name, whose subscript bash evaluates. */
export const NAME_TEST = /(^|\s)-[vR](\s|$)/;
/**
 * The start of a `${…}` up to a reference inside it, when bash evaluates that spot as arithmetic:
 * an indexed subscript (`${a[…`) or a substring offset or length (`${s:…`, but not `${s:-…`).
 */
export const PARAM_ARITHMETIC = /^[#!]?(?:[A-Za-z_][A-Za-z0-9_]*\[[^\]]*$|(?:[A-Za-z_][A-Za-z0-9_]*|\d+|[@*#?$!-])(?:\[[^\]]*\])?:(?![-=?+]))/s;
export const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=/s;
/** The name an assignment word assigns to (`n=…`, `n+=…`; not `a[…]=`). */
export const ASSIGNED_NAME = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/;
export const EXTGLOB_PREFIX = /[@!+*?]/;

/**
 * Reads the word after `<<` / `<<-` at `at`. Any quoting makes the body literal. A delimiter with
 * `$` or a backquote (`<<$'E'`) is taken as unquoted: misjudging it then only costs a variable
 * expansion printed as text, whereas a wrongly "literal" body would receive raw values.
 */
export function heredocDelimiter(code: string, at: number): { heredoc?: Heredoc; end: number } {
  let j = at;
  const stripTabs = code[j] === "-";
  if (stripTabs) j++;
  while (BLANK.test(code[j] ?? "")) j++;
  let delimiter = "";
  let quoted = false;
  while (j < code.length && !WORD_END.test(code[j]!)) {
    const c = code[j]!;
    if (c === "'" || c === '"') {
      const close = code.indexOf(c, j + 1);
      const stop = close < 0 ? code.length : close;
      delimiter += code.slice(j + 1, stop);
      quoted = true;
      j = stop + 1;
    } else if (c === "\\") {
      delimiter += code[j + 1] ?? "";
      quoted = true;
      j += 2;
    } else {
      delimiter += c;
      j++;
    }
  }
  if (delimiter === "") return { end: j };
  if (/[$`]/.test(delimiter)) quoted = false;
  return { heredoc: { kind: "heredoc", delimiter, quoted, stripTabs }, end: j };
}
