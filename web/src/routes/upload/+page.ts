// The upload page needs the R2 triggers, to show what an upload starts.
import { api } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async () => ({
  triggers: await api.listTriggers().then((p) => p.items, () => []),
});
