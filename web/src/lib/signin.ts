// Where sign-in sends a person back to, without becoming an open redirect.

export const SIGN_IN_PATH = "/signin";

/** The sign-in page, remembering the page that needed a key. */
export function signInHref(from: Pick<URL, "pathname" | "search" | "hash">): string {
  const next = `${from.pathname}${from.search}${from.hash}`;
  if (from.pathname === SIGN_IN_PATH || next === "/") return SIGN_IN_PATH;
  return `${SIGN_IN_PATH}?next=${encodeURIComponent(next)}`;
}

/** The `next` page after signing in: a path on this site, or the workflows page. */
export function safeNext(next: string | null | undefined, fallback = "/workflows"): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return fallback;
  if (next === SIGN_IN_PATH || next.startsWith(`${SIGN_IN_PATH}?`)) return fallback;
  return next;
}
