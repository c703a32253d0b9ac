// `sluice`: the command line of DESIGN §8. Exit codes: 0 done (a followed run succeeded), 1 a run that did not
// succeed or a request the API refused, 2 bad usage or bad definition files.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import pc from "picocolors";
import { ApiError, createApi, data, type Api } from "./api.ts";
import { parseIntArg } from "./args.ts";
import { apply, exportAll } from "./cmd-defs.ts";
import * as ops from "./cmd-ops.ts";
import { resolveConnection, saveConnection, UsageError } from "./config.ts";
import { FileError } from "./files.ts";
import { stdout, type Out } from "./output.ts";

const collect = (value: string, previous: string[]) => [...previous, value];
const int = (name: string) => (value: string) => parseIntArg(name, value);

/** The program; each action sets `exitCode` (commands that follow a run report its outcome). */
export function program(out: Out = stdout, env: NodeJS.ProcessEnv = process.env): { cli: Command; exitCode: () => number } {
  let code = 0;
  const cli = new Command("sluice").description("Triggered workflows on Cloudflare Workers: definitions as code, runs and operations").option("--json", "JSON output for scripts");
  cli.exitOverride();
  cli.configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  const ctx = (): { api: Api; out: Out } => ({ api: createApi(resolveConnection(env)), out: { ...out, json: Boolean(cli.opts().json) } });
  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) =>
    async (...args: A) => {
      const result = await fn(...args);
      code = typeof result === "number" ? result : 0;
    };

  cli
    .command("login")
    .description("save the API URL and key (mode 0600, in $XDG_CONFIG_HOME/sluice or ~/.config/sluice)")
    .requiredOption("--url <url>", "the Sluice Worker, e.g. http://127.0.0.1:8787")
    .requiredOption("--key <key>", "an API key")
    .action(
      action(async (o: { url: string; key: string }) => {
        // A wrong URL or key is said now, not at the next command.
        await data(createApi(o).client.GET("/api/v1/workflows", { params: { query: { limit: 1 } } }));
        out.line(`saved to ${saveConnection({ url: o.url, key: o.key }, env)}`);
      }),
    );

  cli
    .command("apply")
    .description("create or update workflows and triggers from YAML/JSON files (kind: Workflow | Trigger), matched by name")
    .requiredOption("-f, --file <path>", "a file or directory (repeatable)", collect, [])
    .option("--publish", "publish each workflow whose draft differs from its published version")
    .option("-m, --message <msg>", "the publish message", "")
    .option("--dry-run", "show the diff, change nothing")
    .action(action(async (o: { file: string[]; publish?: boolean; message: string; dryRun?: boolean }) => {
      const { api, out: o2 } = ctx();
      await apply(api, o2, { files: o.file, publish: Boolean(o.publish), message: o.message, dryRun: Boolean(o.dryRun) });
    }));

  cli
    .command("export")
    .description("every workflow (its draft) and trigger as files that apply reads back unchanged")
    .option("--dir <dir>", "write one file each into DIR (default: one YAML stream on stdout)")
    .action(action(async (o: { dir?: string }) => exportAll(ctx().api, ctx().out, o.dir)));

  cli
    .command("run <workflow>")
    .description("start a run of a workflow (name or id)")
    .addOption(new Option("--env <env>", "dev runs the draft, prod the published version").choices(["dev", "prod"]).default("prod"))
    .option("--run-date <yyyymmdd>", "the run date (bizdate is the day before)")
    .option("--message <json|@file>", "the trigger message")
    .option("--param <k=v>", "a parameter override (repeatable)", collect, [])
    .option("--priority <n>", "1, 3, 5, 7 or 8", int("--priority"))
    .option("--follow", "stream node states and logs; exit 0 when the run succeeds, 1 otherwise")
    .action(action(async (workflow: string, o: ops.RunOptions) => ops.run(ctx().api, ctx().out, workflow, { ...o, follow: Boolean(o.follow) })));

  cli.command("workflows").description("list workflows").action(action(async () => ops.listWorkflows(ctx().api, ctx().out)));
  cli.command("triggers").description("list triggers").action(action(async () => ops.listTriggers(ctx().api, ctx().out)));

  cli
    .command("instances")
    .description("list instances, newest first")
    .option("--workflow <name>", "of one workflow")
    .option("--status <status>", "waiting, running, succeeded, failed, terminated or skipped")
    .option("--env <env>", "dev or prod")
    .option("--limit <n>", "at most n (1..200)", int("--limit"), 50)
    .action(action(async (o: { workflow?: string; status?: string; env?: string; limit: number }) => ops.instances(ctx().api, ctx().out, o)));

  cli
    .command("logs <instance>")
    .description("the logs of an instance's nodes")
    .option("--node <name>", "one node only")
    .option("-f, --follow", "follow until the instance ends (exit 0 when it succeeded)")
    .action(action(async (id: string, o: { node?: string; follow?: boolean }) => ops.logs(ctx().api, ctx().out, id, { node: o.node, follow: Boolean(o.follow) })));

  cli.command("terminate <instance>").description("terminate an instance").action(action(async (id: string) => ops.terminate(ctx().api, ctx().out, id)));
  cli
    .command("rerun <instance>")
    .description("rerun an instance's nodes")
    .addOption(new Option("--mode <mode>", "all, failed, or from (with --node)").choices(["all", "failed", "from"]).default("failed"))
    .option("--node <name>", "with --mode from: rerun this node and everything downstream")
    .action(action(async (id: string, o: { mode: "all" | "failed" | "from"; node?: string }) => ops.rerun(ctx().api, ctx().out, id, { mode: o.mode, ...(o.node ? { node: o.node } : {}) })));

  cli
    .command("events <trigger>")
    .description("a trigger's event log, newest first")
    .option("-f, --follow", "print new events as they arrive")
    .option("--limit <n>", "at most n (1..200)", int("--limit"), 50)
    .action(action(async (trigger: string, o: { follow?: boolean; limit: number }) => ops.events(ctx().api, ctx().out, trigger, { follow: Boolean(o.follow), limit: o.limit })));

  cli
    .command("trigger")
    .description("trigger tools")
    .command("test <trigger>")
    .description("would this message start runs, and what would each ${...} become? (nothing runs; exit 1 when it does not match)")
    .requiredOption("--message <json|@file>", "a sample message as the source delivers it")
    .action(action(async (trigger: string, o: { message: string }) => ops.triggerTest(ctx().api, ctx().out, trigger, o.message)));

  cli.command("replay <trigger> <event>").description("decide a logged event again (starts runs as the event would)").action(action(async (t: string, e: string) => ops.replay(ctx().api, ctx().out, t, e)));

  cli
    .command("send <queue>")
    .description("send a message to a trigger queue")
    .option("--key <key>", "the message key")
    .requiredOption("--value <value>", "the message value (text)")
    .action(action(async (queue: string, o: { key?: string; value: string }) => ops.send(ctx().api, ctx().out, queue, o)));

  cli
    .command("upload <bucket> <key> <file>")
    .description("upload a file to a bucket (its R2 triggers see the new object)")
    .option("--content-type <type>", "the object's content type", "application/octet-stream")
    .action(action(async (bucket: string, key: string, file: string, o: { contentType: string }) => ops.upload(ctx().api, ctx().out, bucket, key, file, o.contentType)));

  cli
    .command("runner")
    .description("run a runner (the options of runner/src/cli.ts: --url --token --slots …)")
    .allowUnknownOption()
    .helpOption(false)
    .argument("[args...]")
    .action((args: string[]) => {
      const entry = fileURLToPath(new URL("../runner/src/cli.ts", import.meta.url).href);
      code = spawnSync(process.execPath, [entry, ...args], { stdio: "inherit" }).status ?? 1;
    });

  return { cli, exitCode: () => code };
}

/** Runs the CLI and says what went wrong the way a person reads it; returns the exit code. */
export async function main(argv: string[], out: Out = stdout, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { cli, exitCode } = program(out, env);
  try {
    await cli.parseAsync(argv, { from: "user" });
    return exitCode();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof FileError) {
      for (const problem of err.problems) out.error(`${pc.red("error")} ${problem}`);
      return 2;
    }
    if (err instanceof UsageError) {
      out.error(`${pc.red("error")} ${err.message}`);
      return 2;
    }
    if (err instanceof ApiError) {
      out.error(`${pc.red("error")} ${err.message}${err.status ? ` (${err.status} ${err.code})` : ""}`);
      for (const d of err.details) if (!err.message.includes(d.message)) out.error(`  ${d.message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
