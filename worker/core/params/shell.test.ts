import { describe, expect, it } from "vitest";
import { prepareNodeCode } from "./prepare.ts";
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
    ["comment", "echo hi # was ${workflow.v}", "echo hi # was V"],
    ["comment after a semicolon", "echo hi;# ${workflow.v}", "echo hi;# V"],
    ["comment inside a command substitution (inert text)", "x=$(echo # ${workflow.triggerMessage.j}\n)", "x=$(echo # a\\x29 \\x60b\\x60 \\x5c\n)"],
    ["unquoted heredoc", "cat <<EOF\n${workflow.v} \"${workflow.v}\"\nEOF", 'cat <<EOF\n${SLUICE_P_1} "${SLUICE_P_1}"\nEOF'],
    ["quoted heredoc (literal)", "cat <<'EOF'\n${workflow.v}\nEOF\necho ${workflow.v}", "cat <<'EOF'\nV\nEOF\necho \"${SLUICE_P_1}\""],
    ["arithmetic", "echo $(( ${workflow.n} + 1 )) $[${workflow.n}*2]", "echo $(( ${SLUICE_P_1} + 1 )) $[${SLUICE_P_1}*2]"],
  ])("%s", (_name, code, expected) => {
    expect(script(code)).toBe(expected);
  });

  it("does not take # inside a word, $# or ${#x} for a comment", () => {
    expect(script('echo a#${workflow.v} $# ${#x} ${workflow.v}')).toBe('echo a#"${SLUICE_P_1}" $# ${#x} "${SLUICE_P_1}"');
  });

  it("ends a comment at the newline", () => {
    expect(script("# ${workflow.v}\necho ${workflow.v}")).toBe('# V\necho "${SLUICE_P_1}"');
  });

  it("keeps a heredoc's body apart from the command line that opened it", () => {
    const code = "cat <<A <<'B'; echo '${workflow.v}'\n${workflow.v}\nA\n${workflow.v}\nB\necho ${workflow.v}";
    expect(script(code)).toBe(`cat <<A <<'B'; echo ''"\${SLUICE_P_1}"''\n\${SLUICE_P_1}\nA\nV\nB\necho "\${SLUICE_P_1}"`);
  });

  it("strips leading tabs when matching a <<- delimiter", () => {
    expect(script("cat <<-'EOF'\n\t${workflow.v}\n\tEOF\necho ${workflow.v}")).toBe("cat <<-'EOF'\n\tV\n\tEOF\necho \"${SLUICE_P_1}\"");
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

  it("gives one variable per distinct value, in order of appearance", () => {
    const prepared = prepareNodeCode("shell", 'echo ${workflow.v} "${day}" ${workflow.v} ${bizdate}', ctx);
    expect(prepared).toEqual({
      ok: true,
      script: 'echo "${SLUICE_P_1}" "${SLUICE_P_2}" "${SLUICE_P_1}" "${SLUICE_P_2}"',
      prelude: "SLUICE_P_1='V'\nSLUICE_P_2='20260309'\nunset BASH_ENV\n",
    });
  });

  it("writes every value as a single-quoted literal in the prelude", () => {
    const prepared = prepareNodeCode("shell", "echo ${workflow.triggerMessage.k}", context({ triggerMessage: { k: "it's $(x)\n`y`" } }));
    expect(prepared).toMatchObject({ ok: true, prelude: "SLUICE_P_1='it'\\''s $(x)\n`y`'\nunset BASH_ENV\n" });
  });

  it("has a prelude that only unsets BASH_ENV when there is nothing to substitute", () => {
    expect(prepareNodeCode("shell", "echo hi", ctx)).toEqual({ ok: true, script: "echo hi", prelude: "unset BASH_ENV\n" });
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

  it("refuses a value that would end a quoted heredoc early", () => {
    const result = withValue("cat <<'EOF'\n${workflow.triggerMessage.k}\nEOF", "x\nEOF\ntouch /tmp/p");
    expect(result).toMatchObject({ ok: false, message: expect.stringContaining('contains a line "EOF"') });
    expect(withValue("cat <<-'EOF'\n${workflow.triggerMessage.k}\nEOF", "x\n\t\tEOF")).toMatchObject({ ok: false });
    expect(withValue("cat <<'EOF'\n${workflow.triggerMessage.k}\nEOF", "x\n EOF")).toMatchObject({ ok: true });
  });

  it.each([
    ["$(( ))", "echo $(( ${workflow.triggerMessage.k} + 1 ))"],
    ["(( ))", "(( x = ${workflow.triggerMessage.k} ))"],
    ["$[ ]", "echo $[${workflow.triggerMessage.k}+1]"],
    ["[[ -eq ]]", '[[ "${workflow.triggerMessage.k}" -eq 1 ]] && echo one'],
    ["let", "let 'x = ${workflow.triggerMessage.k}'"],
    ["array subscript", 'arr["${workflow.triggerMessage.k}"]=1'],
    ["array subscript in an expansion", 'echo "${arr[${workflow.triggerMessage.k}]}"'],
    ["substring offset", 's=hello; echo "${s:${workflow.triggerMessage.k}:2}"'],
  ])("refuses a non-integer where bash evaluates arithmetic: %s", (_name, code) => {
    expect(withValue(code, "a[$(touch /tmp/p)]")).toMatchObject({ ok: false, message: expect.stringContaining("not an integer") });
    expect(withValue(code, "-12")).toMatchObject({ ok: true });
  });

  it("allows any value in a [[ ]] test without arithmetic operators", () => {
    expect(withValue('[[ "${workflow.triggerMessage.k}" == a* ]]', "a[$(x)]")).toMatchObject({ ok: true });
  });
});
