// A local alert receiver for end-to-end tests: it answers 200, as a chat webhook would, and keeps what it got.
import { createServer, type IncomingHttpHeaders } from "node:http";
import { freePort } from "../../scripts/stack.ts";

export interface AlertReceiver {
  url: string;
  received: { headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

export async function startAlertReceiver(answer = "thanks from the receiver"): Promise<AlertReceiver> {
  const received: AlertReceiver["received"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain" }).end(answer);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
