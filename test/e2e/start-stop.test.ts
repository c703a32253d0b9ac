// npm start stops cleanly whatever stops it: SIGKILLed, it leaves no wrangler, workerd or runner behind and frees
// its port; a second start on a busy port says so and exits non-zero.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, portIsFree, ROOT } from "../../scripts/stack.ts";

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  command: string;
}

/** Every live process, from /proc (a zombie is dead: it only waits to be reaped). */
function processes(): Proc[] {
  const all: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      if (state !== "Z") all.push({ pid: Number(entry), ppid: Number(ppid), state: state!, command });
    } catch {} // gone meanwhile
  }
  return all;
}

/** The processes descended from pid (not pid itself). */
function descendants(pid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const parents = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

function alive(pids: number[]): Proc[] {
  const wanted = new Set(pids);
  return processes().filter((p) => wanted.has(p.pid));
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const started: { child: ChildProcess; stateDir: string; pids: number[] }[] = [];

/** `npm start` or `node scripts/start.ts` on a free port with a fresh state directory, the console as built. */
async function start(command: "npm" | "node") {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), "sluice-start-"));
  const args = command === "npm" ? ["start", "--silent"] : ["scripts/start.ts"];
  const env = { ...process.env, PORT: String(port), SLUICE_STATE_DIR: stateDir, SLUICE_SKIP_BUILD: "1" };
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  child.stdout.on("data", (d: Buffer) => output.push(d.toString()));
  child.stderr.on("data", (d: Buffer) => output.push(d.toString()));
  const entry = { child, stateDir, pids: [] as number[] };
  started.push(entry);
  await until(
    `npm start answers on port ${port}\n${output.join("")}`,
    () => {
      if (child.exitCode !== null) throw new Error(`start exited (${child.exitCode}):\n${output.join("")}`);
      return output.join("").includes("Sluice is running");
    },
    120_000,
  );
  expect((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).status).toBe(200);
  return { child, port, output, entry };
}

afterEach(() => {
  // A failed test must not leave its stack running: kill what it started, by the pids gathered.
  for (const { child, stateDir, pids } of started.splice(0)) {
    for (const pid of [child.pid!, ...pids]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
});

async function expectAllGoneAfter(command: "npm" | "node", signal: NodeJS.Signals) {
  const { child, port, entry } = await start(command);
  const tree = descendants(child.pid!);
  entry.pids = tree.map((p) => p.pid);
  // What is to die: wrangler with its workerd, and the runner.
  expect(tree.some((p) => /wrangler/.test(p.command))).toBe(true);
  expect(tree.some((p) => /workerd/.test(p.command))).toBe(true);
  expect(tree.some((p) => /runner\/src\/cli\.ts/.test(p.command))).toBe(true);

  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill(signal);
  const code = await exited;
  if (signal === "SIGTERM") expect(code).toBe(0); // a graceful stop: children stopped, then exit 0
  await until(
    `every process of that start is gone (left: ${JSON.stringify(alive(entry.pids))})`,
    () => alive(entry.pids).length === 0,
    20_000,
  );
  await until(`port ${port} is free`, () => portIsFree(port), 10_000);
}

describe("npm start", () => {
  it("refuses a busy port, naming it, and leaves the stack that holds it alone", async () => {
    const { port } = await start("node");
    const second = spawnSync("node", ["scripts/start.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), SLUICE_STATE_DIR: mkdtempSync(join(tmpdir(), "sluice-start-")), SLUICE_SKIP_BUILD: "1" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain(`port ${port} is already in use`);
    expect(second.stdout).not.toContain("Sluice is running");
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).status).toBe(200);
  }, 180_000);

  it("SIGKILLed (node scripts/start.ts), leaves no process behind and frees its port", async () => {
    await expectAllGoneAfter("node", "SIGKILL");
  }, 180_000);

  it("SIGKILLed (npm start: npm itself killed), leaves no process behind and frees its port", async () => {
    expect(existsSync(join(ROOT, "web/build/index.html"))).toBe(true);
    await expectAllGoneAfter("npm", "SIGKILL");
  }, 180_000);

  it("SIGTERMed, stops wrangler, workerd and the runner, frees its port and exits 0", async () => {
    await expectAllGoneAfter("node", "SIGTERM");
  }, 180_000);
});
