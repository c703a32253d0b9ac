// A lexer of bash quoting: which quoting context each reference in a script sits in.
//
// It models only what decides how a substituted value must be spelled: quotes, escapes, comments,
// heredocs, command substitutions, parameter expansions, arithmetic and the bracketed words bash
// reads whole (`a[…]=`, `@(…)`). Where it cannot be sure it errs away from the two contexts that
// receive raw text (comments and quoted heredocs) towards ones that receive a variable expansion,
// which bash never re-reads as code.
import {
  ARITHMETIC_TEST,
  ASSIGNMENT,
  BLANK,
  command,
  COMMAND_PREFIX,
  EXTGLOB_PREFIX,
  heredocDelimiter,
  NAME,
  OPERATOR,
  PARAM_ARITHMETIC,
  PLAIN_WORD_CHAR,
  SUBSCRIPT,
  WORD_END,
  type Command,
  type Frame,
  type Heredoc,
  type ShellSite,
} from "./shell-syntax.ts";

export type { ShellSite } from "./shell-syntax.ts";

/** The quoting context of each reference (same order as `refs`), as bash would read the script. */
export function shellSites(code: string, refs: ReadonlyArray<{ start: number; end: number }>): ShellSite[] {
  return new ShellLexer(code, refs).run();
}

class ShellLexer {
  private readonly code: string;
  private readonly refs: ReadonlyArray<{ start: number; end: number }>;
  private readonly refAt = new Map<number, number>();
  private readonly sites: (ShellSite | undefined)[];
  private readonly stack: Frame[] = [command("eof")];
  private i = 0;
  /** The next character begins a word (so `#` starts a comment and `((` arithmetic). */
  private wordStart = true;
  /** The next word is in command position (so `case`, `let`, `[[` and `a[…]=` mean something). */
  private commandStart = true;
  /** Where the current word began, and whether it began in command position. */
  private wordFrom = 0;
  private wordAtCommand = false;

  constructor(code: string, refs: ReadonlyArray<{ start: number; end: number }>) {
    this.code = code;
    this.refs = refs;
    refs.forEach((r, n) => this.refAt.set(r.start, n));
    this.sites = refs.map(() => undefined);
  }

  run(): ShellSite[] {
    const { code } = this;
    while (this.i < code.length) {
      const top = this.stack.at(-1)!;
      if (top.kind === "heredoc" && this.atLineStart() && this.endsHeredoc(top)) continue;
      const ref = this.refAt.get(this.i);
      if (ref !== undefined) {
        this.sites[ref] = this.site();
        this.inWord();
        this.i = this.refs[ref]!.end;
        continue;
      }
      const c = code[this.i]!;
      switch (top.kind) {
        case "command": this.inCommand(top, c); break;
        case "double": this.inDouble(c); break;
        case "single": this.closeAt(c, "'"); break;
        case "ansi": c === "\\" ? this.escape() : this.closeAt(c, "'"); break;
        case "comment": this.inComment(c); break;
        case "param": this.inParam(top, c); break;
        case "arith": this.inArith(top, c); break;
        case "subscript": case "group": this.inBracketedWord(top, c); break;
        case "heredoc": top.quoted ? this.i++ : this.inHeredoc(c); break;
      }
    }
    // Only a reference inside a heredoc delimiter word is never visited; quoting it is harmless.
    return this.sites.map((s) => s ?? { context: "unquoted" });
  }

  private site(): ShellSite {
    const top = this.stack.at(-1)!;
    if (top.kind === "comment") return { context: "comment" };
    if (top.kind === "heredoc" && top.quoted) {
      const backticks = this.stack.some((f) => f.kind === "command" && f.closer === "`");
      return { context: "heredoc-literal", delimiter: top.delimiter, stripTabs: top.stripTabs, backticks };
    }
    if (this.inArithmetic()) return { context: "arithmetic" };
    if (top.kind === "single" || top.kind === "ansi") return { context: top.kind };
    if (top.kind === "param") return { context: top.outer };
    if (top.kind === "double" || top.kind === "heredoc") return { context: "double" };
    return { context: "unquoted" };
  }

