// How a value is spelled as a Python literal: escaped, ASCII-only, inert wherever it lands.

export type PythonQuote = '"' | "'";

const hex = (code: number, width: number) => code.toString(16).padStart(width, "0");

/**
 * Characters that stay as themselves in an inserted literal. Everything else (quotes, backslash,
 * braces, `#`, `:`, `=`, `+`, control and non-ASCII characters) is escaped, so the literal holds no
 * character that could end a string, open an f-string field, start a comment, form a PEP 263
 * `coding:` line or mean something else under another source encoding; read by mistake as the
 * text of a raw string or an f-string, it is still inert text.
 */
const PLAIN = /^[A-Za-z0-9 _.,/-]$/;

/** A plain (non-raw, non-f) Python str literal of the value, pure ASCII. */
export function pythonStr(value: string, quote: PythonQuote = '"'): string {
  let body = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (PLAIN.test(ch)) body += ch;
    else if (code < 0x100) body += `\\x${hex(code, 2)}`;
    else if (code < 0x10000) body += `\\u${hex(code, 4)}`;
    else body += `\\U${hex(code, 8)}`;
  }
  return quote + body + quote;
}

/** A Python bytes literal of the value's UTF-8 bytes, escaped like `pythonStr`. */
export function pythonBytes(value: string, quote: PythonQuote = '"'): string {
  let body = "";
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    body += PLAIN.test(ch) ? ch : `\\x${hex(byte, 2)}`;
  }
  return `b${quote}${body}${quote}`;
}

/** The value as an expression of character codes, with no quote or backslash: `str().join(map(chr, (97, 98,)))`. */
export function pythonCharCodes(value: string, bytes: boolean): string {
  if (bytes) return value ? `bytes((${[...new TextEncoder().encode(value)].join(", ")},))` : "bytes()";
  const codes = [...value].map((ch) => ch.codePointAt(0)!);
  return codes.length ? `str().join(map(chr, (${codes.join(", ")},)))` : "str()";
}
