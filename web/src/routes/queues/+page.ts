// The send page needs the queue triggers, to show what a message starts.
import { api } from "#lib/client.ts";
import type { PageLoad } from "./$types";

export const load: PageLoad = async () => ({
  triggers: await api.listTriggers().then((p) => p.items, () => []),
});
