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
  const t = JSON.parse((await call("POST", "/api/v1/triggers", { name: "t", type: "r2", config: { bucket: "uploads", keyPattern: "input/*.csv" } })).text);
  console.log("trigger", t.id);
  const wf = JSON.parse((await call("POST", "/api/v1/workflows", { name: "w", policy: { triggerId: t.id }, nodes: [{ name: "n", type: "shell", code: "echo hi" }] })).text);
  console.log(await call("POST", `/api/v1/workflows/${wf.id}/publish`, {}));
  console.log(await call("PUT", "/api/v1/buckets/uploads/objects/input/test_file_20260310.csv", "a,b\n", "text/csv"));
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const ev = await call("GET", `/api/v1/triggers/${t.id}/events`);
    const ins = await call("GET", `/api/v1/instances?workflowId=${wf.id}`);
    console.log(i, ev.text.slice(0, 300), ins.text.slice(0, 200));
    if (ev.text.includes("started")) break;
  }
} finally {
  console.log(stack.output.join("").slice(-4000));
  await stack.stop();
}
