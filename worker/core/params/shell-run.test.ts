import { describe, expect, it } from "vitest";
import { prepareNodeCode } from "./prepare.ts";
import { canaryPath, context, hostileValues, runPrepared } from "./testing.ts";

// Each script prints the value between brackets; a hostile value must come out exactly as it went in.
const CONTEXTS: Array<[string, string]> = [
  ["unquoted word", "printf '[%s]\\n' ${workflow.triggerMessage.k}"],
  ["double quotes", 'printf \'%s\\n\' "[${workflow.triggerMessage.k}]"'],
  ["single quotes", "printf '%s\\n' '[${workflow.triggerMessage.k}]'"],
  ["ANSI-C quotes", "printf '%s\\n' $'[${workflow.triggerMessage.k}]'"],
  ["assignment", 'X=${workflow.triggerMessage.k}\nprintf \'[%s]\\n\' "$X"'],
  ["command substitution", 'printf \'[%s]\\n\' "$(printf \'%s\' "${workflow.triggerMessage.k}")"'],
  ["unquoted word in a command substitution", "printf '[%s]\\n' \"$(printf '%s' ${workflow.triggerMessage.k})\""],
  ["backticks", "printf '[%s]\\n' \"`printf '%s' ${workflow.triggerMessage.k}`\""],
  ["case inside a command substitution", 'printf \'[%s]\\n\' "$(case a in a) printf \'%s\' ${workflow.triggerMessage.k};; esac)"'],
  ["bash default", 'printf \'[%s]\\n\' "${UNSET_VAR:-${workflow.triggerMessage.k}}"'],
  ["single quotes in an unquoted bash default", "printf '[%s]\\n' ${UNSET_VAR:-'${workflow.triggerMessage.k}'}"],
  ["function argument", 'show() { printf \'[%s]\\n\' "$1"; }\nshow ${workflow.triggerMessage.k}'],
  ["[[ string comparison ]]", "[[ ${workflow.triggerMessage.k} == \"${workflow.triggerMessage.k}\" ]] && printf '[%s]\\n' ${workflow.triggerMessage.k}"],
  ["case subject", "case ${workflow.triggerMessage.k} in *) printf '[%s]\\n' \"${workflow.triggerMessage.k}\";; esac"],
  ["here-string", 'cat <<< "[${workflow.triggerMessage.k}]"'],
  ["heredoc in a command substitution", "X=$(cat <<EOF\n[${workflow.triggerMessage.k}]\nEOF\n)\nprintf '%s\\n' \"$X\""],
  ["unquoted heredoc", "cat <<EOF\n[${workflow.triggerMessage.k}]\nEOF"],
  ["unquoted heredoc with quotes", "cat <<EOF\n['${workflow.triggerMessage.k}']\nEOF"],
];

const prepare = (code: string, k: string) => prepareNodeCode("shell", code, context({ triggerMessage: { k } }));

// Real interpreters, many runs: slower than the default timeout allows on a busy machine.
describe("shell: hostile trigger data reaches bash as a literal string", { timeout: 60_000 }, () => {
  const canary = canaryPath();
  const values = hostileValues(canary.path);

  it.each(CONTEXTS)("in %s", (name, code) => {
    for (const value of values) {
      const ran = runPrepared("shell", prepare(code, value));
      const shown = name === "unquoted heredoc with quotes" ? `['${value}']` : `[${value}]`;
      expect({ value, stdout: ran.stdout, stderr: ran.stderr }).toEqual({ value, stdout: `${shown}\n`, stderr: "" });
      expect(canary.exists()).toBe(false);
    }
  });

  it("in a quoted heredoc, by refusing it for every value", () => {
    const code = "cat <<'EOF'\n[${workflow.triggerMessage.k}]\nEOF";
    for (const value of [...values, "plain"]) expect(prepare(code, value)).toMatchObject({ ok: false, message: expect.stringContaining("quoted heredoc") });
  });

  it("in a bash default inside double quotes, where single quotes are plain characters", () => {
    for (const value of values) {
      const ran = runPrepared("shell", prepare("printf '%s\\n' \"${UNSET_VAR:-'${workflow.triggerMessage.k}'}\"", value));
      expect(ran.stdout).toBe(`'${value}'\n`);
    }
    expect(canary.exists()).toBe(false);
  });

  it("in a comment, which keeps the reference as written", () => {
    for (const value of values) {
      const ran = runPrepared("shell", prepare("# got ${workflow.triggerMessage.k}\necho done", value));
      expect(ran).toEqual({ stdout: "done\n", stderr: "", status: 0 });
      expect(canary.exists()).toBe(false);
    }
  });

  it("in a comment or quoted heredoc inside a command substitution", () => {
    const scripts = [
      "x=$(echo a # ${workflow.triggerMessage.k}\n)\necho \"$x\"",
      "x=`echo a # ${workflow.triggerMessage.k}`\necho \"$x\"",
    ];
    for (const code of scripts) {
      for (const value of values) expect(runPrepared("shell", prepare(code, value)).stdout).toBe("a\n");
    }
    expect(canary.exists()).toBe(false);
  });

  it("in arithmetic, by refusing it for every value, integers too", () => {
    const code = "echo $(( ${workflow.triggerMessage.k} + 1 ))";
    for (const value of [...values, "41"]) expect(prepare(code, value)).toMatchObject({ ok: false, message: expect.stringContaining("arithmetic") });
  });

  it("in arithmetic after checking the value is a number, the rewrite the refusal suggests", () => {
    const code = 'n="${workflow.triggerMessage.k}"; [[ $n =~ ^-?[0-9]+$ ]] || exit 1\necho $(( n + 1 ))';
    expect(runPrepared("shell", prepare(code, "41")).stdout).toBe("42\n");
    for (const value of values) expect(runPrepared("shell", prepare(code, value)).status).toBe(1);
    expect(canary.exists()).toBe(false);
  });


  it("keeps line numbers when a value spans lines", () => {
    const ran = runPrepared("shell", prepare('X="${workflow.triggerMessage.k}"\necho "$LINENO"\nfalse_command_here', "a\nb\nc"));
    expect(ran.stdout).toBe("2\n");
    expect(ran.stderr).toMatch(/line 3: false_command_here: command not found/);
  });

  it("does not pass BASH_ENV on to commands the script starts", () => {
    const ran = runPrepared("shell", prepare("echo ${workflow.triggerMessage.k} \"${BASH_ENV:-unset}\"\nbash -c 'echo \"${BASH_ENV:-unset}\"'", "v"));
    expect(ran.stdout).toBe("v unset\nunset\n");
  });

  it("leaves the script's own variables working", () => {
    const code = 'FILE_PATH="${workflow.triggerMessage.k}"\necho "got ${FILE_PATH} ${#FILE_PATH}"\narr=(a b)\necho "${#arr[@]} $[1+2] ${HOME:+home}"';
    expect(runPrepared("shell", prepare(code, "x.csv"), { HOME: "/root" }).stdout).toBe("got x.csv 5\n2 3 home\n");
  });
});
