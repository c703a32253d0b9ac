// Where bash would evaluate a variable's value as code or as a name: the places DESIGN §2.3 refuses.
//
// Every reference becomes a variable expansion, which bash never re-reads as code, except in these
// places: arithmetic (where a value like `a[$(cmd)]` runs cmd), array subscripts, assignments to
// integer variables, words that bash takes as variable names, and quoted heredocs (which expand
// nothing, so no value can reach them). Each reason says what to write instead.
import { ARITHMETIC_TEST, ASSIGNED_NAME, NAME_TEST, type Command } from "./shell-syntax.ts";

/** What a script declares anywhere: names with the integer or nameref attribute. */
export interface ScriptFacts {
  integerNames: ReadonlySet<string>;
  /** Some `declare -i`/`-n` names a variable computed at run time, so any assignment may be one. */
  dynamicAttributes: boolean;
}

/** Bash evaluates what is assigned to these as arithmetic, declared or not. */
const BUILTIN_INTEGERS = ["RANDOM", "SRANDOM", "OPTIND", "HISTCMD"];
/** Bash expands these again (prompts with command substitution) or sources the file they name. */
const RE_EXPANDED = new Set(["PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND", "BASH_ENV", "ENV"]);
const DECLARERS = new Set(["declare", "typeset", "local", "export", "readonly"]);
const NAME_TAKERS = new Set(["unset", "read", "mapfile", "readarray", "getopts", "wait"]);
const READERS = new Set(["read", "mapfile", "readarray"]);
const CODE_TAKERS = new Set(["eval", "trap", "alias"]);
/** The word so far ends inside `[…`: the reference is in a subscript. */
const IN_BRACKETS = /\[[^\]]*$/;
/** `name[…]=` / `name[…]+=`: an element assignment, whose value is plain data unless `name` is an integer array. */
const ELEMENT_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\[[^\]]*\]\+?=/;

// Over the whole text, strings and comments included: a declaration seen where there is none only refuses more.
const DECLARATION = /\b(?:declare|typeset|local|export|readonly)((?:[ \t]+[-+][A-Za-z]+)+)([^\n;&|)]*)/g;

export function scriptFacts(code: string): ScriptFacts {
  const integerNames = new Set(BUILTIN_INTEGERS);
  let dynamicAttributes = false;
  for (const [, options, rest] of code.matchAll(DECLARATION)) {
    if (!/[in]/.test(options!.replace(/[\s+-]/g, ""))) continue;
    for (const word of rest!.trim().split(/\s+/)) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word)?.[0];
      if (name) integerNames.add(name);
      else if (/^["']?[$`]/.test(word)) dynamicAttributes = true;
    }
  }
  return { integerNames, dynamicAttributes };
}

export const QUOTED_HEREDOC =
  "it sits in a quoted heredoc (<<'EOF'), where bash expands nothing, so no value can reach it; " +
  "use an unquoted heredoc (<<EOF) and write any other $, ` or \\ in it as \\$, \\` and \\\\";
export const HEREDOC_DELIMITER = "it sits in a heredoc delimiter, which must be literal text";

export const arithmetic = (form: string) =>
  `it sits in arithmetic (${form}), where bash evaluates text as code, a value's text too (a[$(cmd)] runs cmd); ` +
  `copy it to a variable and check that it is a number before computing with it: n="\${…}"; [[ $n =~ ^-?[0-9]+$ ]] || exit 1`;
export const SUBSCRIPT =
  "it sits in an array subscript, which bash evaluates as arithmetic, a value's text too (a[$(cmd)] runs cmd); " +
  'use the value as data, e.g. key="${…}" and a case statement on "$key"';
const integer = (name: string) =>
  `${name} is an integer variable (declare -i or a bash builtin), so bash evaluates what is assigned to it as arithmetic, a value's text too; ` +
  `assign the value to a plain variable and check it is a number: v="\${…}"; [[ $v =~ ^-?[0-9]+$ ]] || exit 1`;
const NAMEREF = "declare -n makes the value a variable name, and bash evaluates a subscript in a name (a[$(cmd)]); assign it to a plain variable";
const DYNAMIC =
  "this script gives the integer or nameref attribute to a name it computes (declare -i \"$x\"), so any assignment may evaluate the value as code; " +
  "declare such variables by name";
const reExpanded = (name: string) => `bash expands ${name} again as code (prompts and startup files); a value must not reach it`;
const takesNames = (command: string) =>
  `${command} takes variable names here, and bash evaluates a subscript in a name (a[$(cmd)] runs cmd); a value must not be used as a variable name`;
