// Log text with ANSI colours as safe HTML: every character of the log is escaped, only colour spans are added.
import { AnsiUp } from "ansi_up";

/** HTML for a log: `<`, `&` and quotes escaped; ANSI SGR colour codes become `<span class="ansi-…">`; links stay text. */
export function ansiToHtml(text: string): string {
  // A fresh converter per render: ansi_up keeps state between calls (a colour left open), and a log is rendered whole.
  const converter = new AnsiUp();
  converter.escape_html = true;
  // Classes (ansi-red-fg, …) rather than inline colours, so the light and dark themes pick readable shades.
  converter.use_classes = true;
  // No link detection: a log must not be able to make a clickable link.
  converter.url_allowlist = {};
  return converter.ansi_to_html(text);
}