  /** Arithmetic if any frame up to the enclosing command is, or the command itself evaluates it. */
  private inArithmetic(): boolean {
    let viaHeredoc = false;
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const frame = this.stack[k]!;
      if (frame.kind === "arith" || frame.kind === "subscript") return true;
      if (frame.kind === "heredoc") viaHeredoc = true;
      if (frame.kind === "param" && PARAM_ARITHMETIC.test(this.code.slice(frame.from + 2, this.i))) return true;
      if (frame.kind !== "command") continue;
      if (frame.letCommand) return true;
      if (frame.testFrom >= 0) {
        const close = this.code.indexOf("]]", this.i);
        if (ARITHMETIC_TEST.test(this.code.slice(frame.testFrom, close < 0 ? undefined : close))) return true;
      }
      return !viaHeredoc && !this.wordStart && SUBSCRIPT.test(this.code.slice(this.wordFrom, this.i));
    }
    return false;
  }

  private atLineStart() {
    return this.i === 0 || this.code[this.i - 1] === "\n";
  }

  /** At the start of a heredoc line: a line equal to the delimiter closes the body. */
  private endsHeredoc(doc: Heredoc): boolean {
    const nl = this.code.indexOf("\n", this.i);
    const line = this.code.slice(this.i, nl < 0 ? undefined : nl);
    if ((doc.stripTabs ? line.replace(/^\t+/, "") : line) !== doc.delimiter) return false;
    this.stack.pop();
    this.i = nl < 0 ? this.code.length : nl + 1;
    this.newCommand();
    return true;
  }

  private push(frame: Frame) {
    this.stack.push(frame);
    if (frame.kind === "command") this.newCommand();
  }

  private pop() {
    this.stack.pop();
    this.inWord();
  }

  private closeAt(c: string, quote: string) {
    if (this.backtickEnds(c)) return;
    if (c === quote) this.pop();
    this.i++;
  }

  /**
   * The first unescaped backquote ends a `…` substitution whatever quotes are open inside it,
   * so inside one a backquote closes it; elsewhere a backquote in "…" opens a new one.
   */
  private backtickEnds(c: string): boolean {
    if (c !== "`") return false;
    const k = this.stack.findLastIndex((f) => f.kind === "command");
    if ((this.stack[k] as Command).closer !== "`") return false;
    this.stack.length = k;
    this.i++;
    this.inWord();
    return true;
  }

  private openBacktick() {
    if (this.backtickEnds("`")) return;
    this.i++;
    this.push(command("`"));
  }

  private newCommand() {
    this.wordStart = true;
    this.commandStart = true;
  }

  /** The character at `i` belongs to a word. */
  private inWord() {
    if (this.wordStart) {
      this.wordFrom = this.i;
      this.wordAtCommand = this.commandStart;
    }
    this.wordStart = false;
    this.commandStart = false;
  }

  /** A blank or operator ends the word; after an assignment (`x=1 cmd`) a command may still follow. */
  private endWord() {
    const assignment = !this.wordStart && this.wordAtCommand && ASSIGNMENT.test(this.code.slice(this.wordFrom, this.i));
    this.wordStart = true;
    if (assignment) this.commandStart = true;
  }

  /** A backslash takes the next character literally; a reference right after it is not expanded. */
  private escape() {
    const ref = this.refAt.get(this.i + 1);
    if (ref !== undefined) this.sites[ref] = { context: "escaped" };
    this.i += 2;
  }

  /** `$…` forms; `quoted` says whether `$'` and `$"` are quotes here (they are not inside "…"). */
  private dollar(quoted: boolean) {
    const next = this.code[this.i + 1];
    const from = this.i;
    this.i += 2;
    if (next === "{") this.stack.push({ kind: "param", outer: quoted ? "double" : "unquoted", from, braces: 0 });
    else if (next === "(" && this.code[from + 2] === "(") {
      this.i++;
      this.stack.push({ kind: "arith", closer: "))", depth: 0 });
    } else if (next === "(") this.push(command(")"));
    else if (next === "[") this.stack.push({ kind: "arith", closer: "]", depth: 0 });
    else if (!quoted && (next === "'" || next === '"')) this.stack.push({ kind: next === "'" ? "ansi" : "double" });
    else this.i--;
  }

  /** Quotes, escapes, backquotes and `$` forms: the same in most frames. */
  private common(c: string, quoted: boolean): boolean {
    if (c === "\\") this.escape();
    else if (c === '"') {
      this.i++;
      this.stack.push({ kind: "double" });
    } else if (c === "'" && !quoted) {
      this.i++;
      this.stack.push({ kind: "single" });
    } else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(quoted);
    else return false;
    return true;
  }

  private inCommand(frame: Command, c: string) {
    const { code } = this;
    const inTest = frame.testFrom >= 0;
    if (c === "\\" && code[this.i + 1] === "\n") {
      this.i += 2; // a line continuation joins lines; the word goes on
    } else if (c === "\n") {
      this.endWord();
      this.i++;
      frame.letCommand = false;
      this.newCommand();
      // Heredoc bodies begin on the line after their `<<`, in the order they were opened.
      this.stack.push(...frame.pending.reverse());
      frame.pending = [];
    } else if (BLANK.test(c)) {
      this.endWord();
      this.i++;
    } else if (c === "#" && this.wordStart && !inTest) {
      this.stack.push({ kind: "comment" });
    } else if (c === "`" && frame.closer === "`") {
      this.i++;
      this.pop();
    } else if (c === "(" && !this.wordStart && EXTGLOB_PREFIX.test(code[this.i - 1] ?? "")) {
      this.i++;
      this.stack.push({ kind: "group", depth: 0 });
    } else if ("\\\"'`$".includes(c)) {
      this.inWord();
      this.common(c, false);
    } else if (c === "(") {
      const atWordStart = this.wordStart;
      this.endWord();
      this.i++;
      if (atWordStart && code[this.i] === "(" && !inTest) {
        this.i++;
        this.stack.push({ kind: "arith", closer: "))", depth: 0 });
      } else {
        frame.parens++;
        this.newCommand();
      }
    } else if (c === ")") {
      this.endWord();
      this.i++;
      if (frame.closer === ")" && frame.parens === 0 && frame.cases === 0) this.pop();
      else {
        if (frame.parens > 0) frame.parens--;
        this.newCommand(); // a case pattern's `)` is followed by a command too
      }
    } else if (c === "<" && code[this.i + 1] === "<" && code[this.i + 2] !== "<" && !inTest) {
      this.endWord();
      const { heredoc, end } = heredocDelimiter(code, this.i + 2);
      if (heredoc) frame.pending.push(heredoc);
      this.i = end;
    } else if (OPERATOR.test(c)) {
      this.endWord();
      this.i += code.startsWith("<<<", this.i) ? 3 : 1;
      const redirect = c === "<" || c === ">";
      if (!redirect) {
        frame.letCommand = false;
        this.newCommand();
      }
    } else {
      this.word(frame);
    }
  }

  /** Reads a run of plain word characters, noting the few words that change how bash reads on. */
  private word(frame: Command) {
    const { code } = this;
    const atCommand = this.commandStart && this.wordStart;
    this.inWord();
    const from = this.i;
    let end = from;
    for (; end < code.length && PLAIN_WORD_CHAR.test(code[end]!); end++) {
      if (code[end] === "[" && this.wordAtCommand && end > this.wordFrom && NAME.test(code.slice(this.wordFrom, end))) {
        // `name[…]` where an assignment may stand: bash reads up to the matching `]` as one word.
        this.i = end + 1;
        this.stack.push({ kind: "subscript", depth: 0 });
        return;
      }
    }
    if (end === from) end++; // a `#` inside a word
    this.i = end;
    const text = code.slice(from, end);
    if (!(end >= code.length || WORD_END.test(code[end]!))) return;
    if (atCommand && text === "case") frame.cases++;
    else if (text === "esac" && frame.cases > 0) frame.cases--;
    else if (atCommand && text === "let") frame.letCommand = true;
    else if (atCommand && text === "[[") frame.testFrom = end;
    else if (text === "]]") frame.testFrom = -1;
    if (atCommand && COMMAND_PREFIX.has(text)) this.commandStart = true;
  }

  private inComment(c: string) {
    if (c === "\n") this.stack.pop();
    else if (!this.backtickEnds(c)) this.i++;
  }

  private inDouble(c: string) {
    if (c === '"') {
      this.i++;
      this.pop();
    } else if (!this.common(c, true)) this.i++;
  }

  /** An unquoted heredoc body expands like "…" but quotes in it are plain characters. */
  private inHeredoc(c: string) {
    if (c === '"' || !this.common(c, true)) this.i++;
  }

  private inParam(frame: Extract<Frame, { kind: "param" }>, c: string) {
    if (c === "}" && frame.braces === 0) {
      this.i++;
      this.pop();
    } else if (c === "{" || c === "}") {
      frame.braces += c === "{" ? 1 : -1;
      this.i++;
    } else if (c === "'" && frame.outer === "double") {
      this.i++; // inside "…", a quote in ${x:-'…'} is a plain character
    } else if (!this.common(c, frame.outer === "double")) this.i++;
  }

  private inArith(frame: Extract<Frame, { kind: "arith" }>, c: string) {
    const [open, close] = frame.closer === "]" ? ["[", "]"] : ["(", ")"];
    if (c === open) {
      frame.depth++;
      this.i++;
    } else if (c === close && frame.depth > 0) {
      frame.depth--;
      this.i++;
    } else if (c === close) {
      this.i += frame.closer === "))" && this.code[this.i + 1] === ")" ? 2 : 1;
      this.pop();
    } else if (c === "'" || !this.common(c, true)) this.i++;
  }

  /** `a[…]` and `@(…)`: blanks, `#` and `<<` are plain characters until the matching bracket. */
  private inBracketedWord(frame: Extract<Frame, { kind: "subscript" | "group" }>, c: string) {
    const [open, close] = frame.kind === "subscript" ? ["[", "]"] : ["(", ")"];
    if (c === open) {
      frame.depth++;
      this.i++;
    } else if (c === close && frame.depth > 0) {
      frame.depth--;
      this.i++;
    } else if (c === close) {
      this.i++;
      this.pop();
    } else if (!this.common(c, false)) this.i++;
  }
}