const TEST_NAME = "[[ -v ]] and [[ -R ]] take a variable name, whose subscript bash evaluates as code; compare the value instead";
const takesCode = (command: string) => `${command} runs its argument as code; pass the value to the code through a variable instead`;
const READ_INTO_INTEGER =
  "read assigns into variables here, and this script has integer variables (declare -i), whose assignment bash evaluates as code; " +
  "read into plain variables and check them";

/** The refusal for a value assigned to `name`, if any. */
export function assignmentRefusal(name: string, facts: ScriptFacts): string | undefined {
  if (facts.integerNames.has(name)) return integer(name);
  if (RE_EXPANDED.has(name)) return reExpanded(name);
  if (facts.dynamicAttributes) return DYNAMIC;
  return undefined;
}

/** A heredoc body or here-string read by `read`/`mapfile` in a script with integer variables. */
export function readerRefusal(reader: string | undefined, facts: ScriptFacts): string | undefined {
  const risky = facts.integerNames.size > BUILTIN_INTEGERS.length || facts.dynamicAttributes;
  return reader !== undefined && READERS.has(reader) && risky ? READ_INTO_INTEGER : undefined;
}

/** `${name:=…}` assigns; `${a[…` and `${s:offset` evaluate arithmetic. `text` runs from after `${` to the reference. */
export function parameterRefusal(text: string, facts: ScriptFacts, parameterArithmetic: RegExp): string | undefined {
  if (parameterArithmetic.test(text)) return IN_BRACKETS.test(text) ? SUBSCRIPT : arithmetic("a ${s:offset:length} substring");
  const assigned = /^([A-Za-z_][A-Za-z0-9_]*):?=/.exec(text);
  return assigned ? assignmentRefusal(assigned[1]!, facts) : undefined;
}

/** Where a word of a simple command sits, seen from that command: its text up to the reference. */
export interface WordPosition {
  word: string;
  atCommand: boolean;
  isRedirect: boolean;
  /** The text of an open `[[ … ]]` around it, if any. */
  test?: string;
}

/** Why bash would evaluate a value in this word of this command, or undefined when it would not. */
export function commandRefusal(frame: Command, at: WordPosition, facts: ScriptFacts): string | undefined {
  const { word } = at;
  if (frame.letCommand) return arithmetic("let");
  if (at.test !== undefined) {
    if (ARITHMETIC_TEST.test(at.test)) return arithmetic("[[ -eq ]] and the other numeric tests");
    if (NAME_TEST.test(at.test)) return TEST_NAME;
  }
  if (frame.compound) {
    if (IN_BRACKETS.test(word)) return SUBSCRIPT;
    return assignmentRefusal(frame.compound.name, facts);
  }
  if (at.isRedirect) return readerRefusal(frame.name, facts);
  if (at.atCommand) {
    if (IN_BRACKETS.test(word)) return SUBSCRIPT;
    const assigned = ASSIGNED_NAME.exec(word) ?? ELEMENT_ASSIGNMENT.exec(word);
    return assigned ? assignmentRefusal(assigned[1]!, facts) : undefined; // otherwise a command name or case pattern
  }
  const name = frame.name ?? "";
  if (DECLARERS.has(name)) return declarationRefusal(name, frame.args, word, facts);
  if (NAME_TAKERS.has(name)) return takesNames(name);
  if (CODE_TAKERS.has(name)) return takesCode(name);
  if (name === "printf" && (frame.args.at(-1) === "-v" || word.startsWith("-v"))) return takesNames("printf -v");
  if ((name === "test" || name === "[") && frame.args.some((a) => a === "-v" || a === "-R")) return TEST_NAME;
  // `for n in …` assigns each word to n.
  if ((name === "for" || name === "select") && frame.args.length > 0) return assignmentRefusal(frame.args[0]!, facts);
  return undefined;
}

function declarationRefusal(command: string, args: readonly string[], word: string, facts: ScriptFacts): string | undefined {
  const options = args.filter((a) => /^[-+]/.test(a)).join("");
  if (/^[-+]/.test(word)) return `a value cannot be an option of ${command}`;
  if (IN_BRACKETS.test(word)) return SUBSCRIPT;
  const assigned = ASSIGNED_NAME.exec(word) ?? ELEMENT_ASSIGNMENT.exec(word);
  if (!assigned) return takesNames(command);

  if (/i/.test(options)) return integer(assigned[1]!);
  if (/n/.test(options) && command !== "export") return NAMEREF;
  return assignmentRefusal(assigned[1]!, facts);
}
