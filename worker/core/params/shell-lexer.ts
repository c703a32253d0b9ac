// A lexer of bash quoting: which context each reference in a script sits in, or why none is safe.
//
// It models what decides how a variable expansion must be spelled (quotes, escapes, comments,
// heredocs, command substitutions, parameter expansions) and where bash would evaluate a value
// (arithmetic, subscripts, integer variables, names: shell-rules.ts). No value's text is ever
// placed by what it finds, so a context it misjudges can only print the wrong text or fail to parse.
import {
  ASSIGNMENT,
  BLANK,
  COMMAND_PREFIX,
  EXTGLOB_PREFIX,
  heredocDelimiter,
  NAME,
  OPERATOR,
  PARAM_ARITHMETIC,
  PLAIN_WORD_CHAR,
  WORD_END,
  type Command,
  type Heredoc,
  type ShellSite,
} from "./shell-syntax.ts";
import {
  arithmetic,
  commandRefusal,
  HEREDOC_DELIMITER,
  parameterRefusal,
  QUOTED_HEREDOC,
  readerRefusal,
  scriptFacts,
  SUBSCRIPT,
  type ScriptFacts,
  type WordPosition,
} from "./shell-rules.ts";
import { QuotingLexer } from "./shell-frames.ts";

export type { ShellSite } from "./shell-syntax.ts";

/** The context of each reference (same order as `refs`), as bash would read the script. */
export function shellSites(code: string, refs: ReadonlyArray<{ start: number; end: number }>): ShellSite[] {
  return new ShellLexer(code, refs).run();
}

class ShellLexer extends QuotingLexer {
  private readonly facts: ScriptFacts;

  constructor(code: string, refs: ReadonlyArray<{ start: number; end: number }>) {
    super(code, refs);
    this.facts = scriptFacts(code);
  }

