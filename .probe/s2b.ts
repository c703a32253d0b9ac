import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack } from "../scripts/stack.ts";
const stack = await startStack({ quiet: true, persistTo: mkdtempSync(join(tmpdir(), "probe-")), runners: [{ name: "r", slots: 4 }] });
const call = async (method: string, path: string, body?: unknown, ct = "application/json") => {
  const res = await fetch(stack.url + path, { method, headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": ct }, body: typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};
const PRINT_KEY = [
  "# When a workflow is triggered, the event arrives as the built-in variable workflow.triggerMessage.",
  'echo "========= Start Processing R2 File ========="',
  'message="${workflow.triggerMessage}"',
  'echo "Raw Value: ${message}"',
  "",
  'FILE_PATH="${workflow.triggerMessage.data.object.key}"',
  'echo "A new file has arrived: ${FILE_PATH}"',
].join("\n");
try {
  const t = JSON.parse((await call("POST", "/api/v1/triggers", { name: "t", type: "r2", config: { bucket: "uploads", keyPattern: "input/*.csv" } })).text);
  const wf = JSON.parse((await call("POST", "/api/v1/workflows", { name: "w", policy: { triggerId: t.id, maxParallel: 100 }, nodes: [{ name: "print_key", type: "shell", code: PRINT_KEY }] })).text);
  console.log(await call("POST", `/api/v1/workflows/${wf.id}/publish`, {}));
  console.log(await call("PUT", "/api/v1/buckets/uploads/objects/input/test_file_20260310.csv", "order_id,amount\n1,9.99\n", "text/csv"));
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const ins = await call("GET", `/api/v1/instances?workflowId=${wf.id}`);
    console.log(i, ins.text.slice(0, 400));
  }
  const list = JSON.parse((await call("GET", `/api/v1/instances?workflowId=${wf.id}`)).text);
  console.log(await call("GET", `/api/v1/instances/${list.items[0].id}`));
  console.log(await call("GET", `/api/v1/instances/${list.items[0].id}/nodes/print_key/log`));
} finally {
  console.log(stack.output.join("").slice(-3000));
  await stack.stop();
}
