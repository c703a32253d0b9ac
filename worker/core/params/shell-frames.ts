// The quoting frames of bash as a lexer walks them: quotes, escapes, `$…` forms, substitutions, heredoc bodies.
import { command, type Command, type Frame } from "./shell-syntax.ts";
import type { ShellSite } from "./shell-syntax.ts";

/**
 * The part of the bash lexer that knows quoting: which frame a character opens or closes. What a
 * word means to its command (and so where a value is refused) is the subclass's, `ShellLexer`.
 */
export abstract class QuotingLexer {
  protected readonly code: string;
  protected readonly refs: ReadonlyArray<{ start: number; end: number }>;
  protected readonly refAt = new Map<number, number>();
  protected readonly sites: (ShellSite | undefined)[];
  protected readonly stack: Frame[] = [command("eof")];
  protected i = 0;

  constructor(code: string, refs: ReadonlyArray<{ start: number; end: number }>) {
    this.code = code;
    this.refs = refs;
    refs.forEach((r, n) => this.refAt.set(r.start, n));
    this.sites = refs.map(() => undefined);
  }

  /** The innermost command list: its current word is the one being read. */
  protected get cmd(): Command {
    return this.stack.findLast((f): f is Command => f.kind === "command")!;
  }

  /** The character at `i` belongs to a word of the innermost command. */
  protected abstract inWord(): void;

  protected atLineStart() {
    return this.i === 0 || this.code[this.i - 1] === "\n";
  }

  /** Where each frame opened: an outer command's word ends there (`X=$(…` is the word `X=$(`). */
  protected readonly openedAt = new WeakMap<Frame, number>();

  protected push(...frames: Frame[]) {
    for (const frame of frames) this.openedAt.set(frame, this.i);
    this.stack.push(...frames);
  }

  protected pop() {
    const popped = this.stack.pop();
    // `$(cat <<EOF )`: the body still follows the line, read by the enclosing list.
    if (popped?.kind === "command" && popped.pending.length) this.cmd.pending.push(...popped.pending);
    this.inWord();
  }

  protected closeAt(c: string, quote: string) {
    if (this.backtickEnds(c)) return;
    if (c === quote) this.pop();
    this.i++;
  }

  /**
   * The first unescaped backquote ends a `…` substitution whatever quotes are open inside it,
   * so inside one a backquote closes it; elsewhere a backquote in "…" opens a new one.
   */
  protected backtickEnds(c: string): boolean {
    if (c !== "`") return false;
    const k = this.stack.findLastIndex((f) => f.kind === "command");
    if ((this.stack[k] as Command).closer !== "`") return false;
    this.stack.length = k;
    this.i++;
    this.inWord();
    return true;
  }

  protected openBacktick() {
    if (this.backtickEnds("`")) return;
    this.i++;
    this.push(command("`"));
  }

  /** A backslash takes the next character literally; a reference right after it is not expanded. */
  protected escape() {
    const ref = this.refAt.get(this.i + 1);
    if (ref !== undefined) this.sites[ref] = { context: "escaped" };
    this.i += 2;
  }

  /** `$…` forms; `quoted` says whether `$'` and `$"` are quotes here (they are not inside "…"). */
  protected dollar(quoted: boolean) {
    const next = this.code[this.i + 1];
    const from = this.i;
    this.i += 2;
    if (next === "{") this.push({ kind: "param", outer: quoted ? "double" : "unquoted", from, braces: 0 });
    else if (next === "(" && this.code[from + 2] === "(") {
      this.i++;
      this.push({ kind: "arith", closer: "))", depth: 0 });
    } else if (next === "(") this.push(command(")"));
    else if (next === "[") this.push({ kind: "arith", closer: "]", depth: 0 });
    else if (!quoted && (next === "'" || next === '"')) this.push({ kind: next === "'" ? "ansi" : "double" });
    else this.i--;
  }

  /** Quotes, escapes, backquotes and `$` forms: the same in most frames. */
  protected common(c: string, quoted: boolean): boolean {
    if (c === "\\") this.escape();
    else if (c === '"') {
      this.i++;
      this.push({ kind: "double" });
    } else if (c === "'" && !quoted) {
      this.i++;
      this.push({ kind: "single" });
    } else if (c === "`") this.openBacktick();
    else if (c === "$") this.dollar(quoted);
    else return false;
    return true;
  }

  protected inComment(c: string) {
    if (c === "\n") this.stack.pop();
    else if (!this.backtickEnds(c)) this.i++;
  }

  protected inDouble(c: string) {
    if (c === '"') {
      this.i++;
      this.pop();
    } else if (!this.common(c, true)) this.i++;
  }

  /** An unquoted heredoc body expands like "…" but quotes in it are plain characters. */
  protected inHeredoc(c: string) {
    if (c === '"' || !this.common(c, true)) this.i++;
  }

  protected inParam(frame: Extract<Frame, { kind: "param" }>, c: string) {
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

  protected inArith(frame: Extract<Frame, { kind: "arith" }>, c: string) {
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
  protected inBracketedWord(frame: Extract<Frame, { kind: "subscript" | "group" }>, c: string) {
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
