// The console's API client, wired to the session, and how a failed page load is shown.
import { error, redirect } from "@sveltejs/kit";
import { ApiError, createApi } from "./api.ts";
import { session } from "./session.svelte.ts";
import { signInHref } from "./signin.ts";

/** Every call carries the session's key; a 401 ends the session, and the layout then asks for a key. */
export const api = createApi({
  getKey: () => session.key,
  onUnauthorized: () => session.signOut(),
});

/** For a page's `load`: a 401 goes to sign-in, any other API error becomes the error page. */
export function loadFailed(cause: unknown, url: URL): never {
  if (cause instanceof ApiError) {
    if (cause.status === 401) redirect(307, signInHref(url));
    error(cause.status >= 400 && cause.status <= 599 ? cause.status : 503, cause.message);
  }
  throw cause;
}

/** How many rows a list page asks for at a time. */
export const PAGE_SIZE = 50;
