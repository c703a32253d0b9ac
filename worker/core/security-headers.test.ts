// The console's policy: inline script hashes as browsers compute them, and the _headers file Workers static assets read.
import { describe, expect, it } from "vitest";
import { COMMON_SECURITY_HEADERS, consoleContentSecurityPolicy, consoleHeadersFile, inlineScriptHashes } from "./security-headers.ts";

describe("console security headers", () => {
  it("hashes the exact text of each inline script, and skips scripts loaded by src", async () => {
    const html = `<script>alert(1)</script><script type="module" src="/a.js"></script><SCRIPT nonce="x">\n  b()\n</SCRIPT><script></script>`;
    // Reference values: `printf '%s' 'alert(1)' | openssl dgst -sha256 -binary | base64`, and the empty script (as Chromium reports it).
    expect(await inlineScriptHashes(html)).toEqual([
      "bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI=",
      "5F9qmS1Ew4cx+W88Pd/TUoKVONTTojoxNT6HshQuTMo=",
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    ]);
  });

  it("allows scripts only from the origin and the given hashes, once each, and never eval", () => {
    const policy = consoleContentSecurityPolicy(["b", "a", "b"]);
    expect(policy).toContain("script-src 'self' 'sha256-a' 'sha256-b';");
    expect(policy).not.toMatch(/unsafe-eval/);
    expect(policy.match(/script-src[^;]*/)![0]).not.toMatch(/unsafe-inline/);
    expect(policy).toMatch(/frame-ancestors 'none'$/);
  });

  it("writes one rule for every path, with the policy and the headers the API sends too", () => {
    const file = consoleHeadersFile(["h"]);
    const lines = file.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines[0]).toBe("/*");
    expect(lines.slice(1)).toEqual([
      `  Content-Security-Policy: ${consoleContentSecurityPolicy(["h"])}`,
      ...Object.entries(COMMON_SECURITY_HEADERS).map(([name, value]) => `  ${name}: ${value}`),
    ]);
  });
});
