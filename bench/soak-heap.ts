// The Worker isolate's JavaScript heap in use, read over wrangler's devtools port: what Sluice's own code holds
// (live objects and garbage not yet collected), apart from what workerd and wrangler's proxy hold natively.
// Wrangler's devtools proxy does not answer HeapProfiler.collectGarbage, so the figure is taken as it stands.

const TIMEOUT_MS = 20_000;

/** One devtools command on an open socket: its result, or an error after TIMEOUT_MS. */
function command<T>(ws: WebSocket, id: number, method: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const onMessage = (event: MessageEvent) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: T; error?: { message: string } };
      if (message.id !== id) return;
      clearTimeout(timer);
      ws.removeEventListener("message", onMessage);
      if (message.error) reject(new Error(`${method}: ${message.error.message}`));
      else resolve(message.result as T);
    };
    ws.addEventListener("message", onMessage);
    ws.send(JSON.stringify({ id, method }));
  });
}

/** MiB of the Worker's heap in use; null when devtools did not answer. */
export async function workerHeapMiB(inspectorPort: number): Promise<number | null> {
  let ws: WebSocket | null = null;
  try {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) return null;
    // Wrangler's devtools proxy takes only local origins; Node's WebSocket (undici) sends headers given here.
    ws = new WebSocket(url, { headers: { origin: "http://localhost" } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      ws!.addEventListener("open", () => resolve(), { once: true });
      ws!.addEventListener("error", () => reject(new Error("devtools socket failed")), { once: true });
    });
    const usage = await command<{ usedSize: number }>(ws, 1, "Runtime.getHeapUsage");
    return Math.round((usage.usedSize / 2 ** 20) * 10) / 10;
  } catch (err) {
    if (process.env.SOAK_DEBUG) console.error(err);
    return null;
  } finally {
    ws?.close();
  }
}
