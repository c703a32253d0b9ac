// The first page of workflows (each with its trigger id and last run) and the triggers, for their names.
import { api, loadFailed, PAGE_SIZE } from "#lib/client.ts";
import type { Trigger } from "#lib/api/types.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  try {
    const [workflows, triggers] = await Promise.all([
      api.listWorkflows({ limit: PAGE_SIZE }),
      api.listTriggers().then((page) => page.items as Trigger[]).catch(() => null),
    ]);
    return { workflows, triggers, query: url.searchParams.get("q") ?? "" };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
