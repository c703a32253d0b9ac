import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack } from "../scripts/stack.ts";
const stack = await startStack({ quiet: true, persistTo: mkdtempSync(join(tmpdir(), "probe-")), runners: [{ name: "r", slots: 4 }] });
const call = async (method: string, path: string, body?: unknown, ct = "application/json") => {
  const res = await fetch(stack.url + path, { method, headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": ct }, body: typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};
try {
  const t = JSON.parse((await call("POST", "/api/v1/triggers", { name: "t", type: "queue", config: { queue: "user-behavior", key: "some-key" } })).text);
  const wf = JSON.parse((await call("POST", "/api/v1/workflows", { name: "w", policy: { triggerId: t.id }, nodes: [{ name: "n", type: "shell", code: "echo hi" }] })).text);
  await call("POST", `/api/v1/workflows/${wf.id}/publish`, {});
  for (let round = 0; round < 5; round++) {
    const started = Date.now();
    console.log(await call("POST", "/api/v1/queues/user-behavior/messages", { key: "some-key", value: `v${round}` }));
    for (;;) {
      const ev = JSON.parse((await call("GET", `/api/v1/triggers/${t.id}/events`)).text);
      if (ev.items.length > round) break;
      if (Date.now() - started > 30000) { console.log("STUCK round", round); throw new Error("stuck"); }
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log("round", round, "took", Date.now() - started);
  }
} finally {
  console.log(stack.output.join("").split("\n").filter((l) => !/GET \/api\/v1\/triggers|heartbeat|claim|getaddrinfo|onlookup/.test(l)).join("\n").slice(-5000));
  await stack.stop();
}
