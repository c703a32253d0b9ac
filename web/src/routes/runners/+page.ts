// Runners of a resource group (?group=, default "default").
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  const group = url.searchParams.get("group") || "default";
  try {
    return { group, runners: (await api.listRunners(group)).items, failure: null };
  } catch (cause) {
    if (cause instanceof Error && "status" in cause && (cause as { status: number }).status === 401) loadFailed(cause, url);
    return { group, runners: [], failure: cause };
  }
};
