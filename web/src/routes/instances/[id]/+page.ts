// One instance with its node runs, and the definition it ran (for the DAG): its version, or the draft for dev runs.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  try {
    const instance = await api.getInstance(params.id);
    const definition = await (instance.version === null
      ? api.getWorkflow(instance.workflowId).then((w) => w.definition)
      : api.getVersion(instance.workflowId, instance.version).then((v) => v.definition)
    ).catch(() => null); // a deleted workflow: the page still shows the nodes and logs
    return { instance, definition };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
