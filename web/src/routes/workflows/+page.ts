// The first page of workflows; more are fetched on request.
import { api, loadFailed, PAGE_SIZE } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ url }) => {
  try {
    return await api.listWorkflows({ limit: PAGE_SIZE });
  } catch (cause) {
    loadFailed(cause, url);
  }
};