  run(): ShellSite[] {
    const { code } = this;
    while (this.i < code.length) {
      const top = this.stack.at(-1)!;
      if (top.kind === "heredoc" && this.atLineStart() && this.endsHeredoc(top)) continue;
      const ref = this.refAt.get(this.i);
      if (ref !== undefined) {
        this.sites[ref] ??= this.site();
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
    // A reference never visited sits where the lexer lost track (e.g. an unterminated construct).
    return this.sites.map((s) => s ?? { context: "refused", reason: "the script around it does not parse" });
  }

  private site(): ShellSite {
    const top = this.stack.at(-1)!;
    if (top.kind === "comment") return { context: "comment" };
    const reason = this.refusal();
    if (reason) return { context: "refused", reason };
    if (top.kind === "single" || top.kind === "ansi") return { context: top.kind };
    if (top.kind === "param") return { context: top.outer };
    if (top.kind === "double" || top.kind === "heredoc") return { context: "double" };
    return { context: "unquoted" };
  }

  /**
   * Walks every enclosing frame: a value that reaches arithmetic, a subscript or a name through an
   * inner `$(…)` is evaluated all the same (`unset "a[$(echo …)]"`).
   */
  private refusal(): string | undefined {
    let heredocCommand = false;
    let innerStart = this.i;
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const frame = this.stack[k]!;
      let reason: string | undefined;
      if (frame.kind === "heredoc") {
        if (heredocCommand) continue; // a later heredoc of the same line, waiting its turn
        if (frame.quoted) return QUOTED_HEREDOC;
        reason = readerRefusal(frame.reader, this.facts);
        heredocCommand = true; // the command list below has moved on to later lines
      } else if (frame.kind === "arith") reason = arithmetic(frame.closer === "]" ? "$[ ]" : "$(( )) or (( ))");
      else if (frame.kind === "subscript") reason = SUBSCRIPT;
      else if (frame.kind === "param") reason = parameterRefusal(this.code.slice(frame.from + 2, this.i), this.facts, PARAM_ARITHMETIC);
      else if (frame.kind === "command") {
        if (heredocCommand) heredocCommand = false;
        else reason = commandRefusal(frame, this.position(frame, innerStart), this.facts);
      }
      if (reason) return reason;
      innerStart = this.openedAt.get(frame) ?? innerStart;
    }
    return undefined;
  }

  /** The word of `frame` that holds the reference, up to `end`, where the frame inside it opened. */
  private position(frame: Command, end: number): WordPosition {
    const fresh = frame.wordStart;
    let test: string | undefined;
    if (frame.testFrom >= 0) {
      const close = this.code.indexOf("]]", this.i);
      test = this.code.slice(frame.testFrom, close < 0 ? undefined : close);
    }
    return {
      word: fresh ? "" : this.code.slice(frame.wordFrom, end),
      atCommand: fresh ? frame.commandStart : frame.wordAtCommand,
      isRedirect: fresh ? frame.redirectNext : frame.wordIsRedirect,
      test,
    };
  }

  /**
   * At the start of a heredoc line: a line equal to the delimiter closes the body. Inside `$(…)`
   * bash also takes the delimiter followed by the closing `)` (`EOF)`), which then closes the substitution.
   */
  private endsHeredoc(doc: Heredoc): boolean {
    const nl = this.code.indexOf("\n", this.i);
    const raw = this.code.slice(this.i, nl < 0 ? undefined : nl);
    const tabs = doc.stripTabs ? /^\t*/.exec(raw)![0].length : 0;
    const line = raw.slice(tabs);
    const inSubstitution = this.stack.some((f) => f.kind === "command" && f.closer === ")");
    if (line === doc.delimiter) {
      this.stack.pop();
      this.i = nl < 0 ? this.code.length : nl + 1;
      this.newCommand();
      return true;
    }
    if (inSubstitution && line.startsWith(`${doc.delimiter})`)) {
      this.stack.pop();
      this.i += tabs + doc.delimiter.length;
      return true;
    }
    return false;
  }


  /** A new simple command begins in the innermost list (after a newline, `;`, `|`, `(`, …). */
  protected newCommand() {
    const cmd = this.cmd;
    cmd.wordStart = true;
    cmd.commandStart = true;
    cmd.redirectNext = false;
    cmd.name = undefined;
    cmd.args = [];
  }

  /** The character at `i` belongs to a word. */
  protected inWord() {
    const cmd = this.cmd;
    if (cmd.wordStart) {
      cmd.wordFrom = this.i;
      cmd.wordAtCommand = cmd.commandStart;
      cmd.wordIsRedirect = cmd.redirectNext;
      cmd.redirectNext = false;
    }
    cmd.wordStart = false;
    cmd.commandStart = false;
  }

  /** A blank or operator ends the word; after an assignment (`x=1 cmd`) a command may still follow. */
  private endWord() {
    const cmd = this.cmd;
    if (cmd.wordStart) return;
    const text = this.code.slice(cmd.wordFrom, this.i);
    cmd.wordStart = true;
    if (cmd.wordIsRedirect) return;
    if (cmd.wordAtCommand && ASSIGNMENT.test(text)) cmd.commandStart = true;
    else if (cmd.wordAtCommand && !COMMAND_PREFIX.has(text)) cmd.name = text;
    else if ((cmd.name === "builtin" || cmd.name === "command") && cmd.args.length === 0 && !text.startsWith("-")) cmd.name = text;
    else if (!cmd.wordAtCommand) cmd.args.push(text);
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
      for (const doc of frame.pending) doc.reader = frame.name;
      this.newCommand();
      // Heredoc bodies begin on the line after their `<<`, in the order they were opened.
      this.push(...frame.pending.reverse());
      frame.pending = [];
    } else if (BLANK.test(c)) {
      this.endWord();
      this.i++;
    } else if (c === "#" && frame.wordStart && !inTest) {
      this.push({ kind: "comment" });
    } else if (c === "`" && frame.closer === "`") {
      this.i++;
      this.pop();
    } else if (c === "(" && !frame.wordStart && EXTGLOB_PREFIX.test(code[this.i - 1] ?? "")) {
      this.i++;
      this.push({ kind: "group", depth: 0 });
    } else if ("\\\"'`$".includes(c)) {
      this.inWord();
      this.common(c, false);
    } else if (c === "(") {
      this.openParen(frame);
    } else if (c === ")") {
      this.endWord();
      this.i++;
      if (frame.compound) frame.compound = undefined;
      else if (frame.closer === ")" && frame.parens === 0 && frame.cases === 0) this.pop();
      else {
        if (frame.parens > 0) frame.parens--;
        this.newCommand(); // a case pattern's `)` is followed by a command too
      }
    } else if (c === "<" && code[this.i + 1] === "<" && code[this.i + 2] !== "<" && !inTest) {
      this.endWord();
      const { heredoc, end } = heredocDelimiter(code, this.i + 2);
      for (const [start, n] of this.refAt) {
        if (start >= this.i + 2 && start < end) this.sites[n] = { context: "refused", reason: HEREDOC_DELIMITER };
      }
      if (heredoc) frame.pending.push(heredoc);
      this.i = end;
    } else if (OPERATOR.test(c)) {
      this.endWord();
      const redirect = /^(<<<|[<>]&|&>>?|>>|>\||<>|[<>])/.exec(code.slice(this.i, this.i + 3))?.[0];
      this.i += redirect?.length ?? 1;
      if (redirect) frame.redirectNext = true;
      else {
        frame.letCommand = false;
        this.newCommand();
      }
    } else {
      this.word(frame);
    }
  }

  /** `((` arithmetic, `name=(` a compound assignment, or a subshell / function parentheses. */
  private openParen(frame: Command) {
    const { code } = this;
    const atWordStart = frame.wordStart;
    const array = atWordStart ? undefined : /^([A-Za-z_][A-Za-z0-9_]*)\+?=$/.exec(code.slice(frame.wordFrom, this.i))?.[1];
    this.endWord();
    this.i++;
    if (array !== undefined) {
      frame.compound = { name: array };
    } else if (atWordStart && code[this.i] === "(" && frame.testFrom < 0) {
      this.i++;
      this.push({ kind: "arith", closer: "))", depth: 0 });
    } else {
      frame.parens++;
      this.newCommand();
    }
  }

  /** Reads a run of plain word characters, noting the few words that change how bash reads on. */
  private word(frame: Command) {
    const { code } = this;
    const atCommand = frame.commandStart && frame.wordStart;
    this.inWord();
    const from = this.i;
    let end = from;
    for (; end < code.length && PLAIN_WORD_CHAR.test(code[end]!); end++) {
      if (code[end] === "[" && frame.wordAtCommand && end > frame.wordFrom && NAME.test(code.slice(frame.wordFrom, end))) {
        // `name[…]` where an assignment may stand: bash reads up to the matching `]` as one word.
        this.i = end + 1;
        this.push({ kind: "subscript", depth: 0 });
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
    if (atCommand && COMMAND_PREFIX.has(text)) frame.commandStart = true;
  }

}
