// The CLI's option parsing: flags over SLUICE_* environment variables, defaults, and usage errors.
import { describe, expect, test } from "vitest";
import { parseRunnerArgs, UsageError } from "../src/cli.ts";

describe("runner CLI options", () => {
  test("flags win over environment variables, which fill in what flags leave out", () => {
    const options = parseRunnerArgs(["--url", "http://flag:1", "--slots", "8", "--keep-work-dirs"], {
      SLUICE_URL: "http://env:2",
      SLUICE_RUNNER_TOKEN: "env-token",
      SLUICE_RUNNER_SLOTS: "3",
      SLUICE_RUNNER_NAME: "env-name",
      SLUICE_PYTHON: "/opt/python3",
    });
    expect(options).toEqual({
      url: "http://flag:1",
      token: "env-token",
      slots: 8,
      name: "env-name",
      heartbeatSeconds: 5,
      killGraceSeconds: 5,
      keepWorkDirs: true,
      python: "/opt/python3",
    });
  });

  test("defaults to 4 slots, 5 s heartbeats and a 5 s kill grace", () => {
    expect(parseRunnerArgs(["--url", "http://x:1", "--token", "t"], {})).toMatchObject({
      slots: 4,
      heartbeatSeconds: 5,
      killGraceSeconds: 5,
      keepWorkDirs: false,
    });
  });

  test("a missing URL or token, a bad number or an unknown flag is a usage error", () => {
    expect(() => parseRunnerArgs(["--token", "t"], {})).toThrow(/missing --url/);
    expect(() => parseRunnerArgs(["--url", "http://x:1"], {})).toThrow(/missing --token/);
    expect(() => parseRunnerArgs(["--url", "http://x:1", "--token", "t", "--slots", "1.5"], {})).toThrow(UsageError);
    expect(() => parseRunnerArgs(["--url", "http://x:1", "--token", "t", "--slots", "2000"], {})).toThrow(/at most 1024/);
    expect(() => parseRunnerArgs(["--url", "http://x:1", "--token", "t", "--heartbeat-seconds", "0"], {})).toThrow(UsageError);
    expect(() => parseRunnerArgs(["--url", "http://x:1", "--token", "t", "--bogus"], {})).toThrow(UsageError);
  });
});
