// DESIGN §2.3 on the real stack through the public API: every script shape once found to run a hostile value is refused at save or prints it literally.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-untrusted-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "e2e-untrusted-runner", slots: 4 }] });
  api = client(stack);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

const V = "${workflow.triggerMessage.v}";
const canary = join(tmpdir(), `sluice-e2e-pwned-${process.pid}`);
/** A value that tries every way out at once: command substitution, backquotes, quotes, a heredoc end, a subscript, an f-string field, a coding line. */
const HOSTILE = [
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `a[$(touch ${canary})]`,
  `'"; touch ${canary}; "'`,
  "EOF",
  "EOF)",
  `{__import__('os').system('touch ${canary}')}`,
  "coding: utf-7",
  `+AAoAXwBf-import+AF8AXw-('os').system('touch ${canary}')`,
].join("\n");

/** The shapes of issue 10, each as a person would write it; `refused` is the reason the save must name. */
const SHAPES: Array<{ name: string; type: "shell" | "python"; code: string; refused?: RegExp; prints?: string }> = [
  { name: "quoted heredoc inside $( )", type: "shell", code: `x=$(cat <<'EOF'\n${V}\nEOF\n)\necho "$x"`, refused: /line 2: .* quoted heredoc .*<<EOF/ },
  { name: "quoted <<- heredoc inside < <( )", type: "shell", code: `while read -r l; do echo "$l"; done < <(cat <<-'E'\n\t${V}\n\tE\n)`, refused: /line 2: .* quoted heredoc/ },
  { name: "two references on one line of a quoted heredoc", type: "shell", code: `cat <<'EOF'\n${V} ${V}\nEOF`, refused: /line 2: .* quoted heredoc/ },
  { name: "CRLF line endings with a quoted heredoc", type: "shell", code: `cat <<'EOF'\r\n${V}\r\nEOF\r\n`, refused: /line 2: .* quoted heredoc/ },
  { name: "declare -i", type: "shell", code: `declare -i n=${V}\necho "$n"`, refused: /line 1: .* integer variable/ },
  { name: "an integer variable assigned later", type: "shell", code: `declare -i n\nn=${V}\necho "$n"`, refused: /line 2: .* n is an integer variable/ },
  { name: "a quoted array index in unset", type: "shell", code: `declare -A arr\nunset "arr[${V}]"`, refused: /line 2: .* unset takes variable names/ },
  { name: "a compound array assignment", type: "shell", code: `arr=([${V}]=x)\necho "\${arr[@]}"`, refused: /line 1: .* array subscript/ },
  { name: "arithmetic", type: "shell", code: `echo $(( ${V} + 1 ))`, refused: /line 1: .* arithmetic/ },
  { name: "an unquoted heredoc inside $( ) (the rewrite the refusal suggests)", type: "shell", code: `x=$(cat <<EOF\n${V}\nEOF\n)\nprintf '%s\\n' "$x"`, prints: HOSTILE },
  { name: "CRLF line endings with an unquoted heredoc", type: "shell", code: `cat <<EOF\r\n${V}\r\nEOF\r\n`, prints: HOSTILE },
  { name: "two Python comments holding a reference", type: "python", code: `# ${V}\n# ${V}\nprint('${V}')`, prints: HOSTILE },
  { name: "a Python raw f-string with escaped braces around a reference", type: "python", code: `print(rf'{{${V}}}')`, prints: `{${HOSTILE}}` },
  { name: "a Python f-string field holding a reference", type: "python", code: `print(f"{'<' + ${V} + '>'}")`, prints: `<${HOSTILE}>` },
];

describe("hostile values on the real stack (issue 10's shapes)", () => {
  it.each(SHAPES)("$name: refused at save naming the line, or prints the value literally and runs none of it", async (shape) => {
    rmSync(canary, { force: true });
    const def = { name: `untrusted_${shape.name.replace(/[^a-z0-9]+/gi, "_").slice(0, 40)}`, nodes: [{ name: "node", type: shape.type, code: shape.code }] };
    const saved = await api.call("POST", "/api/v1/workflows", def);
    if (shape.refused) {
      expect(saved.status, saved.text).toBe(400);
      const messages: string[] = saved.json.error.details.map((d: { message: string }) => d.message);
      expect(messages.join("\n")).toMatch(/^node node, /m);
      expect(messages.join("\n")).toMatch(shape.refused);
      return;
    }
    expect(saved.status, saved.text).toBe(201);
    const run = await api.run(saved.json.id, { env: "dev", triggerMessage: { v: HOSTILE } });
    const done = await api.finished(run);
    const log = await api.log(run, "node");
    expect(done.status, log).toBe("succeeded");
    expect(log).toContain(shape.prints!);
    expect(existsSync(canary)).toBe(false);
  });
});
