// A lexer of bash quoting: which quoting context each reference in a script sits in.
//
// It models only what decides how a substituted value must be spelled: quotes, escapes, comments,
// heredocs, command substitutions, parameter expansions and arithmetic. Where it cannot be sure,
// it errs towards contexts whose rewrite is a variable expansion, which bash never re-reads as code.

export type ShellSite =
  | { context: "unquoted" | "double" | "single" | "ansi" | "comment" | "escaped" }
  /** Evaluated as arithmetic by bash (`$((…))`, `((…))`, `$[…]`, array subscripts, `let`, `[[ -eq ]]`). */
  | { context: "arithmetic" }
  /** Inside a quoted heredoc body (`<<'EOF'`), where nothing expands. */
  | { context: "heredoc-literal"; delimiter: string; stripTabs: boolean };

type Frame =
  | { kind: "command"; closer: "eof" | ")" | "`"; parens: number; cases: number; testFrom: number; letCommand: boolean }
  | { kind: "double" | "single" | "ansi" | "comment" }
  | { kind: "param"; outer: "double" | "unquoted"; from: number; braces: number }
  | { kind: "arith"; closer: "))" | "]"; depth: number }
  | { kind: "heredoc"; delimiter: string; quoted: boolean; stripTabs: boolean };

type Heredoc = Extract<Frame, { kind: "heredoc" }>;
type Command = Extract<Frame, { kind: "command" }>;

const BLANK = /[ \t]/;
const OPERATOR = /[;&|()<>]/;
// After these words a new command begins, so `case` there opens a case statement.
const COMMAND_PREFIX = new Set(["then", "do", "else", "elif", "if", "while", "until", "!", "{", "time"]);
const ARITHMETIC_TEST = /(^|\s)-(eq|ne|lt|le|gt|ge)(\s|$)/;
const SUBSCRIPT = /^[A-Za-z_][A-Za-z0-9_]*\[[^\]]*$/;

