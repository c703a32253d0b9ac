import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileSafe, parseIntArg, parseMessage, parseParams, resolveByName } from "../args.ts";
import { configPath, resolveConnection, saveConnection, UsageError } from "../config.ts";
import { main } from "../main.ts";

describe("arguments", () => {
  it("--param k=v, the value keeping its own =", () => {
    expect(parseParams(["a=1", "b=x=y", "c="])).toEqual({ a: "1", b: "x=y", c: "" });
    expect(() => parseParams(["=1"])).toThrow(UsageError);
    expect(() => parseParams(["novalue"])).toThrow("--param novalue: write it as name=value");
  });

  it("--message as JSON or @file", () => {
    expect(parseMessage('{"key":"k"}')).toEqual({ key: "k" });
    expect(parseMessage("@m.json", () => '{"a":1}')).toEqual({ a: 1 });
    expect(() => parseMessage("@m.json", () => "nope")).toThrow("--message @m.json: m.json is not JSON");
    expect(() => parseMessage("@gone.json", () => { throw new Error("ENOENT"); })).toThrow("cannot read gone.json");
    expect(() => parseMessage("{oops")).toThrow(UsageError);
  });

  it("numbers", () => {
    expect(parseIntArg("--priority", "7")).toBe(7);
    expect(() => parseIntArg("--priority", "high")).toThrow("--priority high: a whole number");
  });

  it("names to ids: an id as given, a unique name, else a usage error naming the candidates", () => {
    const items = [{ id: "wf_1", name: "a" }, { id: "wf_2", name: "b" }, { id: "wf_3", name: "b" }];
    expect(resolveByName(items, "wf_2", "workflow", "wf_").id).toBe("wf_2");
    expect(resolveByName(items, "a", "workflow", "wf_").id).toBe("wf_1");
    expect(() => resolveByName(items, "b", "workflow", "wf_")).toThrow("several workflows are named 'b': give the id (wf_2, wf_3)");
    expect(() => resolveByName(items, "c", "workflow", "wf_")).toThrow("no workflow named 'c'");
  });

  it("file names from workflow names", () => {
    expect(fileSafe("a/b c")).toBe("a_b_c");
    expect(fileSafe("..")).toBe("_");
  });
});

describe("connection", () => {
  it("login writes a 0600 file under XDG_CONFIG_HOME; the environment wins field by field", () => {
    const env = { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "sluice-cfg-")) };
    const path = saveConnection({ url: "http://x", key: "k1" }, env);
    expect(path).toBe(join(env.XDG_CONFIG_HOME, "sluice", "config.json"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ url: "http://x", key: "k1" });
    expect(resolveConnection(env)).toEqual({ url: "http://x", key: "k1" });
    expect(resolveConnection({ ...env, SLUICE_KEY: "k2" })).toEqual({ url: "http://x", key: "k2" });
    writeFileSync(path, "{}");
    expect(() => resolveConnection(env)).toThrow("set SLUICE_URL and SLUICE_KEY");
  });

  it("~/.config without XDG_CONFIG_HOME", () => {
    expect(configPath({ HOME: "/home/u" })).toMatch(/\.config\/sluice\/config\.json$/);
  });
});

describe("main", () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, out: { json: false, line: (t: string) => lines.push(t), error: (t: string) => lines.push(t) } };
  };

  it("exits 2 with the problem for bad usage and for a missing connection", async () => {
    const { lines, out } = capture();
    expect(await main(["run", "x", "--priority", "high"], out, {})).toBe(2);
    expect(await main(["workflows"], out, { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "sluice-cfg-")) })).toBe(2);
    expect(lines.join("\n")).toContain("no API to talk to");
  });

  it("exits 1 with the API's message when the API is unreachable", async () => {
    const { lines, out } = capture();
    expect(await main(["workflows"], out, { SLUICE_URL: "http://127.0.0.1:9", SLUICE_KEY: "k" })).toBe(1);
    expect(lines.join("\n")).toContain("cannot reach http://127.0.0.1:9");
  });
});
