// Instances, filtered by the query string; the workflows feed the filter's choices.
import { api, loadFailed, PAGE_SIZE } from "#lib/client.ts";
import { filterFromSearch, serverFilter } from "#lib/instance-filter.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  const filter = filterFromSearch(url.searchParams);
  try {
    const [instances, workflows] = await Promise.all([
      api.listInstances({ ...serverFilter(filter), limit: PAGE_SIZE }),
      // Only names for the filter; the list still works without them.
      api.listWorkflows({ limit: 200 }).catch(() => null),
    ]);
    return { filter, instances, workflows: workflows?.items ?? [] };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
