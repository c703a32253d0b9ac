import { describe, expect, it } from "vitest";
import { shellSites } from "./shell-lexer.ts";
import { QUOTED_HEREDOC } from "./shell-rules.ts";

import { scanReferences } from "./template.ts";

/** The context of each `${v}` in the script, in order. */
const contexts = (code: string) => shellSites(code, scanReferences(code)).map((s) => s.context);

describe("shellSites", () => {
  it("starts a comment only where a word starts", () => {
    expect(contexts("echo $((1))#${v} ${x}#${v} \"a\"#${v} a\\ #${v} '#'${v}")).toEqual(Array(6).fill("unquoted"));
    expect(contexts("echo a #${v}\nx=(a #${v}\n b)\n  #${v}\necho a;#${v}")).toEqual(["comment", "comment", "comment", "comment"]);
  });

  it("refuses a quoted heredoc inside $( ) and inside backquotes", () => {
    const code = "x=$(cat <<'E'\n${v}\nE\n)\nz=`cat <<'E'\n${v}\nE\n`";
    expect(shellSites(code, scanReferences(code))).toEqual([
      { context: "refused", reason: QUOTED_HEREDOC },
      { context: "refused", reason: QUOTED_HEREDOC },
    ]);
  });

  it("treats quotes inside a comment as plain text", () => {
    expect(contexts("# it's ${v}\necho ${v}")).toEqual(["comment", "unquoted"]);
  });

  it("opens a new quoting context inside $( ) and backticks within double quotes", () => {
    expect(contexts('echo "${v} $(echo ${v} "${v}" \'${v}\') `echo ${v}` ${v}"')).toEqual([
      "double",
      "unquoted",
      "double",
      "single",
      "unquoted",
      "double",
    ]);
  });

  it("ends a backquote substitution at the first backquote, even inside quotes", () => {
    expect(contexts('echo `echo "a` ${v}')).toEqual(["unquoted"]);
  });

  it("does not expand in single quotes inside double quotes, which are plain characters there", () => {
    expect(contexts("echo \"it's ${v}\" '${v}'")).toEqual(["double", "single"]);
  });

  it("reads escapes: \\$ is literal, and \\\\ before $ is not an escape of it", () => {
    expect(contexts('echo \\${v} "\\${v}" \\\\${v} "\\\\${v}" $\'\\${v}\'')).toEqual(["escaped", "escaped", "unquoted", "double", "escaped"]);
  });

  it("follows heredocs: delimiter quoting, <<-, several on one line, and the line after", () => {
    const code = "cat <<A <<\"B\" <<-\\C\n${v}\nA\n${v}\nB\n\t${v}\n\tC\necho ${v}";
    expect(shellSites(code, scanReferences(code))).toEqual([
      { context: "double" },
      { context: "refused", reason: QUOTED_HEREDOC },
      { context: "refused", reason: QUOTED_HEREDOC },
      { context: "unquoted" },
    ]);
  });

  it("does not end a heredoc at a line that only contains the delimiter with other text", () => {
    expect(contexts("cat <<'EOF'\nEOF \n ${v}\nEOF\n${v}")).toEqual(["refused", "unquoted"]);
  });

  it("finds arithmetic in $(( )), (( )), $[ ], let, [[ -eq ]], array subscripts and substring offsets", () => {
    const code = 'echo $(( ${v} )) $[${v}]\n(( ${v} ))\nlet x=${v}\n[[ ${v} -gt 1 ]]\na[${v}]=1\necho ${b[${v}]} "${s:${v}} ${s: ${v}:1} ${s:0:${v}} ${@:${v}}"';
    expect(contexts(code)).toEqual(
      Array(11).fill("refused"),
    );
  });

  it("reads a[…] in assignment position as one word, blanks and # included", () => {
    expect(contexts("a[1 # ${v}]=2\nx=1 b[${v} ]=3 # ${v}\necho c[1 # ${v}")).toEqual(["refused", "refused", "comment", "comment"]);
  });

  it("reads extglob groups and everything inside [[ ]] without comments or heredocs", () => {
    expect(contexts("case x in @(a # ${v})) ;; esac\n[[ x =~ (a # ${v}) ]]\n[[ a <<b ]] ${v}\n# ${v}")).toEqual([
      "unquoted",
      "unquoted",
      "unquoted",
      "comment",
    ]);
  });

  it("reads a heredoc opened inside $( ) on that substitution's own next line", () => {
    expect(contexts("x=$(cat <<'E'\n${v}\nE\n) ${v}\necho ${v}")).toEqual(["refused", "unquoted", "unquoted"]);
    expect(contexts("cat <<'E' $(echo\n${v})\n${v}\nE")).toEqual(["unquoted", "refused"]);
  });

  it("does not trust a heredoc delimiter with $ or a backquote to be quoted", () => {
    expect(contexts("cat <<$'E'\n${v}\nE")).toEqual(["double"]);
  });

  it("leaves ordinary words that merely look alike outside arithmetic", () => {
    expect(contexts("echo let ${v}\n[[ ${v} == x ]]\necho \"a[${v}]\"\nx=1; echo ${v} ${s:-${v}} ${s:=${v}} ${s/${v}/x}")).toEqual([
      "unquoted",
      "unquoted",
      "double",
      "unquoted",
      "unquoted",
      "unquoted",
      "unquoted",
    ]);
  });
});
