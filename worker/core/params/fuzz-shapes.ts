// Test support: a grammar of bash and Python script shapes around a reference, each with the output it must print.
//
// A shape is code with `${workflow.triggerMessage.v}` in it, whether it must be refused at save,
// and what it prints for a value v (undefined: not modelled exactly; it must still show v or be a
// syntax error, and never run it). Values come from `hostileValue`: fragments that try to run
// `touch <canary>` through every quoting form, delimiter, subscript, f-string field and coding line.
import fc from "fast-check";

export const REF = "${workflow.triggerMessage.v}";

export interface Shape {
  language: "shell" | "python";
  code: string;
  /** A refusal is required (a place where bash or Python would evaluate the value). */
  refuse: boolean;
  /** What it prints; undefined: not modelled (it must show v or fail); null: anything, as long as v never runs. */
  expected: (v: string) => string | null | undefined;
}

/** A piece of a script: its text, and what it evaluates or prints to for a value. */
interface Piece {
  text: string;
  out: (v: string) => string | null | undefined;
  refuse: boolean;
}

const piece = (text: string, out: Piece["out"], refuse = false): Piece => ({ text, out, refuse });
const map = (p: Piece, text: string, out: (s: string) => string): Piece => ({
  text,
  refuse: p.refuse,
  out: (v) => {
    const inner = p.out(v);
    return typeof inner === "string" ? out(inner) : inner;
  },
});
/** The outputs of several pieces in order: unmodelled if any is, unchecked if any is. */
function joined(outs: (string | null | undefined)[], each: (s: string) => string = (s) => s): string | null | undefined {
  if (outs.includes(undefined)) return undefined;
  if (outs.includes(null)) return null;
  return outs.map((o) => each(o!)).join("");
}
const stripNewlines = (s: string) => s.replace(/\n+$/, "");

// ---- bash ----

/** Words that evaluate to the value (or a known function of it) in an ordinary argument position. */
const bashLeaf: fc.Arbitrary<Piece> = fc.constantFrom(
  piece(REF, (v) => v),
  piece(`"a ${REF} b"`, (v) => `a ${v} b`),
  piece(`'a ${REF} b'`, (v) => `a ${v} b`),
  piece(`$'a\\t${REF}'`, (v) => `a\t${v}`),
  piece(`$"${REF}"`, (v) => v),
  piece(`x${REF}"y"'z'`, (v) => `x${v}yz`),
  piece(`\${UNSET_X:-${REF}}`, (v) => v),
  piece(`"\${UNSET_X:-${REF}}"`, (v) => v),
  piece(`"\${UNSET_X:-'${REF}'}"`, (v) => `'${v}'`),
  piece(`\${UNSET_X:-'${REF}'}`, (v) => v),
  piece(`"\${UNSET_X-"${REF}"}"`, (v) => v),
);

/** Heredoc bodies and delimiters; `refuse` for every quoted form. */
const heredoc: fc.Arbitrary<Piece> = fc
  .record({
    delimiter: fc.constantFrom("EOF", "END_1", "X"),
    quoting: fc.constantFrom("", "'", '"', "\\", "''"),
    dash: fc.boolean(),
    body: fc.constantFrom<[string, (v: string) => string]>(
      [REF, (v) => v],
      [`"${REF}"`, (v) => `"${v}"`],
      [`'${REF}' and ${REF}`, (v) => `'${v}' and ${v}`],
      [`${REF} ${REF}`, (v) => `${v} ${v}`],
    ),
    closeWithParen: fc.boolean(),
  })
  .map(({ delimiter, quoting, dash, body, closeWithParen }) => {
    const quoted = quoting === "" ? delimiter : quoting === "\\" ? `\\${delimiter}` : quoting === "''" ? `${delimiter}''` : `${quoting}${delimiter}${quoting}`;
    const tab = dash ? "\t" : "";
    const end = closeWithParen ? `${tab}${delimiter})` : `${tab}${delimiter}\n)`;
    return piece(`"$(cat <<${dash ? "-" : ""}${quoted}\n${tab}${body[0]}\n${end}"`, (v) => stripNewlines(body[1](v)), quoting !== "");
  });

