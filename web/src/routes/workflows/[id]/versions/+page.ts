// A workflow's versions, and (with ?from=&to=) the comparison of two of them.
import { api, loadFailed } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async ({ params, url }) => {
  const from = Number(url.searchParams.get("from"));
  const to = Number(url.searchParams.get("to"));
  const comparing = Number.isInteger(from) && Number.isInteger(to) && from > 0 && to > 0;
  try {
    const [workflow, versions, comparison, before, after] = await Promise.all([
      api.getWorkflow(params.id),
      api.listVersions(params.id),
      comparing ? api.compareVersions(params.id, from, to) : null,
      comparing ? api.getVersion(params.id, from).then((v) => v.definition) : null,
      comparing ? api.getVersion(params.id, to).then((v) => v.definition) : null,
    ]);
    return { workflow, versions: versions.items, comparison, before, after, from: comparing ? from : null, to: comparing ? to : null };
  } catch (cause) {
    loadFailed(cause, url);
  }
};
