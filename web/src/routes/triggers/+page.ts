// Every trigger of the workspace.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  try {
    return { triggers: (await api.listTriggers()).items };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
