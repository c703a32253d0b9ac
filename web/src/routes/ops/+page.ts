// The operation center: published workflows (what prod runs) and the latest instances.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  try {
    const [workflows, recent] = await Promise.all([api.listWorkflows({ limit: 200 }), api.listInstances({ limit: 100 })]);
    return { published: workflows.items.filter((w) => w.publishedVersion !== null), recent: recent.items };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
