import { describe, expect, it } from "vitest";
import { prepareNodeCode } from "./prepare.ts";
import { shellPrelude } from "./shell.ts";
import { context } from "./testing.ts";

const ctx = context({ workflowParams: { v: "V", n: "7" }, nodeParams: { day: "$[yyyymmdd-1]" }, triggerMessage: { j: "a) `b` \\" } });
const script = (code: string) => {
  const prepared = prepareNodeCode("shell", code, ctx);
  if (!prepared.ok) throw new Error(prepared.message);
  return prepared.script;
};

describe("shell: the rewrite follows bash's quoting context", () => {
  it.each([
    ["unquoted word", "echo ${workflow.v}", 'echo "${SLUICE_P_1}"'],
    ["assignment", "X=${workflow.v}", 'X="${SLUICE_P_1}"'],
    ["double quotes", 'echo "a ${workflow.v} b"', 'echo "a ${SLUICE_P_1} b"'],
    ["single quotes (close, insert, reopen)", "echo 'a ${workflow.v} b'", `echo 'a '"\${SLUICE_P_1}"' b'`],
    ["ANSI-C quotes", "echo $'a\\t${workflow.v}'", `echo $'a\\t'"\${SLUICE_P_1}"$''`],
    ["locale quotes", 'echo $"${workflow.v}"', 'echo $"${SLUICE_P_1}"'],
    ["command substitution in double quotes", 'echo "$(echo ${workflow.v})"', 'echo "$(echo "${SLUICE_P_1}")"'],
    ["double quotes inside $( ) inside double quotes", 'echo "$(echo "${workflow.v}")"', 'echo "$(echo "${SLUICE_P_1}")"'],
    ["backticks in double quotes", 'echo "`echo ${workflow.v}`"', 'echo "`echo "${SLUICE_P_1}"`"'],
    ["single quotes inside $( ) inside double quotes", "echo \"$(echo '${workflow.v}')\"", `echo "$(echo ''"\${SLUICE_P_1}"'')"`],
    ["bash default with a nested reference", 'echo ${FILE:-${workflow.v}} "${FILE:-${workflow.v}}"', 'echo ${FILE:-"${SLUICE_P_1}"} "${FILE:-${SLUICE_P_1}}"'],
    ["comment (left as written)", "echo hi # was ${workflow.v}", "echo hi # was ${workflow.v}"],
    ["comment after a semicolon", "echo hi;# ${workflow.v}", "echo hi;# ${workflow.v}"],
    ["comment inside a command substitution", "x=$(echo # ${workflow.triggerMessage.j}\n)", "x=$(echo # ${workflow.triggerMessage.j}\n)"],
    ["unquoted heredoc", "cat <<EOF\n${workflow.v} \"${workflow.v}\"\nEOF", 'cat <<EOF\n${SLUICE_P_1} "${SLUICE_P_1}"\nEOF'],
    ["local and export assignments", 'local f="${workflow.v}"; export G=${workflow.v}', 'local f="${SLUICE_P_1}"; export G="${SLUICE_P_1}"'],
    ["compound array elements", 'arr=( ${workflow.v} "${workflow.v}" )', 'arr=( "${SLUICE_P_1}" "${SLUICE_P_1}" )'],
    ["a here-string", 'read -r line <<< "${workflow.v}"', 'read -r line <<< "${SLUICE_P_1}"'],
    ["a case pattern", 'case "$x" in ${workflow.v}) echo;; esac', 'case "$x" in "${SLUICE_P_1}") echo;; esac'],
  ])("%s", (_name, code, expected) => {
    expect(script(code)).toBe(expected);
  });

  it("does not take # inside a word, $# or ${#x} for a comment", () => {
    expect(script('echo a#${workflow.v} $# ${#x} ${workflow.v}')).toBe('echo a#"${SLUICE_P_1}" $# ${#x} "${SLUICE_P_1}"');
  });

  it("ends a comment at the newline", () => {
    expect(script("# ${workflow.v}\necho ${workflow.v}")).toBe('# ${workflow.v}\necho "${SLUICE_P_1}"');
  });

  it("keeps a heredoc's body apart from the command line that opened it", () => {
    const code = "cat <<A <<B; echo '${workflow.v}'\n${workflow.v}\nA\n${workflow.v}\nB\necho ${workflow.v}";
    expect(script(code)).toBe(`cat <<A <<B; echo ''"\${SLUICE_P_1}"''\n\${SLUICE_P_1}\nA\n\${SLUICE_P_1}\nB\necho "\${SLUICE_P_1}"`);
  });

  it("strips leading tabs when matching a <<- delimiter", () => {
    expect(script("cat <<-EOF\n\t${workflow.v}\n\tEOF\necho ${workflow.v}")).toBe('cat <<-EOF\n\t${SLUICE_P_1}\n\tEOF\necho "${SLUICE_P_1}"');
  });

  it("does not take << inside arithmetic for a heredoc", () => {
    expect(script("echo $(( 1 << 2 )) ${workflow.v}")).toBe('echo $(( 1 << 2 )) "${SLUICE_P_1}"');
  });

  it("closes $( ) only at its own parenthesis, past a case pattern", () => {
    // Closing at `a)` would put the reference in the outer double quotes.
    expect(script('echo "$(case a in a) echo ${workflow.v};; esac) ${workflow.v}"')).toBe('echo "$(case a in a) echo "${SLUICE_P_1}";; esac) ${SLUICE_P_1}"');
  });

  it("leaves bash's own variables and a backslash-escaped reference alone", () => {
    expect(script('echo "${FILE_PATH}" ${HOME} ${1} ${#arr[@]} \\${workflow.v} "\\${bizdate}"')).toBe(
      'echo "${FILE_PATH}" ${HOME} ${1} ${#arr[@]} \\${workflow.v} "\\${bizdate}"',
    );
  });

  it("gives one variable per distinct reference, in order of appearance", () => {
    const prepared = prepareNodeCode("shell", 'echo ${workflow.v} "${day}" ${workflow.v} ${bizdate}', ctx);
    expect(prepared).toEqual({
      ok: true,
      script: 'echo "${SLUICE_P_1}" "${SLUICE_P_2}" "${SLUICE_P_1}" "${SLUICE_P_3}"',
      prelude: shellPrelude(3),
      values: ["V", "20260309", "20260309"],
    });
  });

  it("writes no value's text into the script or the prelude: the prelude reads each from its file", () => {
    const value = "it's $(x)\n`y`";
    const prepared = prepareNodeCode("shell", "echo ${workflow.triggerMessage.k}", context({ triggerMessage: { k: value } }));
    expect(prepared).toEqual({ ok: true, script: 'echo "${SLUICE_P_1}"', prelude: shellPrelude(1), values: [value] });
    expect(shellPrelude(1)).toBe(`IFS= read -r -d '' SLUICE_P_1 < "$SLUICE_VALUES/1"\nunset BASH_ENV SLUICE_VALUES\n`);
  });

  it("has no prelude when there is nothing to substitute", () => {
    expect(prepareNodeCode("shell", "echo hi", ctx)).toEqual({ ok: true, script: "echo hi", prelude: "", values: [] });
  });
});

