// The studio for one workflow (or a new one at /workflows/new), with the triggers it may select.
import type { Trigger } from "#lib/api/types.ts";
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  try {
    const [workflow, triggers] = await Promise.all([
      params.id === "new" ? Promise.resolve(null) : api.getWorkflow(params.id),
      api.listTriggers().then((page) => page.items as Trigger[]).catch(() => null),
    ]);
    return { workflow, triggers };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
