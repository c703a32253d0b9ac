// The console is a single-page app: nothing renders on a server, and every page needs a signed-in key.
import { redirect } from "@sveltejs/kit";
import { session } from "#lib/session.svelte.ts";
import { SIGN_IN_PATH, signInHref } from "#lib/signin.ts";
import type { LayoutLoad } from "./$types";

export const ssr = false;
export const prerender = false;

export const load: LayoutLoad = ({ url }) => {
  if (!session.signedIn && url.pathname !== SIGN_IN_PATH) redirect(307, signInHref(url));
};
