import { describe, expect, it } from "vitest";
import { ansiToHtml } from "./ansi.ts";

describe("ansiToHtml", () => {
  it("escapes HTML in a log so it can never inject markup", () => {
    const html = ansiToHtml(`<img src=x onerror="alert(1)"> & <script>alert(2)</script>`);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;script&gt;");
  });

  it("turns ANSI colours into classed spans, escaping what is inside them", () => {
    expect(ansiToHtml("\u001b[31m<fail>\u001b[0m ok")).toBe('<span class="ansi-red-fg">&lt;fail&gt;</span> ok');
  });

  it("makes no links out of URLs in a log", () => {
    expect(ansiToHtml("see https://example.com/x")).toBe("see https://example.com/x");
  });

  it("does not carry a colour left open into the next log", () => {
    ansiToHtml("\u001b[32mgreen without reset");
    expect(ansiToHtml("plain")).toBe("plain");
  });
});
