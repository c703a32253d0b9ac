// One workflow with its draft definition.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  try {
    return { workflow: await api.getWorkflow(params.id) };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