describe("shell: values that cannot be placed safely fail the node", () => {
  const withValue = (code: string, k: string) => prepareNodeCode("shell", code, context({ triggerMessage: { k } }));

  it("refuses a value with a NUL character", () => {
    expect(withValue("echo ${workflow.triggerMessage.k}", "a\0b")).toEqual({
      ok: false,
      unresolved: ["${workflow.triggerMessage.k}"],
      message: "${workflow.triggerMessage.k} cannot be substituted: its value contains a NUL character, which bash cannot hold",
    });
  });

  it("refuses a quoted heredoc whatever the value, naming the line and the unquoted form", () => {
    const result = withValue("echo start\ncat <<'EOF'\n${workflow.triggerMessage.k}\nEOF", "plain");
    expect(result).toMatchObject({ ok: false, unresolved: ["${workflow.triggerMessage.k}"] });
    expect(result.ok || result.message).toMatch(/^line 3: \$\{workflow\.triggerMessage\.k\} cannot be substituted: it sits in a quoted heredoc .*<<EOF/);
  });

  it.each([
    ["$(( ))", "echo $(( ${workflow.triggerMessage.k} + 1 ))", "arithmetic"],
    ["(( ))", "(( x = ${workflow.triggerMessage.k} ))", "arithmetic"],
    ["$[ ]", "echo $[${workflow.triggerMessage.k}+1]", "arithmetic"],
    ["[[ -eq ]]", '[[ "${workflow.triggerMessage.k}" -eq 1 ]] && echo one', "arithmetic"],
    ["let", "let 'x = ${workflow.triggerMessage.k}'", "arithmetic"],
    ["array subscript", 'arr["${workflow.triggerMessage.k}"]=1', "array subscript"],
    ["array subscript in an expansion", 'echo "${arr[${workflow.triggerMessage.k}]}"', "array subscript"],
    ["substring offset", 's=hello; echo "${s:${workflow.triggerMessage.k}:2}"', "arithmetic"],
    ["quoted subscript of unset", 'unset "arr[${workflow.triggerMessage.k}]"', "variable names"],
    ["compound array subscript", "arr=([${workflow.triggerMessage.k}]=x)", "array subscript"],
    ["declare -i", "declare -i n=${workflow.triggerMessage.k}", "integer variable"],
    ["an integer variable assigned later", "declare -i n\nn=${workflow.triggerMessage.k}", "integer variable"],
    ["a builtin integer", "RANDOM=${workflow.triggerMessage.k}", "integer variable"],
    ["printf -v", "printf -v ${workflow.triggerMessage.k} %s 1", "variable names"],
    ["[[ -v ]]", '[[ -v "${workflow.triggerMessage.k}" ]]', "variable name"],
    ["PS4", 'PS4="${workflow.triggerMessage.k}"', "PS4"],
    ["eval", 'eval "${workflow.triggerMessage.k}"', "runs its argument as code"],
    ["a value reaching a subscript through $( )", 'unset "a[$(echo "${workflow.triggerMessage.k}")]"', "variable names"],
  ])("refuses, whatever the value, where bash evaluates it: %s", (_name, code, why) => {
    for (const value of ["a[$(touch /tmp/p)]", "-12"]) {
      const result = withValue(code, value);
      expect(result).toMatchObject({ ok: false });
      expect(result.ok || result.message).toContain(why);
    }
  });

  it("allows any value in a [[ ]] test without arithmetic operators", () => {
    expect(withValue('[[ "${workflow.triggerMessage.k}" == a* ]]', "a[$(x)]")).toMatchObject({ ok: true });
  });
});
