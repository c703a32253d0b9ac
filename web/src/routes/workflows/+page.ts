// The first page of workflows with recent runs (for "last run") and triggers (for names); details follow lazily.
import { api, loadFailed, PAGE_SIZE } from "#lib/client.ts";
import type { Trigger } from "#lib/api-types.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  try {
    const [workflows, recent, triggers] = await Promise.all([
      api.listWorkflows({ limit: PAGE_SIZE }),
      api.listInstances({ limit: 200 }).catch(() => null),
      api.listTriggers().then((page) => page.items as Trigger[]).catch(() => null),
    ]);
    return { workflows, recent: recent?.items ?? [], triggers, query: url.searchParams.get("q") ?? "" };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
