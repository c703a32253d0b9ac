// How a value is spelled as inert text: bash single quotes, Python str/bytes literals, comment text.

/** `'…'` holds anything but `'` and NUL literally; a `'` is written as `'\''`. */
export const bashSingleQuoted = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

const hex = (code: number, width: number) => code.toString(16).padStart(width, "0");
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Control characters and line separators as visible escapes, so a value cannot end a comment. */
export function escapeControls(value: string): string {
  return value.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`);
  });
}

/**
 * Only characters that no shell reading treats specially stay as they are (letters, digits,
 * non-ASCII, space and `_.,:/@%+=-`); the rest become `\xNN`. For values shown in bash comments.
 */
export function inertText(value: string): string {
  return value.replace(/[^A-Za-z0-9 _.,:/@%+=\-\u00a0-\u2027\u202a-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

export type PythonQuote = '"' | "'";

/**
 * A plain (non-raw, non-f) Python str literal. Both quote characters are escaped, whichever
 * encloses it, and every control character, so the value can never leave the literal or add a line.
 */
export function pythonStr(value: string, quote: PythonQuote = '"'): string {
  let body = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === '"' || ch === "'") body += `\\${ch}`;
    else if (NAMED[ch]) body += NAMED[ch];
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) body += `\\x${hex(code, 2)}`;
    else if (code === 0x2028 || code === 0x2029 || (code >= 0xd800 && code <= 0xdfff)) body += `\\u${hex(code, 4)}`;
    else body += ch;
  }
  return quote + body + quote;
}

/** A Python bytes literal of the value's UTF-8 bytes; only printable ASCII stays as itself. */
export function pythonBytes(value: string, quote: PythonQuote = '"'): string {
  let body = "";
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    if (ch === "\\" || ch === '"' || ch === "'") body += `\\${ch}`;
    else if (byte >= 0x20 && byte < 0x7f) body += ch;
    else body += `\\x${hex(byte, 2)}`;
  }
  return `b${quote}${body}${quote}`;
}
