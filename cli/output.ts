// How the CLI speaks: tables and colour for people, JSON for scripts, messages on stderr.
import Table from "cli-table3";
import pc from "picocolors";

export interface Out {
  json: boolean;
  line(text: string): void;
  error(text: string): void;
}

export const stdout: Out = {
  json: false,
  line: (text) => void process.stdout.write(`${text}\n`),
  error: (text) => void process.stderr.write(`${text}\n`),
};

export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))));
  return t.toString();
}

const STATUS_COLOURS: Record<string, (s: string) => string> = {
  succeeded: pc.green,
  failed: pc.red,
  terminated: pc.red,
  skipped: pc.yellow,
  running: pc.cyan,
  waiting: pc.dim,
  queued: pc.dim,
};
export const status = (s: string) => (STATUS_COLOURS[s] ?? ((x: string) => x))(s);

/** A unified diff with + and - lines coloured. */
export const colourDiff = (diff: string) =>
  diff
    .split("\n")
    .map((l) => (l.startsWith("+") && !l.startsWith("+++") ? pc.green(l) : l.startsWith("-") && !l.startsWith("---") ? pc.red(l) : l.startsWith("@@") ? pc.cyan(l) : l))
    .join("\n");
