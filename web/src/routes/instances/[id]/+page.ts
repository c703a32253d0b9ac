// One instance with its node runs; the page keeps it fresh while it runs.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  try {
    return { instance: await api.getInstance(params.id) };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