const command = (closer: Command["closer"]): Command => ({ kind: "command", closer, parens: 0, cases: 0, testFrom: -1, letCommand: false });

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
  private pending: Heredoc[] = [];
  private i = 0;
  /** The next character begins a word (so `#` starts a comment and `((` arithmetic). */
  private wordStart = true;
  /** The next word is in command position (so `case`, `let` and `[[` mean something). */
  private commandStart = true;
  /** Where the current word began, to spot array subscripts such as `a[${x}]=1`. */
  private wordFrom = 0;

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
      switch (top.kind) {
        case "command": this.inCommand(top); break;
        case "double": this.inDouble(); break;
        case "single": this.closeAt("'"); break;
        case "ansi": code[this.i] === "\\" ? this.escape() : this.closeAt("'"); break;
        case "comment": this.inComment(); break;
        case "param": this.inParam(top); break;
        case "arith": this.inArith(top); break;
        case "heredoc": top.quoted ? this.i++ : this.inHeredoc(); break;
      }
    }
    // Only a reference inside a heredoc delimiter word is never visited; quoting it is harmless.
    return this.sites.map((s) => s ?? { context: "unquoted" });
  }

  private site(): ShellSite {
    const top = this.stack.at(-1)!;
    if (top.kind === "comment") return { context: "comment" };
    if (top.kind === "single" || top.kind === "ansi") {
      return this.inArithmetic() ? { context: "arithmetic" } : { context: top.kind };
    }
    if (top.kind === "heredoc" && top.quoted) return { context: "heredoc-literal", delimiter: top.delimiter, stripTabs: top.stripTabs };
    if (this.inArithmetic()) return { context: "arithmetic" };
    if (top.kind === "param") return { context: top.outer };
    return { context: top.kind === "command" ? "unquoted" : "double" };
  }

  /** Arithmetic if any frame up to the enclosing command is, or the command itself evaluates it. */
  private inArithmetic(): boolean {
    let viaHeredoc = false;
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const frame = this.stack[k]!;
      if (frame.kind === "arith") return true;
      if (frame.kind === "heredoc") viaHeredoc = true;
      if (frame.kind === "param" && SUBSCRIPT.test(this.code.slice(frame.from + 2, this.i).replace(/^[#!]/, ""))) return true;
      if (frame.kind !== "command") continue;
      if (frame.letCommand) return true;
      if (frame.testFrom >= 0) {
        const close = this.code.indexOf("]]", this.i);
        if (ARITHMETIC_TEST.test(this.code.slice(frame.testFrom, close < 0 ? undefined : close))) return true;
      }
      // `a[…]=v` (and `unset a[…]`): bash evaluates an indexed array's subscript as arithmetic.
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

  private closeAt(quote: string) {
    if (this.backtickEnds()) return;
    if (this.code[this.i] === quote) this.pop();
    this.i++;
  }

  /**
   * The first unescaped backquote ends a `…` substitution whatever quotes are open inside it,
   * so inside one a backquote closes it; elsewhere a backquote in "…" opens a new one.
   */
  private backtickEnds(): boolean {
    if (this.code[this.i] !== "`") return false;
    const k = this.stack.findLastIndex((f) => f.kind === "command");
    if ((this.stack[k] as Command).closer !== "`") return false;
    this.stack.length = k;
    this.i++;
    this.inWord();
    return true;
  }

  private openBacktick() {
    if (this.backtickEnds()) return;
    this.i++;
    this.push(command("`"));
  }

  private inComment() {
    if (this.code[this.i] === "\n") this.stack.pop();
    else if (!this.backtickEnds()) this.i++;
  }

  private newCommand() {
    this.wordStart = true;
    this.commandStart = true;
  }

  /** The character just read belongs to a word. */
  private inWord() {
    if (this.wordStart) this.wordFrom = this.i;
    this.wordStart = false;
    this.commandStart = false;
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
    const start = this.i;
    if (next === "{") {
      this.i += 2;
      this.stack.push({ kind: "param", outer: quoted ? "double" : "unquoted", from: start, braces: 0 });
    } else if (next === "(" && this.code[this.i + 2] === "(") {
      this.i += 3;
      this.stack.push({ kind: "arith", closer: "))", depth: 0 });
    } else if (next === "(") {
      this.i += 2;
      this.push(command(")"));
    } else if (next === "[") {
      this.i += 2;
      this.stack.push({ kind: "arith", closer: "]", depth: 0 });
    } else if (!quoted && (next === "'" || next === '"')) {
      this.i += 2;
      this.stack.push({ kind: next === "'" ? "ansi" : "double" });
    } else {
      this.i += 1;
    }
  }

  private inCommand(frame: Command) {
    const { code } = this;
    const c = code[this.i]!;
    if (c === "\\") {
      if (code[this.i + 1] === "\n") this.i += 2; // a line continuation joins lines; the word goes on
      else {
        this.inWord();
        this.escape();
      }
    } else if (c === "\n") {
      this.i++;
      this.endSimpleCommand(frame);
      // Heredoc bodies begin on the line after their `<<`, in the order they were opened.
      this.stack.push(...this.pending.reverse());
      this.pending = [];
    } else if (BLANK.test(c)) {
      this.i++;
      this.wordStart = true;
    } else if (c === "#" && this.wordStart) {
      this.stack.push({ kind: "comment" });
    } else if (c === "'" || c === '"') {
      this.inWord();
      this.i++;
      this.stack.push({ kind: c === "'" ? "single" : "double" });
    } else if (c === "`") {
      this.i++;
      if (frame.closer === "`") this.pop();
      else {
        this.inWord();
        this.push(command("`"));
      }
    } else if (c === "$") {
      this.inWord();
      this.dollar(false);
    } else if (c === "(") {
      if (this.wordStart && code[this.i + 1] === "(") {
        this.i += 2;
        this.stack.push({ kind: "arith", closer: "))", depth: 0 });
      } else {
        this.i++;
        frame.parens++;
        this.newCommand();
      }
    } else if (c === ")") {
      this.i++;
      if (frame.closer === ")" && frame.parens === 0 && frame.cases === 0) this.pop();
      else {
        if (frame.parens > 0) frame.parens--;
        this.newCommand(); // a case pattern's `)` is followed by a command too
      }
    } else if (c === "<" && code[this.i + 1] === "<" && code[this.i + 2] !== "<") {
      this.heredocOperator();
    } else if (OPERATOR.test(c)) {
      this.i += code.startsWith("<<<", this.i) ? 3 : 1;
      if (c !== "<" && c !== ">") this.endSimpleCommand(frame);
      this.wordStart = true;
      this.commandStart = c !== "<" && c !== ">";
    } else {
      this.word(frame);
    }
  }

  private endSimpleCommand(frame: Command) {
    frame.letCommand = false;
    this.newCommand();
  }

  /** Reads a run of plain word characters, noting the few reserved words that change lexing. */
  private word(frame: Command) {
    const { code } = this;
    const atCommand = this.commandStart && this.wordStart;
    this.inWord();
    let end = this.i;
    while (end < code.length && /[^\s;&|()<>'"`$\\#]/.test(code[end]!) && !this.refAt.has(end)) end++;
    if (end === this.i) end++; // a `#` inside a word
    const text = code.slice(this.i, end);
    this.i = end;
    const wordEnds = end >= code.length || /[\s;&|()<>]/.test(code[end]!);
    if (!wordEnds) return;
    if (atCommand && text === "case") frame.cases++;
    else if (text === "esac" && frame.cases > 0) frame.cases--;
    else if (atCommand && text === "let") frame.letCommand = true;
    else if (atCommand && text === "[[") frame.testFrom = this.i;
    else if (text === "]]") frame.testFrom = -1;
    if (atCommand && COMMAND_PREFIX.has(text)) this.commandStart = true;
  }

  /** `<<WORD` / `<<-WORD`: any quoting in WORD makes the body literal. */
  private heredocOperator() {
    const { code } = this;
    let j = this.i + 2;
    const stripTabs = code[j] === "-";
    if (stripTabs) j++;
    while (BLANK.test(code[j] ?? "")) j++;
    let delimiter = "";
    let quoted = false;
    while (j < code.length && !/[\s;&|()<>]/.test(code[j]!)) {
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
    this.i = j;
    this.wordStart = true;
    if (delimiter !== "") this.pending.push({ kind: "heredoc", delimiter, quoted, stripTabs });
  }

  private inDouble() {
    const c = this.code[this.i];
    if (c === "\\") this.escape();
    else if (c === '"') {
      this.i++;
      this.pop();
    } else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(true);
    else this.i++;
  }

  /** An unquoted heredoc body expands like "…" but quotes in it are plain characters. */
  private inHeredoc() {
    const c = this.code[this.i];
    if (c === "\\") this.escape();
    else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(true);
    else this.i++;
  }

  private inParam(frame: Extract<Frame, { kind: "param" }>) {
    const c = this.code[this.i];
    if (c === "\\") this.escape();
    else if (c === "}" && frame.braces === 0) {
      this.i++;
      this.pop();
    } else if (c === "{" || c === "}") {
      frame.braces += c === "{" ? 1 : -1;
      this.i++;
    } else if (c === '"') {
      this.i++;
      this.stack.push({ kind: "double" });
    } else if (c === "'" && frame.outer === "unquoted") {
      this.i++;
      this.stack.push({ kind: "single" });
    } else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(frame.outer === "double");
    else this.i++;
  }

  private inArith(frame: Extract<Frame, { kind: "arith" }>) {
    const { code } = this;
    const c = code[this.i];
    const open = frame.closer === "]" ? "[" : "(";
    const close = frame.closer === "]" ? "]" : ")";
    if (c === "\\") this.escape();
    else if (c === open) {
      frame.depth++;
      this.i++;
    } else if (c === close && frame.depth > 0) {
      frame.depth--;
      this.i++;
    } else if (c === close) {
      this.i += frame.closer === "))" && code[this.i + 1] === ")" ? 2 : 1;
      this.pop();
    } else if (c === '"') {
      this.i++;
      this.stack.push({ kind: "double" });
    } else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(true);
    else this.i++;
  }
}