/** Places where bash evaluates text as arithmetic or as a name: every one must be refused. */
const bashEvaluating: fc.Arbitrary<Piece> = fc
  .tuple(
    fc.constantFrom(REF, `"${REF}"`, `'${REF}'`, `$(printf %s "${REF}")`),
    fc.constantFrom(
      (r: string) => `"$(( ${r} + 1 ))"`,
      (r: string) => `"$((${r}))"`,
      (r: string) => `"$[${r}]"`,
      (r: string) => `"$( (( n = ${r} )); echo $n)"`,
      (r: string) => `"$(let n=${r}; echo $n)"`,
      (r: string) => `"$([[ ${r} -eq 1 ]] && echo one)"`,
      (r: string) => `"$([[ -v ${r} ]] && echo set)"`,
      (r: string) => `"$(for ((i=${r}; i<1; i++)); do :; done)"`,
      (r: string) => `"\${s:${r}}"`,
      (r: string) => `"\${arr[${r}]}"`,
      (r: string) => `"$(arr[${r}]=1)"`,
      (r: string) => `"$(unset "arr[${r}]")"`,
      (r: string) => `"$(unset arr[${r}])"`,
      (r: string) => `"$(arr=([${r}]=x); echo "\${arr[@]}")"`,
      (r: string) => `"$(declare -A m=([${r}]=x); echo "\${m[@]}")"`,
      (r: string) => `"$(declare -i n=${r}; echo $n)"`,
      (r: string) => `"$(local -i n 2>/dev/null; typeset -i n; n=${r}; echo $n)"`,
      (r: string) => `"$(printf -v ${r} %s 1)"`,
      (r: string) => `"$(read -r ${r} <<< x)"`,
      (r: string) => `"$(RANDOM=${r})"`,
      (r: string) => `"$(OPTIND=${r})"`,
    ),
  )
  .map(([r, f]) => piece(f(r), () => undefined, true));

const bashWord: fc.Arbitrary<Piece> = fc.letrec<{ word: Piece }>((tie) => ({
  word: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    bashLeaf,
    heredoc,
    bashEvaluating,
    tie("word").map((p) => map(p, `"$(printf %s ${p.text})"`, stripNewlines)),
    tie("word").map((p) => map(p, `"$(printf %s ${p.text} | cat)"`, stripNewlines)),
    tie("word").map((p) => map(p, `"$(cat < <(printf %s ${p.text}))"`, stripNewlines)),
    tie("word").map((p) => map(p, `"$(f() { printf %s "$1"; }; f ${p.text})"`, stripNewlines)),
    bashLeaf.map((p) => map(p, `"\`printf %s ${p.text}\`"`, stripNewlines)),
  ),
})).word;

/** Statements that print what a word evaluates to. */
const bashStatement: fc.Arbitrary<Piece> = fc.tuple(bashWord, fc.nat(13)).map(([w, form]) => {
  const line = (text: string, out: (s: string) => string) => map(w, text, out);
  const bracket = (s: string) => `[${s}]\n`;
  switch (form) {
    case 0: return line(`printf '[%s]\\n' ${w.text}`, bracket);
    case 1: return line(`X=${w.text}; printf '[%s]\\n' "$X"`, bracket);
    case 2: return line(`show() { local X=${w.text}; printf '[%s]\\n' "$X"; }\nshow`, bracket);
    case 3: return line(`declare -r RO=${w.text}; export E=${w.text}; printf '[%s]\\n' "$RO"`, bracket);
    case 4: return line(`arr=( ${w.text} ); printf '[%s]\\n' "\${arr[0]}"`, bracket);
    case 5: return line(`declare -A m; m[k]=${w.text}; printf '[%s]\\n' "\${m[k]}"`, bracket);
    case 6: return line(`case ${w.text} in\n  *) printf '[%s]\\n' ${w.text};;\nesac`, bracket);
    // An empty value: bash matches `${X:-''"$v"''}` against "" unlike `""` (its own quirk), so only "miss" is modelled.
    case 7: return { ...w, text: `case "" in\n  ${w.text}) echo hit;;\n  *) echo miss;;\nesac`, out: (v) => (w.out(v) === "" ? null : w.out(v) === undefined ? undefined : "miss\n") };

    case 8: return line(`[[ ${w.text} == ${w.text} ]] && echo same`, () => "same\n");
    case 9: return line(`cat <<< ${w.text}`, (s) => `${s}\n`);
    case 10: return line(`if true; then printf '[%s]\\n' ${w.text}; fi # ${REF}`, bracket);
    case 11: return line(`typeset -x T=${w.text}\nprintf '[%s]\\n' "$T"`, bracket);
    case 12: return line(`while IFS= read -r l; do printf '[%s]\\n' "$l"; done < <(printf '%s\\n' ${w.text})`, (s) => s.split("\n").map(bracket).join(""));
    default: return line(`{ printf '[%s]\\n' ${w.text}; } 2>&1`, bracket);
  }
});

