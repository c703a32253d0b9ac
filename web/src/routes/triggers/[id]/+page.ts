// One trigger (or a new one at /triggers/new) with the first page of its event log.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  if (params.id === "new") return { trigger: null, events: null, type: url.searchParams.get("type") };
  try {
    const [trigger, events] = await Promise.all([api.getTrigger(params.id), api.listTriggerEvents(params.id, { limit: 50 })]);
    return { trigger, events, type: null };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