const comment = fc.constantFrom(`# ${REF}`, `#!/bin/bash\n# got ${REF}`, `: # ${REF} $(( ${REF} ))`, `# it's ${REF} "`);

export const bashShape: fc.Arbitrary<Shape> = fc
  .record({ leading: fc.option(comment), statements: fc.array(bashStatement, { minLength: 1, maxLength: 3 }), crlf: fc.boolean() })
  .map(({ leading, statements, crlf }) => {
    // Each statement gets its own names, so a second `declare -r RO` is no error.
    const own = (text: string, k: number) => text.replace(/\b(RO|E|X|T|arr|m|show|l)\b/g, `$1_${k}`);
    const lines = [...(leading ? [leading] : []), ...statements.map((s, k) => own(s.text, k))];
    const code = lines.join("\n");
    return {
      language: "shell" as const,
      code: crlf ? code.replace(/\n/g, "\r\n") : code,
      refuse: statements.some((s) => s.refuse),
      expected: (v: string) => joined(statements.map((s) => s.out(v))),
    };
  });

// ---- Python ----

const PREFIXES = ["", "r", "R", "u", "f", "F", "rf", "fR", "b", "rb", "Br"];
const QUOTES = ["'", '"', "'''", '"""'];

/** String literals of every prefix and quote with the reference inside; bytes are decoded to print. */
const pythonString: fc.Arbitrary<Piece> = fc
  .record({
    prefix: fc.constantFrom(...PREFIXES),
    quote: fc.constantFrom(...QUOTES),
    around: fc.constantFrom<[string, string, string, string]>(["", "", "", ""], ["a ", " b", "a ", " b"], ["\\\\", "", "\\", ""], ["{{", "}}", "{", "}"], ["{1+1}", "{chr(120)}", "2", "x"]),
  })
  .map(({ prefix, quote, around }) => {
    const f = /f/i.test(prefix);
    const raw = /r/i.test(prefix);
    const bytes = /b/i.test(prefix);
    let [before, after, shownBefore, shownAfter] = around;
    if (!f && (before.includes("{") || after.includes("{"))) [shownBefore, shownAfter] = [before, after];
    if (bytes && f) return piece("''", () => "");
    if (raw && before === "\\\\") shownBefore = "\\\\";
    if (bytes && /[{']/.test(before + after)) [before, after, shownBefore, shownAfter] = ["", "", "", ""];
    const literal = `${prefix}${quote}${before}${REF}${after}${quote}`;
    return piece(bytes ? `${literal}.decode()` : literal, (v) => `${shownBefore}${v}${shownAfter}`);
  });

const pythonExpression: fc.Arbitrary<Piece> = fc.oneof(
  pythonString,
  fc.constant(piece(`str(${REF})`, (v) => (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(v) ? undefined : v))),
  fc.constant(piece(`f'{${REF}}'`, (v) => (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(v) ? undefined : v))),
  fc.constant(piece(`f"{'<' + ${REF} + '>'}"`, (v) => (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(v) ? undefined : `<${v}>`))),
  fc.constant(piece(`f"{d['${REF}'] if False else 'k'}"`, () => "k")),
  fc.constant(piece(`f'{x:${REF}}'`, () => undefined, true)),
  // A reference in a field nested in a format spec is an expression there: Python may reject the spec, never run the value.
  fc.constant(piece(`f"{x:>{${REF}}}"`, () => null)),
);

const pythonComment = fc.constantFrom(`# ${REF}`, `# -*- coding: ${REF} -*-`, `#!/usr/bin/env python3\n# vim: set fileencoding=${REF} :`, `# ${REF}\n# ${REF}`);

export const pythonShape: fc.Arbitrary<Shape> = fc
  .record({ leading: fc.option(pythonComment), expressions: fc.array(pythonExpression, { minLength: 1, maxLength: 3 }), crlf: fc.boolean() })
  .map(({ leading, expressions, crlf }) => {
    const lines = [...(leading ? [leading] : []), "import sys", "x = 1; d = {}", ...expressions.map((e) => `sys.stdout.write(${e.text} + "|")  # ${REF}`)];
    const code = lines.join("\n");
    return {
      language: "python" as const,
      code: crlf ? code.replace(/\n/g, "\r\n") : code,
      refuse: expressions.some((e) => e.refuse),
      expected: (v: string) => joined(expressions.map((e) => e.out(v)), (o) => `${o}|`),
    };
  });

// ---- hostile values ----

/** Fragments that try to run `touch <canary>` in bash or Python, or to break out of a literal. */
export function hostileFragments(canary: string): string[] {
  const py = `__import__('os').system('touch ${canary}')`;
  return [
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `a[$(touch ${canary})]`,
    `x[\`touch ${canary}\`]`,
    `'; touch ${canary}; '`,
    `"; touch ${canary}; "`,
    `\ntouch ${canary}\n`,
    "EOF",
    "\nEOF\n",
    "\nEOF)\n",
    "\nX\n",
    ")",
    "\n)\n",
    `{${py}}`,
    `'''+${py}+'''`,
    `"""+${py}+"""`,
    `'+${py}+'`,
    `\\'+${py}#`,
    "coding: utf-7",
    "\ncoding=utf-7\n",
    `+AAoAXwBf-import+AF8AXw-('os').system('touch ${canary}')`,
    "{",
    "}",
    "{{",
    "\\",
    "\\\\",
    "$",
    "${HOME}",
    "${workflow.triggerMessage.v}",
    "%s%n",
    "*",
    "-e",
    "\t",
    "\r",
    "ü",
    "数据",
    "🚀",
    "\u2028",
    " ",
    "1",
    "-12",
  ];
}

export const hostileValue = (canary: string): fc.Arbitrary<string> =>
  fc.array(fc.oneof(fc.constantFrom(...hostileFragments(canary)), fc.string({ unit: "grapheme-ascii", maxLength: 3 })), { maxLength: 5 }).map((parts) => parts.join(""));

/** Why a case fails the property, or undefined when it holds. `run` executes prepared code as a runner would. */
export function judgeCase(
  shape: Shape,
  value: string,
  prepared: { ok: true; script: string } | { ok: false; message: string },
  ran: () => { stdout: string; status: number | null },
  canaryExists: () => boolean,
): string | undefined {
  if (!prepared.ok) {
    if (!shape.refuse) return `refused a shape that has a safe form: ${prepared.message}`;
    return /^line \d+: \$\{[^}]+\} cannot be substituted: .{20,}/.test(prepared.message) ? undefined : `the refusal does not say where and why: ${prepared.message}`;
  }
  if (shape.refuse) return "accepted a shape where bash or Python would evaluate the value";
  const { stdout, status } = ran();
  if (canaryExists()) return "EXECUTED the value: the canary file was created";
  const expected = shape.expected(value);
  if (expected === null) return undefined;
  if (expected !== undefined) return stdout === expected ? undefined : `printed ${JSON.stringify(stdout)}, expected ${JSON.stringify(expected)}`;

  return stdout.includes(value) || status !== 0 ? undefined : `exited 0 without printing the value: ${JSON.stringify(stdout)}`;
}
